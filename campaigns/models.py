import uuid
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member, Message, Shop, ShopScopedQuerySet


class CampaignQuerySet(ShopScopedQuerySet):
    def running(self, shop_id: int, kind: str, now):
        """A shop's campaigns of one kind that are on at ``now``: active, started and not ended."""
        return self.filter(
            models.Q(starts_at__isnull=True) | models.Q(starts_at__lte=now),
            models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=now),
            shop_id=shop_id,
            kind=kind,
            is_active=True,
        )


class Campaign(models.Model):
    """Something a shop sets up once and Celery or the counter runs: a gift, a multiplier, a message."""

    class Kind(models.TextChoices):
        WELCOME = "welcome", _("Welcome bonus")
        BIRTHDAY = "birthday", _("Birthday gift")
        BOOST = "boost", _("Member day or happy hour")
        WINBACK = "winback", _("Win-back")
        REFERRAL = "referral", _("Referral")
        ANNOUNCEMENT = "announcement", _("Announcement")

    class Audience(models.TextChoices):
        ALL = "all", _("All members")
        TIER = "tier", _("Members of one tier")
        JOINED = "joined", _("Members who joined between two dates")
        SEEN = "seen", _("Members last seen between two dates")

    class Gift(models.TextChoices):
        NONE = "none", _("No gift")
        STAMPS = "stamps", _("Stamps")
        POINTS = "points", _("Points")
        VOUCHER = "voucher", _("A voucher")

    class Multiplies(models.TextChoices):
        BOTH = "both", _("Stamps and points")
        STAMPS = "stamps", _("Stamps only")
        POINTS = "points", _("Points only")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="campaigns")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=80)
    is_active = models.BooleanField(_("active"), default=True)
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True, help_text=_("Empty to start now."))
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True, help_text=_("Empty to run until you stop it."))

    audience = models.CharField(_("audience"), max_length=8, choices=Audience.choices, default=Audience.ALL)
    audience_tier = models.ForeignKey(
        "rewards.Tier", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("tier")
    )
    audience_from = models.DateField(_("from"), null=True, blank=True)
    audience_to = models.DateField(_("until"), null=True, blank=True)
    holdout_percent = models.PositiveSmallIntegerField(
        _("held back for comparison (%)"),
        default=0,
        validators=[MaxValueValidator(50)],
        help_text=_("A share of the audience that gets nothing, so the results show what the campaign changed."),
    )

    gift = models.CharField(_("gift"), max_length=8, choices=Gift.choices, default=Gift.NONE)
    gift_stamps = models.PositiveSmallIntegerField(
        _("stamps"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    gift_program = models.ForeignKey(
        "rewards.StampProgram",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("on card"),
    )
    gift_points = models.PositiveIntegerField(
        _("points"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100000)]
    )
    voucher_title = models.CharField(_("voucher"), max_length=80, blank=True, help_text=_("e.g. A free slice of cake"))
    voucher_valid_days = models.PositiveSmallIntegerField(
        _("voucher valid for (days)"), default=14, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )

    # Member day and happy hour.
    multiplier = models.DecimalField(
        _("multiplier"),
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("1.10")), MaxValueValidator(Decimal("10.00"))],
        help_text=_("2 doubles the stamps or points of a visit."),
    )
    multiplies = models.CharField(_("applies to"), max_length=8, choices=Multiplies.choices, default=Multiplies.BOTH)
    weekdays = models.CharField(_("on weekdays"), max_length=7, blank=True, help_text=_("Empty for every day."))
    on_date = models.DateField(_("only on"), null=True, blank=True, help_text=_("Empty for every matching day."))
    hours_from = models.TimeField(_("from"), null=True, blank=True)
    hours_to = models.TimeField(_("until"), null=True, blank=True, help_text=_("Empty hours for the whole day."))

    days_away = models.PositiveSmallIntegerField(
        _("days without a visit"), null=True, blank=True, validators=[MinValueValidator(7), MaxValueValidator(730)]
    )
    days_before = models.PositiveSmallIntegerField(
        _("sent this many days before the birthday"), default=7, validators=[MaxValueValidator(60)]
    )
    referral_limit = models.PositiveSmallIntegerField(
        _("most rewarded friends per member"), default=10, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )

    subject = models.CharField(_("subject"), max_length=120, blank=True)
    body = models.TextField(_("message"), max_length=2000, blank=True)
    send_at = models.DateTimeField(_("send at"), null=True, blank=True, help_text=_("Empty to send it yourself."))
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    def is_running(self, now) -> bool:
        return (
            self.is_active
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )

    @property
    def sends_messages(self) -> bool:
        return self.kind in (self.Kind.BIRTHDAY, self.Kind.WINBACK, self.Kind.REFERRAL, self.Kind.ANNOUNCEMENT)

    @property
    def has_holdout(self) -> bool:
        # A multiplier is applied at the counter and a referral is a promise to a
        # member: neither can be quietly withheld.
        return self.kind not in (self.Kind.BOOST, self.Kind.REFERRAL)


class Reach(models.Model):
    """A campaign reached a member (or held them back) for one occasion.

    The unique constraint is the campaign's memory: a birthday once a year, a
    win-back once per lapse, a referral bonus once per friend. Results count
    these rows."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="reaches")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="reaches")
    occasion = models.CharField(max_length=60)
    held_out = models.BooleanField(default=False)
    voucher = models.OneToOneField(
        "rewards.Voucher", on_delete=models.SET_NULL, null=True, blank=True, related_name="reach"
    )
    message = models.OneToOneField(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="reach")
    stamps = models.IntegerField(default=0)
    points = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "member", "occasion"], name="one_reach_per_occasion")
        ]
        indexes = [models.Index(fields=["campaign", "held_out", "created_at"], name="reach_results")]

    def __str__(self):
        return f"{self.campaign} -> {self.member} ({self.occasion})"


class ReferralRefusal(models.Model):
    """A referral that paid nobody, and why: the owner can see who tried to refer themselves."""

    class Reason(models.TextChoices):
        SAME_PERSON = "same_person", _("The friend is the referrer (same account, e-mail or phone)")
        JOINED_BEFORE = "joined_before", _("The friend joined before the referrer or before the campaign")
        LIMIT = "limit", _("The referrer reached the campaign's limit")
        OTHER_SHOP = "other_shop", _("The referrer belongs to another shop")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="referral_refusals")
    friend = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    referrer = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["campaign", "friend"], name="one_refusal_per_friend")]

    def __str__(self):
        return f"{self.friend} referred by {self.referrer}: {self.reason}"


class CampaignFigures(models.Model):
    """What a campaign did, as ``services.results`` last counted it. Counting means reading every
    reach (a welcome campaign of a big shop has one per member), so the worker keeps these figures
    fresh and the owner's pages read one row."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="figures")
    figures = models.JSONField()
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "campaign figures"

    def __str__(self):
        return f"{self.campaign} at {self.computed_at:%Y-%m-%d %H:%M}"
