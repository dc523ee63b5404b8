import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member, Message, Shop, ShopScopedQuerySet


class Segment(models.TextChoices):
    """Where a member stands by how recently and how often they come (recency and frequency); the
    rules are in ``insights.segments`` and on the customers page."""

    REGULAR = "regular", _("Regulars")
    NEW = "new", _("New")
    OCCASIONAL = "occasional", _("Occasional")
    AT_RISK = "at_risk", _("At risk")
    LAPSED = "lapsed", _("Lapsed")


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
        ANNIVERSARY = "anniversary", _("Anniversary of joining")

    class Audience(models.TextChoices):
        ALL = "all", _("All members")
        TIER = "tier", _("Members of one tier")
        JOINED = "joined", _("Members who joined between two dates")
        SEEN = "seen", _("Members last seen between two dates")
        SEGMENT = "segment", _("A group of customers (regulars, at risk ...)")

    class Gift(models.TextChoices):
        NONE = "none", _("No gift")
        STAMPS = "stamps", _("Stamps")
        POINTS = "points", _("Points")
        VOUCHER = "voucher", _("A voucher")
        PLAN_TRIAL = "plan_trial", _("A free trial of a membership plan")

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
    audience_segment = models.CharField(_("customers"), max_length=12, choices=Segment.choices, blank=True)
    audience_from = models.DateField(_("from"), null=True, blank=True)
    audience_to = models.DateField(_("until"), null=True, blank=True)
    holdout_percent = models.PositiveSmallIntegerField(
        _("held back for comparison (%)"),
        default=0,
        validators=[MaxValueValidator(50)],
        help_text=_("A share of the audience that gets nothing, so the results show what the campaign changed."),
    )

    gift = models.CharField(_("gift"), max_length=12, choices=Gift.choices, default=Gift.NONE)
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
    # A birthday voucher for "their usual": named after what the member has most often (a shop with
    # a menu: rewards.services.menu), else as titled.
    voucher_usual = models.BooleanField(
        _("make it their usual"), default=False,
        help_text=_("With a menu at the counter: the voucher names what the member usually has (Birthday drink: "
                    "Oat latte). Members with no usual yet get it as titled."),
    )  # fmt: skip
    # A free trial of a higher plan (announcements only): its benefits for N days, nothing paid.
    gift_plan = models.ForeignKey(
        "rewards.MembershipPlan",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("plan to try"),
        help_text=_("A membership for a period that is on sale."),
    )
    gift_plan_days = models.PositiveSmallIntegerField(
        _("trial for (days)"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(365)]
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
        return self.kind in (
            self.Kind.BIRTHDAY, self.Kind.WINBACK, self.Kind.REFERRAL, self.Kind.ANNOUNCEMENT, self.Kind.ANNIVERSARY,
        )  # fmt: skip

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
    # The free trial of a plan the campaign gave; its PLAN_TRIAL ledger row names the same membership.
    trial = models.OneToOneField(
        "rewards.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="reach"
    )
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


class ShopDay(models.Model):
    """One day of a shop in its own time zone, as the roll-up task last counted it from the ledger,
    the members, the vouchers and the purchases. The insights pages add these rows up instead of
    reading the ledger, so they cost the same for a shop of a thousand members and of a million.
    Every figure can be counted again for any day (``insights.rollup.refresh``)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    visits = models.PositiveIntegerField(default=0)
    visitors = models.PositiveIntegerField(default=0)
    new_members = models.PositiveIntegerField(default=0)
    # Members who joined this day and came back on a later day within 30 days.
    returned = models.PositiveIntegerField(default=0)
    stamps = models.PositiveIntegerField(default=0)
    vouchers_issued = models.PositiveIntegerField(default=0)
    vouchers_redeemed = models.PositiveIntegerField(default=0)
    vouchers_expired = models.PositiveIntegerField(default=0)
    points_earned = models.PositiveIntegerField(default=0)
    points_spent = models.PositiveIntegerField(default=0)
    points_expired = models.PositiveIntegerField(default=0)
    # Every point row of the day added up (voids and refunds too): the running sum of these is the
    # points members hold, what the shop owes.
    points_net = models.IntegerField(default=0)
    spending = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    bills = models.PositiveIntegerField(default=0)
    # Members with a visit in the 7, 30 and 90 days up to the end of this day.
    active_7 = models.PositiveIntegerField(default=0)
    active_30 = models.PositiveIntegerField(default=0)
    active_90 = models.PositiveIntegerField(default=0)
    # Visits by hour of the day (24 numbers), for the weekday x hour map.
    hours = models.JSONField(default=list)
    # Cards filled this day, and the days they took from their first stamp (or the previous fill).
    cards_filled = models.PositiveIntegerField(default=0)
    fill_days = models.PositiveIntegerField(default=0)
    # Vouchers of full cards issued this day, and how many of them were redeemed since.
    card_vouchers = models.PositiveIntegerField(default=0)
    card_vouchers_redeemed = models.PositiveIntegerField(default=0)
    # Network addresses (keyed hashes, Member.joined_from) that several members joined from this day,
    # with how many: {address: members}, for the owner's flag (insights.rollup.SAME_SOURCE_JOINS).
    join_sources = models.JSONField(default=dict)
    # Moves between tiers this day: {"<from tier id>><to tier id>": members}, "" for no tier.
    tier_moves = models.JSONField(default=dict)
    # Kept for the day the nightly run counted them (the latest one is what the pages show): members
    # per segment, per visit frequency over a year, and per tier.
    segments = models.JSONField(default=dict)
    frequency = models.JSONField(default=dict)
    tiers = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day"], name="shopday_unique")]

    def __str__(self):
        return f"{self.shop} {self.day}"


class StaffDay(models.Model):
    """What one member of staff did on one day: the staff and fraud pages add these up."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="staff_days")
    day = models.DateField()
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    visits = models.PositiveIntegerField(default=0)
    stamps = models.PositiveIntegerField(default=0)
    overrides = models.PositiveIntegerField(default=0)
    undos = models.PositiveIntegerField(default=0)
    redemptions = models.PositiveIntegerField(default=0)
    # Stamps given by hour of the day (24 numbers): stamps at hours the shop is usually closed.
    hours = models.JSONField(default=list)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day", "staff"], name="staffday_unique")]

    def __str__(self):
        return f"{self.shop} {self.day} {self.staff_id}"


class RewardDay(models.Model):
    """How often a catalogue reward was redeemed on one day."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    reward = models.ForeignKey("rewards.CatalogueReward", on_delete=models.CASCADE, related_name="+")
    redeemed = models.PositiveIntegerField(default=0)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "day", "reward"], name="rewardday_unique")]

    def __str__(self):
        return f"{self.day} {self.reward_id}: {self.redeemed}"


class CohortMonth(models.Model):
    """Of the members who joined in ``cohort`` (a month, on its first day), how many visited in
    ``month``: the retention table."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    cohort = models.DateField()
    month = models.DateField()
    active = models.PositiveIntegerField(default=0)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "cohort", "month"], name="cohortmonth_unique")]

    def __str__(self):
        return f"{self.cohort:%Y-%m} in {self.month:%Y-%m}: {self.active}"


class MemberActivity(models.Model):
    """A member's recency, frequency and spending as the nightly run last counted them, and the
    segment they put the member in: the customers page lists members by it, and a campaign can be
    for one segment."""

    member = models.OneToOneField(Member, on_delete=models.CASCADE, primary_key=True, related_name="activity")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    last_visit = models.DateTimeField(null=True, blank=True)
    visits_90 = models.PositiveIntegerField(default=0)
    visits_365 = models.PositiveIntegerField(default=0)
    spend_365 = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    segment = models.CharField(max_length=12, choices=Segment.choices)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "member activity"
        # A segment's list, latest visitors first, a page at a time: read in the index's order, never
        # sorted (the member breaks ties, so the order is total).
        indexes = [models.Index(fields=["shop", "segment", "-last_visit", "-member"], name="activity_segment_latest")]

    def __str__(self):
        return f"{self.member_id}: {self.segment}"


class FeedbackSetup(models.Model):
    """Whether a shop asks its members one question after a visit, on their card: off until the
    owner turns it on. Read through ``members.config`` (``feedback.setup``), so the card costs no
    query for a shop that does not ask."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="feedback_setup")
    is_active = models.BooleanField(_("ask for feedback after a visit"), default=False)
    question = models.CharField(
        _("question"), max_length=120, blank=True, help_text=_('Empty for "How was your visit today?"')
    )
    flag_at = models.PositiveSmallIntegerField(
        _("flag ratings of at most"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text=_("Ratings this low or lower are at the top of the feedback page, for a reply."),
    )

    class Meta:
        verbose_name = "feedback setup"

    def __str__(self):
        return f"{self.shop}: {'on' if self.is_active else 'off'}"


class Feedback(models.Model):
    """A member's one answer after a visit: a rating of 1 to 5 and an optional comment, at most one
    a day (the shop's day) and one per visit. ``staff`` served the visit, for the page per person.
    An erased member's comment and the reply to it are emptied; the rating stays in the figures."""

    COMMENT_MAX = 500
    REPLY_MAX = 2000

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="feedback")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="feedback")
    visit = models.ForeignKey("rewards.LedgerEntry", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rating = models.PositiveSmallIntegerField(_("rating"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(_("comment"), max_length=COMMENT_MAX, blank=True)
    # The shop's local day it was given on: one a day per member.
    day = models.DateField()
    flagged = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    reply = models.TextField(_("reply"), max_length=REPLY_MAX, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "feedback"
        constraints = [
            # A double tap, a resent form or two tabs make one answer, not two.
            models.UniqueConstraint(fields=["member", "day"], name="one_feedback_per_member_day"),
            models.UniqueConstraint(
                fields=["visit"], condition=models.Q(visit__isnull=False), name="one_feedback_per_visit"
            ),
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="feedback_rating_1_to_5"),
        ]
        indexes = [
            # The owner's page: the weeks, the people and the latest, all by the shop's days.
            models.Index(fields=["shop", "day"], name="feedback_shop_day"),
            models.Index(fields=["shop", "-created_at"], name="feedback_shop_latest"),
        ]

    def __str__(self):
        return f"{self.member_id} {self.day}: {self.rating}"


class EventSeries(models.Model):
    """The dates of a recurring event (a monthly cupping): a rule and the first date. Each date is an
    ``Event`` of its own, made from the details of the one the owner repeated (``events.services.
    event_repeat``), so one date can be changed or cancelled alone; later dates count from the first
    date, so the 31st comes back after a short month."""

    class Rule(models.TextChoices):
        WEEKLY = "weekly", _("Every week on the same weekday")
        MONTHLY_DAY = "monthly_day", _("Every month on the same day (the last day in shorter months)")
        MONTHLY_WEEKDAY = "monthly_weekday", _("Every month on the same weekday (e.g. the second Tuesday)")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="event_series")
    rule = models.CharField(_("repeats"), max_length=16, choices=Rule.choices)
    # The first date in the shop's calendar: occurrence n is the rule's n-th date from it.
    first_day = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "event series"

    def __str__(self):
        return f"{self.get_rule_display()} from {self.first_day}"


class Event(models.Model):
    """A members-only event at a shop: a time in the shop's time zone, a place, seats, who it is for
    and an optional reward for coming. Members answer on their card (``Rsvp``); staff check them in
    by their QR code. Saving one changes the shop's settings key (``members.config.watch``): the card
    and the counter hold the shop's upcoming events."""

    CAPACITY_MAX = 10_000

    class Audience(models.TextChoices):
        ALL = Campaign.Audience.ALL.value, Campaign.Audience.ALL.label
        TIER = "tier", _("Members of a tier and the tiers above it")
        PLAN = "plan", _("Members holding a membership plan")
        SEGMENT = Campaign.Audience.SEGMENT.value, Campaign.Audience.SEGMENT.label

    class Gift(models.TextChoices):
        NONE = Campaign.Gift.NONE.value, Campaign.Gift.NONE.label
        STAMPS = Campaign.Gift.STAMPS.value, Campaign.Gift.STAMPS.label
        POINTS = Campaign.Gift.POINTS.value, Campaign.Gift.POINTS.label
        VOUCHER = Campaign.Gift.VOUCHER.value, Campaign.Gift.VOUCHER.label

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CANCELLED = "cancelled", _("Cancelled")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="events")
    series = models.ForeignKey(EventSeries, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    occurrence = models.PositiveSmallIntegerField(default=0, editable=False)
    title = models.CharField(_("title"), max_length=80)
    description = models.TextField(_("description"), max_length=2000, blank=True)
    place = models.CharField(_("place"), max_length=120, blank=True, help_text=_("Empty for the shop itself."))
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    capacity = models.PositiveIntegerField(
        _("seats"), validators=[MinValueValidator(1), MaxValueValidator(CAPACITY_MAX)],
        help_text=_("When every seat is taken, a yes goes on the waiting list."),
    )  # fmt: skip

    audience = models.CharField(_("for"), max_length=8, choices=Audience.choices, default=Audience.ALL)
    audience_tier = models.ForeignKey(
        "rewards.Tier", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("tier")
    )
    audience_plan = models.ForeignKey(
        "rewards.MembershipPlan", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("plan"),
    )  # fmt: skip
    audience_segment = models.CharField(_("customers"), max_length=12, choices=Segment.choices, blank=True)

    # What coming earns, given once at check-in: the fields of a campaign's gift (rewards.services.gifts).
    gift = models.CharField(_("reward for coming"), max_length=12, choices=Gift.choices, default=Gift.NONE)
    gift_stamps = models.PositiveSmallIntegerField(
        _("stamps"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    gift_program = models.ForeignKey(
        "rewards.StampProgram", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("on card"),
    )  # fmt: skip
    gift_points = models.PositiveIntegerField(
        _("points"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100000)]
    )
    voucher_title = models.CharField(_("voucher"), max_length=80, blank=True, help_text=_("e.g. A free slice of cake"))
    voucher_valid_days = models.PositiveSmallIntegerField(
        _("voucher valid for (days)"), default=14, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the owner sent the invitations: from then on the card shows the event to its audience.
    invited_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the worker had queued every invitation (the beat sends them if the task was lost).
    invitations_done_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["series", "occurrence"], condition=models.Q(series__isnull=False), name="one_event_per_date"
            ),
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="event_ends_after"),
            models.CheckConstraint(condition=models.Q(capacity__gte=1), name="event_has_a_seat"),
        ]
        indexes = [
            models.Index(fields=["shop", "starts_at"], name="event_shop_starts"),
            # The worker's rounds over every shop: reminders and lost invitations of coming events.
            models.Index(fields=["status", "starts_at"], name="event_status_starts"),
        ]

    def __str__(self):
        return f"{self.title} ({self.starts_at:%Y-%m-%d %H:%M})"

    @property
    def name(self) -> str:
        """What a gift's ledger row and voucher are named after (rewards.services.gifts reads it)."""
        return self.title

    @property
    def is_cancelled(self) -> bool:
        return self.status == self.Status.CANCELLED


class Rsvp(models.Model):
    """A member's answer to an event, and whether they came. The rows of one event change only under
    its lock (``events.services``): the last seat goes to one member, and the waiting list moves up
    in the order people joined it (``position``)."""

    class Status(models.TextChoices):
        YES = "yes", _("Coming")
        WAITING = "waiting", _("On the waiting list")
        NO = "no", _("Not coming")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rsvps")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="rsvps")
    status = models.CharField(max_length=8, choices=Status.choices)
    position = models.PositiveIntegerField(null=True, blank=True)
    responded_at = models.DateTimeField(default=timezone.now)
    # When a seat came free for them on the waiting list: they are told once (events.services.event_tell).
    moved_up_at = models.DateTimeField(null=True, blank=True)
    # Checked in without a yes (no answer, the waiting list, a no): staff confirmed them at the door.
    walk_in = models.BooleanField(default=False)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The reward for coming, given once at check-in (its ledger rows name the event).
    stamps = models.IntegerField(default=0)
    points = models.IntegerField(default=0)
    voucher = models.OneToOneField(
        "rewards.Voucher", on_delete=models.SET_NULL, null=True, blank=True, related_name="event_rsvp"
    )

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "RSVP"
        constraints = [models.UniqueConstraint(fields=["event", "member"], name="one_rsvp_per_member")]
        indexes = [models.Index(fields=["event", "status", "position"], name="rsvp_event_status")]

    def __str__(self):
        return f"{self.member_id} -> {self.event_id}: {self.status}"
