import contextvars
import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.currency import MoneyValidator
from members.models import Member, Shop, ShopScopedQuerySet, random_code


class StampProgram(models.Model):
    """A stamp card: N stamps earn a reward. Changing it never rewrites stamps already earned."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="stamp_programs")
    name = models.CharField(_("name"), max_length=60)
    stamps_needed = models.PositiveSmallIntegerField(
        _("stamps for a reward"), default=10, validators=[MinValueValidator(2), MaxValueValidator(50)]
    )
    reward = models.CharField(_("reward"), max_length=80, help_text=_("What a full card gives, e.g. a free drink."))
    max_stamps_per_visit = models.PositiveSmallIntegerField(
        _("most stamps per visit"), default=3, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    min_minutes_between_visits = models.PositiveIntegerField(
        _("least minutes between two visits"),
        default=30,
        validators=[MaxValueValidator(7 * 24 * 60)],
        help_text=_("A second visit sooner than this needs a manager's override."),
    )
    voucher_valid_days = models.PositiveIntegerField(
        _("voucher valid for (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("Leave empty for vouchers that never expire."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.name


class MemberCard(models.Model):
    """A member's progress on one stamp program. ``stamps`` is a cache of the ledger."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="cards")
    program = models.ForeignKey(StampProgram, on_delete=models.CASCADE, related_name="cards")
    stamps = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "program"], name="one_card_per_member_and_program"),
            models.CheckConstraint(condition=Q(stamps__gte=0), name="card_stamps_not_negative"),
        ]

    def __str__(self):
        return f"{self.member} on {self.program}: {self.stamps}"


class Voucher(models.Model):
    class Status(models.TextChoices):
        ISSUED = "issued", _("Ready to use")
        REDEEMED = "redeemed", _("Redeemed")
        EXPIRED = "expired", _("Expired")
        VOIDED = "voided", _("Voided")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="vouchers")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="vouchers")
    program = models.ForeignKey(StampProgram, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    code = models.CharField(_("voucher code"), max_length=12, default=random_code, editable=False)
    title = models.CharField(_("reward"), max_length=80)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ISSUED)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A membership's allowance ("a free drink a month"): which membership, and which of its months
    # (0 for the first), so that each month's voucher exists once.
    membership = models.ForeignKey(
        "Membership", on_delete=models.CASCADE, null=True, blank=True, related_name="allowance_vouchers"
    )
    allowance_month = models.PositiveSmallIntegerField(null=True, blank=True)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "code"], name="voucher_code_unique_per_shop"),
            models.UniqueConstraint(
                fields=["membership", "allowance_month"], condition=Q(membership__isnull=False),
                name="one_allowance_voucher_per_month",
            ),
        ]  # fmt: skip
        # A shop's vouchers issued, and expiring, in a day (the insights, today counted live).
        indexes = [
            models.Index(fields=["shop", "issued_at"], name="voucher_shop_issued"),
            models.Index(fields=["shop", "expires_at"], name="voucher_shop_expires"),
        ]

    def __str__(self):
        return f"{self.title} ({self.code})"

    @property
    def is_usable(self) -> bool:
        return self.status == self.Status.ISSUED and (self.expires_at is None or self.expires_at > timezone.now())


class PointsRule(models.Model):
    """How a shop turns money spent into points, and points back into money off a bill."""

    class Rounding(models.TextChoices):
        DOWN = "down", _("Round down")
        NEAREST = "nearest", _("Round to the nearest point")
        UP = "up", _("Round up")

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="points_rule")
    is_active = models.BooleanField(_("points are on"), default=False)
    points_per_step = models.PositiveIntegerField(
        _("points"), default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    step_amount = models.DecimalField(
        _("for every"),
        max_digits=12,
        decimal_places=2,
        default=10,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("Amount spent that earns the points above, in the shop's currency."),
    )
    rounding = models.CharField(_("rounding"), max_length=8, choices=Rounding.choices, default=Rounding.DOWN)
    min_purchase = models.DecimalField(
        _("smallest purchase that earns points"),
        max_digits=12,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0)],
    )
    purchase_stamps = models.ForeignKey(
        StampProgram,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("a purchase also stamps this card"),
    )
    bill_points = models.PositiveIntegerField(
        _("points to pay with"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Leave empty if members cannot pay with points."),
    )
    bill_value = models.DecimalField(
        _("are worth"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
    )

    class Expiry(models.TextChoices):
        NEVER = "never", _("Points never expire")
        AFTER_EARNED = "earned", _("Months after they were earned")
        AFTER_LAST_VISIT = "inactive", _("Months without a visit")

    expiry = models.CharField(_("points expire"), max_length=8, choices=Expiry.choices, default=Expiry.NEVER)
    expiry_months = models.PositiveSmallIntegerField(
        _("expiry after (months)"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    # When the expiry rule was last changed: it applies to points earned (or
    # absences begun) from then on, never backwards.
    expiry_since = models.DateTimeField(null=True, blank=True, editable=False)
    # One typo must not credit a fortune: above this the counter needs a manager's override.
    max_purchase = models.DecimalField(
        _("largest purchase without a manager"),
        max_digits=12,
        decimal_places=2,
        default=Decimal(10000),
        validators=[MinValueValidator(Decimal(1))],
        help_text=_("In the shop's currency. A larger amount needs a manager's override at the counter."),
    )
    bill_max_percent = models.PositiveSmallIntegerField(
        _("largest share of a bill paid with points (%)"),
        default=50,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )

    def __str__(self):
        return f"{self.points_per_step} per {self.step_amount}"

    @property
    def pays_bills(self) -> bool:
        return bool(self.bill_points and self.bill_value)


class PointsExpiryTerms(models.Model):
    """The expiry rule in force from a moment on. Points keep the terms in force when they were
    earned, so a change of the rule is never retroactive; history is only ever added to."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    expiry = models.CharField(max_length=8, choices=PointsRule.Expiry.choices)
    months = models.PositiveSmallIntegerField(null=True, blank=True)
    valid_from = models.DateTimeField()

    class Meta:
        ordering = ["valid_from", "id"]
        verbose_name_plural = "points expiry terms"

    def __str__(self):
        return f"{self.expiry} {self.months} from {self.valid_from:%Y-%m-%d}"


class TierPolicy(models.Model):
    """How a shop's members qualify for tiers: what counts, over how long, and how kindly they fall."""

    class Basis(models.TextChoices):
        POINTS = "points", _("Points earned")
        VISITS = "visits", _("Visits")

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="tier_policy")
    basis = models.CharField(_("qualify by"), max_length=8, choices=Basis.choices, default=Basis.VISITS)
    window_months = models.PositiveSmallIntegerField(
        _("counted over the last (months)"),
        null=True,
        blank=True,
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("Leave empty to count everything since the member joined."),
    )
    grace_days = models.PositiveSmallIntegerField(
        _("grace before moving down (days)"), default=30, validators=[MaxValueValidator(365)]
    )

    def __str__(self):
        return f"{self.basis} / {self.window_months or 'lifetime'}"


class Tier(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(_("name"), max_length=40)
    threshold = models.PositiveIntegerField(
        _("needed to qualify"), help_text=_("Points earned or visits, as the shop counts.")
    )
    multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=1,
        validators=[MinValueValidator(Decimal("1.00")), MaxValueValidator(Decimal("10.00"))],
    )
    benefits = models.TextField(_("benefits"), blank=True, max_length=500)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["threshold"]
        constraints = [models.UniqueConstraint(fields=["shop", "threshold"], name="one_tier_per_threshold")]

    def __str__(self):
        return self.name


class TierChange(models.Model):
    """Every move between tiers, with why: members see it in their history."""

    class Reason(models.TextChoices):
        QUALIFIED = "qualified", _("Qualified")
        REVIEW = "review", _("Activity review")
        MANUAL = "manual", _("Set by the shop")
        TRIAL = "trial", _("Trial")
        TRIAL_END = "trial_end", _("Trial ended")
        PLAN = "plan", _("Membership")
        PLAN_END = "plan_end", _("Membership ended")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(Tier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    to_tier = models.ForeignKey(Tier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        # A shop's moves in a period (the insights' programme page): one range of one index.
        indexes = [models.Index(fields=["shop", "created_at"], name="tierchange_shop_time")]

    def __str__(self):
        return f"{self.member}: {self.from_tier} -> {self.to_tier} ({self.reason})"


class TierTrial(models.Model):
    """A higher tier given for a while; when it ends the member goes back to what they qualify for."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tier_trials")
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(ended_at__isnull=True), name="one_running_trial_per_member"
            )
        ]

    def __str__(self):
        return f"{self.member} on {self.tier} until {self.ends_at:%Y-%m-%d}"


class CatalogueReward(models.Model):
    """Something members choose to spend points or stamps on: a free item, money off, a discount."""

    class Kind(models.TextChoices):
        FREE_ITEM = "free_item", _("Free item")
        AMOUNT_OFF = "amount_off", _("Amount off")
        PERCENT_OFF = "percent_off", _("Percent off")

    # Kinds that change what a purchase costs: redeemed with the purchase at the counter.
    DISCOUNTS = (Kind.AMOUNT_OFF, Kind.PERCENT_OFF)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="catalogue")
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.FREE_ITEM)
    value = models.DecimalField(
        _("value"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("The amount off, or the percentage off; empty for a free item."),
    )
    cost_points = models.PositiveIntegerField(
        _("cost in points"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    cost_stamps = models.PositiveSmallIntegerField(
        _("cost in stamps"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    stamp_program = models.ForeignKey(
        StampProgram, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("from card")
    )
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty for no limit."))
    per_member_limit = models.PositiveSmallIntegerField(
        _("most per member"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Empty for no limit."),
    )
    starts_at = models.DateTimeField(_("available from"), null=True, blank=True)
    ends_at = models.DateTimeField(_("available until"), null=True, blank=True)
    image = models.ImageField(_("picture"), upload_to="rewards/", blank=True)
    min_tier = models.ForeignKey(
        Tier,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("only for tier and above"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["cost_points", "cost_stamps", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cost_points__isnull=False) | Q(cost_stamps__isnull=False), name="reward_has_a_cost"
            ),
            models.CheckConstraint(
                condition=Q(cost_stamps__isnull=True) | Q(stamp_program__isnull=False), name="stamp_cost_names_a_card"
            ),
        ]

    def __str__(self):
        return self.name

    def is_available(self, now) -> bool:
        return (
            self.is_active
            and (self.stock is None or self.stock > 0)
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )


class Purchase(models.Model):
    """A purchase recorded at the counter; its refunds may only ever add up to its amount."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="purchases")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="purchases")
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    receipt = models.CharField(_("receipt number"), max_length=40, blank=True)
    points_earned = models.IntegerField(default=0)
    points_spent = models.IntegerField(default=0)
    paid_with_points = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # Taken off by a money-off or percent-off reward redeemed with the purchase.
    discount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # Running totals of refunds so far, moved under the member lock.
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    points_reversed = models.IntegerField(default=0)
    points_returned = models.IntegerField(default=0)
    group = models.UUIDField(db_index=True)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="purchase_refunds_within_amount",
            ),
        ]
        indexes = [models.Index(fields=["shop", "created_at"], name="purchase_shop_time")]

    def __str__(self):
        return f"{self.amount} ({self.receipt or self.public_id})"

    @property
    def due(self) -> Decimal:
        """What the customer pays in money: the amount less points and a reward's discount."""
        return self.amount - self.paid_with_points - self.discount

    @property
    def refundable(self) -> Decimal:
        return self.amount - self.refunded_amount


class AppendOnlyQuerySet(ShopScopedQuerySet):
    def visits(self):
        """The one definition of a visit, for members and shops alike: a counter action with a stamp
        or a purchase that opened a visit (several within VISIT_MINUTES are one), not undone, and not
        a purchase refunded in full."""
        return self.filter(opens_visit=True, voided_by__isnull=True).exclude(
            reason="purchase", purchase__refunded_amount=models.F("purchase__amount")
        )

    def update(self, **kwargs):
        raise TypeError("Ledger entries are never updated: write a void entry instead.")

    def delete(self):
        raise TypeError("Ledger entries are never deleted: write a void entry instead.")


class OverrideReason(models.TextChoices):
    """Why a manager went past a limit: a short list, so the reasons can be counted."""

    PAPER_CARD = "paper_card", _("Stamps from a paper card")
    LARGE_ORDER = "large_order", _("A large order")
    CORRECTION = "correction", _("Correcting a mistake")
    GOODWILL = "goodwill", _("Goodwill for a customer")
    OTHER = "other", _("Another reason (see the note)")


class FoundBy(models.TextChoices):
    """How staff found the member before a counter action: the fraud checks read it."""

    QR = "qr", _("Member QR code")
    CODE = "code", _("Typed member code")
    VOUCHER = "voucher", _("Voucher code")
    PHONE = "phone", _("Phone number")
    EMAIL = "email", _("E-mail address")
    NAME = "name", _("Name")
    PAGE = "page", _("Member page")
    ENROLLED = "enrolled", _("Enrolled at the counter")
    WALLET = "wallet", _("Wallet pass")
    OFFLINE = "offline", _("Offline counter (queued)")


# Set by the counter around a service call (rewards.lookup.found_by); every ledger row written
# inside records it, without every service passing it along.
FOUND_BY: contextvars.ContextVar[str] = contextvars.ContextVar("found_by", default="")


def _found_by_now() -> str:
    return FOUND_BY.get()


# Set by the API around a service call (rewards.api.auth.acting): every ledger row written
# inside records the API key that asked for it, the actor the owner's history names.
API_KEY: contextvars.ContextVar[int | None] = contextvars.ContextVar("api_key", default=None)


def _api_key_now() -> int | None:
    return API_KEY.get()


class LedgerEntry(models.Model):
    """One change of stamps or points. Rows are only ever added; a void is a new row."""

    class Reason(models.TextChoices):
        VISIT = "visit", _("Visit")
        PURCHASE = "purchase", _("Purchase")
        BONUS = "bonus", _("Bonus")
        CAMPAIGN = "campaign", _("Campaign")
        CARD_COMPLETE = "card_complete", _("Card completed")
        REDEEM = "redeem", _("Redeemed")
        REFUND = "refund", _("Refund")
        VOID = "void", _("Undone")
        EXPIRY = "expiry", _("Expired")
        ADJUSTMENT = "adjustment", _("Adjustment")
        # The member left and their personal data was erased: what they held is closed.
        CLOSED = "closed", _("Left the program")
        # Balances brought in from a shop's file (rewards/imports.py), once per member and card.
        IMPORTED = "imported", _("Imported")
        # Balances moved from a duplicate record to the one kept (rewards/services/merge.py).
        MERGED = "merged", _("Merged")
        # Memberships and prepaid bundles (rewards/services/plans.py): a row's ``items`` moves the
        # membership's prepaid items left.
        PLAN_SOLD = "plan_sold", _("Membership sold")
        PLAN_ITEM = "plan_item", _("Prepaid item used")
        PLAN_REFUND = "plan_refund", _("Membership refunded")
        # A bundle's items left when it expired; a membership's free item of the month (a voucher); a
        # free trial of a plan given by a campaign.
        PLAN_EXPIRED = "plan_expired", _("Prepaid items expired")
        PLAN_ALLOWANCE = "plan_allowance", _("Membership allowance")
        PLAN_TRIAL = "plan_trial", _("Membership trial")
        # Points a member gave to one of the shop's causes (rewards/services/giving.py); a manager
        # reverses one with a VOID row and a reason.
        DONATION = "donation", _("Donated to a cause")
        # The reward for completing one of the shop's challenges (rewards/services/challenges.py).
        CHALLENGE = "challenge", _("Challenge completed")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="ledger")
    # Indexed with the time below (ledger_member_time), which serves look-ups by member too.
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="ledger", db_index=False)
    card = models.ForeignKey(MemberCard, on_delete=models.CASCADE, null=True, blank=True, related_name="entries")
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    stamps = models.IntegerField(_("stamps"), default=0)
    points = models.IntegerField(_("points"), default=0)
    money_amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, null=True, blank=True)
    voucher = models.ForeignKey(Voucher, on_delete=models.SET_NULL, null=True, blank=True, related_name="entries")
    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, null=True, blank=True, related_name="entries")
    reward = models.ForeignKey(
        CatalogueReward, on_delete=models.SET_NULL, null=True, blank=True, related_name="entries"
    )
    # A prepaid bundle's items: sold (+N), used (-1), refunded (what was left), as stamps are a card's.
    items = models.IntegerField(_("prepaid items"), default=0)
    membership = models.ForeignKey(
        "Membership", on_delete=models.CASCADE, null=True, blank=True, related_name="entries"
    )
    # All entries written by one counter action share a group; undo voids the group.
    group = models.UUIDField(default=uuid.uuid4, db_index=True)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    # CASCADE only matters when a whole shop or member is deleted; single rows never are.
    voids = models.OneToOneField("self", on_delete=models.CASCADE, null=True, blank=True, related_name="voided_by")
    override = models.BooleanField(_("manager override"), default=False)
    override_reason = models.CharField(_("override reason"), max_length=12, choices=OverrideReason.choices, blank=True)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # This row began a visit (see AppendOnlyQuerySet.visits): set when written, never changed.
    opens_visit = models.BooleanField(default=False)
    # How the member was found at the counter ("" for rows no look-up led to: campaigns, tasks).
    found_by = models.CharField(_("found by"), max_length=8, choices=FoundBy.choices, blank=True,
                                default=_found_by_now)  # fmt: skip
    # The API key a point of sale or tool acted with (no staff member then): "API: <its name>".
    api_key = models.ForeignKey(
        "ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", default=_api_key_now,
        verbose_name=_("API key"),
    )  # fmt: skip

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            # A double tap or a resent form carries the same key: the second
            # insert fails and the first action's result is returned instead.
            models.UniqueConstraint(
                fields=["shop", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="ledger_idempotency_key_unique_per_shop",
            ),
        ]
        indexes = [
            models.Index(fields=["card", "reason", "-created_at"], name="ledger_card_reason_time"),
            # A member's history, newest first, and their rows in a time window (visits after a
            # campaign reached them): one range of one index, whatever the size of the shop.
            models.Index(fields=["member", "-created_at", "-id"], name="ledger_member_time"),
            # A manager's overrides in a period (the insights' flags): few rows, found without
            # reading the period's whole ledger.
            models.Index(fields=["shop", "-created_at"], condition=Q(override=True), name="ledger_overrides"),
            # A shop's rows of a day or a month (the insights' roll-ups, today counted live): one range
            # of one index, whatever the other shops on the server hold.
            models.Index(fields=["shop", "created_at"], name="ledger_shop_time"),
        ]

    def __str__(self):
        items = f", {self.items:+d} items" if self.items else ""
        return f"{self.get_reason_display()} {self.stamps:+d} stamps, {self.points:+d} points{items}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Ledger entries are never updated: write a void entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Ledger entries are never deleted: write a void entry instead.")


class MembershipPlan(models.Model):
    """What a shop sells at the counter: a membership for a period, or a prepaid bundle of items
    ("10 lattes for the price of 8", used one at a time). Pausing or retiring a plan stops its sale
    and leaves the memberships already sold as they are."""

    class Kind(models.TextChoices):
        PERIOD = "period", _("Membership for a period")
        BUNDLE = "bundle", _("Prepaid bundle")

    class Period(models.IntegerChoices):
        MONTH = 1, _("A month")
        QUARTER = 3, _("A quarter")
        YEAR = 12, _("A year")

    class RefundRule(models.TextChoices):
        PRO_RATA = "pro_rata", _("Refund the unused part")
        NONE = "none", _("No refund")

    class Status(models.TextChoices):
        ACTIVE = "active", _("On sale")
        PAUSED = "paused", _("Paused")
        RETIRED = "retired", _("Retired")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="membership_plans")
    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.PERIOD)
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)],
        help_text=_("In the shop's currency."),
    )  # fmt: skip
    period_months = models.PositiveSmallIntegerField(
        _("runs for"), choices=Period.choices, null=True, blank=True, help_text=_("For a membership for a period.")
    )
    items = models.PositiveSmallIntegerField(
        _("items in the bundle"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(500)],
        help_text=_("For a prepaid bundle: how many, e.g. 10 lattes."),
    )  # fmt: skip
    item_name = models.CharField(_("item"), max_length=60, blank=True, help_text=_("What each one is, e.g. latte."))
    valid_days = models.PositiveIntegerField(
        _("bundle valid for (days)"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("Days after the sale; leave empty for a bundle that never expires."),
    )  # fmt: skip
    tier = models.ForeignKey(
        Tier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("tier held while it runs"),
    )  # fmt: skip
    points_multiplier = models.DecimalField(
        _("points multiplier"), max_digits=4, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("1.00")), MaxValueValidator(Decimal("10.00"))],
    )  # fmt: skip
    discount_percent = models.PositiveSmallIntegerField(
        _("discount at the counter (%)"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )  # fmt: skip
    allowance_title = models.CharField(
        _("free item each month"), max_length=60, blank=True,
        help_text=_("Issued as a voucher at the start of each month of the membership, e.g. a free drink. "
                    "Leave empty for none."),
    )  # fmt: skip
    vip_after_months = models.PositiveSmallIntegerField(
        _("VIP after (months in a row)"), null=True, blank=True, default=6,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("Members who keep the membership this many months without a break are VIP while they stay. "
                    "Leave empty for no VIP status."),
    )  # fmt: skip
    vip_tier = models.ForeignKey(
        Tier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("VIP tier"),
        help_text=_("Optional: the tier VIP members hold while they stay."),
    )  # fmt: skip
    benefits = models.TextField(_("other benefits"), blank=True, max_length=500)
    refund_rule = models.CharField(
        _("on a refund"), max_length=8, choices=RefundRule.choices, default=RefundRule.PRO_RATA
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="period", period_months__isnull=False, items__isnull=True, valid_days__isnull=True)
                | Q(kind="bundle", period_months__isnull=True, items__isnull=False),
                name="plan_fields_match_kind",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="plan_price_not_negative"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        errors = {}
        if self.kind == self.Kind.PERIOD:
            if self.period_months is None:
                errors["period_months"] = _("Choose how long the membership runs.")
            for name in ("items", "item_name", "valid_days"):
                if getattr(self, name) not in (None, ""):
                    errors[name] = _("Only a prepaid bundle has this; leave it empty.")
        elif self.kind == self.Kind.BUNDLE:
            if self.items is None:
                errors["items"] = _("Enter how many items the bundle holds.")
            if not self.item_name.strip():
                errors["item_name"] = _("Name the item, e.g. latte.")
            if self.period_months is not None:
                errors["period_months"] = _("A prepaid bundle runs until its items are used; leave this empty.")
            for name in ("allowance_title", "vip_tier", "tier", "points_multiplier"):
                if getattr(self, name) not in (None, ""):
                    errors[name] = _("Only a membership for a period has this; leave it empty.")
        if self.shop_id and self.price is not None:
            try:
                MoneyValidator(self.shop.currency)(self.price)
            except ValidationError as error:
                errors["price"] = error.messages
        if self.tier_id and self.shop_id and self.tier.shop_id != self.shop_id:
            errors["tier"] = _("Choose a tier of this shop.")
        if self.vip_tier_id and self.shop_id and self.vip_tier.shop_id != self.shop_id:
            errors["vip_tier"] = _("Choose a tier of this shop.")
        if errors:
            raise ValidationError(errors)

    @property
    def on_sale(self) -> bool:
        return self.status == self.Status.ACTIVE

    def price_at(self, now, change: "PlanPriceChange | None") -> Decimal:
        """What the plan costs at ``now``: its scheduled new price (``change``, pending) once the day
        has come (the worker then makes it the plan's price), today's price until then."""
        if change is not None and change.pending and change.starts_at <= now:
            return change.new_price
        return self.price

    @property
    def has_vip(self) -> bool:
        return self.kind == self.Kind.PERIOD and bool(self.vip_after_months)


class PlanPriceChange(models.Model):
    """A plan's new price from a day on, announced ahead: members who hold the plan are invited to
    renew early at the price of today, and the results page shows who did. The new price applies
    from ``starts_at`` (midnight of the day, in the shop's time zone)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(MembershipPlan, on_delete=models.CASCADE, related_name="price_changes")
    old_price = models.DecimalField(_("price now"), max_digits=12, decimal_places=2)
    new_price = models.DecimalField(_("new price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    starts_at = models.DateTimeField(_("new price from"))
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    invited = models.PositiveIntegerField(default=0)
    invited_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan"], condition=Q(applied_at__isnull=True, cancelled_at__isnull=True),
                name="one_pending_price_change_per_plan",
            ),
            models.CheckConstraint(condition=Q(new_price__gte=0), name="price_change_not_negative"),
        ]  # fmt: skip

    def __str__(self):
        return f"{self.plan}: {self.old_price} -> {self.new_price}"

    @property
    def pending(self) -> bool:
        return self.applied_at is None and self.cancelled_at is None


class Membership(models.Model):
    """A member's holding of a plan, sold at the counter. ``items_left`` (a bundle's items not yet
    used) is a cache of the ledger: the sum of the rows' ``items``, as a card's stamps are.

    A bundle used up stays ACTIVE until it ends or is refunded: the status says whether the member
    holds it, ``items_left`` what is in it, and an undo of the last item gives it back without
    reviving anything."""

    class PaymentMethod(models.TextChoices):
        CASH = "cash", _("Cash")
        CARD = "card", _("Card")
        TRANSFER = "transfer", _("Bank transfer")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")
        REFUNDED = "refunded", _("Refunded")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="memberships")
    plan = models.ForeignKey(MembershipPlan, on_delete=models.PROTECT, related_name="memberships")
    # The plan's kind and price when sold: a plan changed later does not change what was bought.
    kind = models.CharField(_("kind"), max_length=8, choices=MembershipPlan.Kind.choices)
    price_paid = models.DecimalField(_("price paid"), max_digits=12, decimal_places=2)
    payment_method = models.CharField(_("paid by"), max_length=8, choices=PaymentMethod.choices, blank=True)
    receipt = models.CharField(_("receipt number"), max_length=40, blank=True)
    items_total = models.PositiveIntegerField(_("prepaid items"), default=0)
    items_left = models.IntegerField(_("prepaid items left"), default=0)
    starts_at = models.DateTimeField(_("starts"))
    # The end of the period, or when a bundle expires; empty for a bundle that never does.
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    sold_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    refunded_at = models.DateTimeField(null=True, blank=True)
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # The plan's refund rule when sold: a rule changed later applies to later sales.
    refund_rule = models.CharField(
        max_length=8, choices=MembershipPlan.RefundRule.choices, default=MembershipPlan.RefundRule.PRO_RATA
    )
    # A free trial of the plan (a campaign's gift): nothing paid, nothing to refund, not a paid month.
    trial = models.BooleanField(default=False)
    # The membership this one continues: sold before (or when) that one ended, it starts at its end,
    # so renewing early never loses a day. One renewal per membership.
    renews = models.OneToOneField("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="renewal")
    # When the member's unbroken run of this plan began (the first of the renewals): months in a row.
    chain_started_at = models.DateTimeField(null=True, blank=True)
    # The monthly allowance: months issued so far, and when the next month starts (empty when none is
    # due any more), which is what the worker looks for.
    allowances_issued = models.PositiveSmallIntegerField(default=0)
    next_allowance_at = models.DateTimeField(null=True, blank=True)
    # The reminder before the end, and the message once it lapsed: each sent once.
    reminded_at = models.DateTimeField(null=True, blank=True)
    lapse_told_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(items_left__gte=0) & Q(items_left__lte=F("items_total")),
                name="membership_items_within_total",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("price_paid")),
                name="membership_refund_within_price",
            ),
        ]
        indexes = [
            # A member's memberships at the counter and on the card.
            models.Index(fields=["member", "status"], name="membership_member_status"),
            # Memberships ending soon or due to end (reminders, renewals, the worker's period starts).
            models.Index(fields=["shop", "status", "ends_at"], name="membership_shop_status_ends"),
            # The worker's rounds over every shop: memberships to end, and allowances due.
            models.Index(fields=["ends_at"], condition=Q(status="active"), name="membership_active_ends"),
            models.Index(
                fields=["next_allowance_at"], condition=Q(next_allowance_at__isnull=False),
                name="membership_allowance_due",
            ),
        ]  # fmt: skip

    def __str__(self):
        return f"{self.member} on {self.plan}"

    def is_over(self, now) -> bool:
        """The period has ended, or the bundle has expired."""
        return self.ends_at is not None and self.ends_at <= now

    def is_running(self, now) -> bool:
        """Held now: active, started, and not over (a renewal bought early has not started yet)."""
        return self.status == self.Status.ACTIVE and self.starts_at <= now and not self.is_over(now)

    def is_usable(self, now) -> bool:
        """A bundle item can be used now."""
        return (
            self.status == self.Status.ACTIVE
            and self.kind == MembershipPlan.Kind.BUNDLE
            and self.items_left > 0
            and not self.is_over(now)
        )


class Cause(models.Model):
    """Something good a shop's program does ("a tree planted for every ten visits"): the shop gives a
    set amount per visit or purchase, members may give points (each worth what the shop says), and
    the shop may match what members give, up to a limit. Progress is counted in the cause's own unit
    (trees, meals), each costing ``unit_cost``."""

    class Basis(models.TextChoices):
        NONE = "none", _("Nothing: only what members give")
        VISIT = "visit", _("An amount for each visit")
        PURCHASE = "purchase", _("An amount for each purchase")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Running")
        PAUSED = "paused", _("Paused")
        ENDED = "ended", _("Ended")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="causes")
    name = models.CharField(_("name"), max_length=80)
    description = models.TextField(_("description"), max_length=1000, blank=True)
    picture = models.ImageField(_("picture"), upload_to="causes/", blank=True)
    partner = models.CharField(
        _("partner organisation"), max_length=120, help_text=_("Who receives the money, e.g. a tree-planting charity.")
    )
    partner_url = models.URLField(_("partner's website"), blank=True)
    unit = models.CharField(
        _("what the goal counts"), max_length=30, help_text=_("In your members' words, e.g. trees or meals.")
    )
    unit_cost = models.DecimalField(
        _("cost of one"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("What the partner needs for one, e.g. one tree, in the shop's currency."),
    )  # fmt: skip
    goal = models.PositiveIntegerField(
        _("goal"), validators=[MinValueValidator(1), MaxValueValidator(10_000_000)],
        help_text=_("How many you aim for, e.g. 500 trees."),
    )  # fmt: skip
    basis = models.CharField(_("the shop gives"), max_length=8, choices=Basis.choices, default=Basis.VISIT)
    amount_per = models.DecimalField(
        _("amount each time"), max_digits=12, decimal_places=2, default=0, validators=[MinValueValidator(0)],
        help_text=_("What the shop gives for each visit or purchase, in the shop's currency."),
    )  # fmt: skip
    point_value = models.DecimalField(
        _("value of a point given"), max_digits=12, decimal_places=4, default=0, validators=[MinValueValidator(0)],
        help_text=_("What the shop pays the partner for each point a member gives. 0: members cannot give points."),
    )  # fmt: skip
    match_limit = models.DecimalField(
        _("match members' gifts up to"), max_digits=12, decimal_places=2, default=0,
        validators=[MinValueValidator(0)],
        help_text=_("The shop adds as much as members give, until it has added this much in all. 0: no matching."),
    )  # fmt: skip
    # What the shop has added by matching so far: moved with F() under the cause's lock by
    # rewards/services/giving.py, and equal to the sum of the cause's MATCH contributions.
    matched = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    on_poster = models.BooleanField(_("show on the join poster"), default=False)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(matched__gte=0), name="cause_matched_not_negative"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def takes_points(self) -> bool:
        return self.point_value > 0

    @property
    def matches(self) -> bool:
        return self.match_limit > 0

    def units(self, money: Decimal) -> int:
        """Whole units that ``money`` pays for: 183 trees, not 183.4."""
        return int(money // self.unit_cost) if money > 0 else 0


class ContributionQuerySet(ShopScopedQuerySet):
    def update(self, **kwargs):
        raise TypeError("Contributions are never updated: write a reversal instead.")

    def delete(self):
        raise TypeError("Contributions are never deleted: write a reversal instead.")


class Contribution(models.Model):
    """Money that went to a cause: the shop's for a visit or a purchase, a member's points given, the
    shop's match of them. Append-only, as the ledger: a reversal is a negative row pointing at the
    row it reverses. A visit's or a donation's rows point at the ledger row they came with, so an
    undo or a reversal finds them."""

    class Kind(models.TextChoices):
        VISIT = "visit", _("For a visit")
        PURCHASE = "purchase", _("For a purchase")
        DONATION = "donation", _("Points given by a member")
        MATCH = "match", _("Matched by the shop")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    cause = models.ForeignKey(Cause, on_delete=models.CASCADE, related_name="contributions", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="contributions", db_index=False)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    points = models.IntegerField(_("points"), default=0)
    entry = models.ForeignKey(LedgerEntry, on_delete=models.CASCADE, related_name="contributions")
    reverses = models.OneToOneField("self", on_delete=models.CASCADE, null=True, blank=True, related_name="reversed_by")
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ContributionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # A cause's progress, and its report for a period: one range of one index.
            models.Index(fields=["cause", "created_at"], name="contribution_cause_time"),
            # A member's own part, on the card.
            models.Index(fields=["member", "cause"], name="contribution_member_cause"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} to {self.cause_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Contributions are never updated: write a reversal instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Contributions are never deleted: write a reversal instead.")


class MenuItem(models.Model):
    """An item of a shop's short menu (optional): staff may tag a stamp or a purchase with what the
    member had, so the counter knows their usual and challenges can count a tag."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="menu_items")
    name = models.CharField(_("name"), max_length=40)
    tag = models.SlugField(
        _("tag"), max_length=30, blank=True, allow_unicode=True,
        help_text=_("Optional, one word that groups items, e.g. seasonal or tea. Challenges can count a tag."),
    )  # fmt: skip
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0, help_text=_("Lower comes first."))
    is_active = models.BooleanField(_("on the menu"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name", "pk"]
        constraints = [models.UniqueConstraint(fields=["shop", "name"], name="menu_item_name_unique_per_shop")]

    def __str__(self):
        return self.name


class ItemSold(models.Model):
    """One menu item a visit or a purchase was tagged with, written with it by the counter's action
    and pointing at its ledger row: an undone visit's items no longer count (the row's void says so)."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="items_had", db_index=False)
    item = models.ForeignKey(MenuItem, on_delete=models.PROTECT, related_name="sold")
    entry = models.ForeignKey(LedgerEntry, on_delete=models.CASCADE, related_name="items_sold")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "-created_at"], name="item_sold_member_time")]

    def __str__(self):
        return f"{self.item_id} for {self.member_id}"


class Challenge(models.Model):
    """Something a member can do for a badge and an optional reward ("three visits this week"),
    counted in a window of the shop's own days: each week (Monday to Sunday), each calendar month,
    or once while the challenge runs. A streak (weeks in a row with a visit) always runs once.
    Completed in the transaction of the visit or purchase that completes it, at most once per
    member and window (``ChallengeCompletion``); rewards/services/challenges.py keeps the rules."""

    class Kind(models.TextChoices):
        VISITS = "visits", _("Visits")
        WEEKDAYS = "weekdays", _("Visits on different days of the week")
        SPEND = "spend", _("Spending")
        TAG = "tag", _("Items of a tag on the menu")
        FRIENDS = "friends", _("Friends who join and visit")
        STREAK = "streak", _("Weeks in a row with a visit")

    class Window(models.TextChoices):
        WEEK = "week", _("Each week, Monday to Sunday")
        MONTH = "month", _("Each calendar month")
        RUN = "run", _("Once, while the challenge runs")

    # The fields of a campaign's gift (rewards/services/grants.py reads them by these names).
    class Gift(models.TextChoices):
        NONE = "none", _("The badge only")
        STAMPS = "stamps", _("Stamps")
        POINTS = "points", _("Points")
        VOUCHER = "voucher", _("A voucher")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Running")
        PAUSED = "paused", _("Paused")
        ENDED = "ended", _("Ended")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="challenges")
    name = models.CharField(_("name"), max_length=80, help_text=_("As members see it, e.g. Three visits this week."))
    description = models.TextField(_("description"), max_length=500, blank=True)
    kind = models.CharField(_("what counts"), max_length=8, choices=Kind.choices, default=Kind.VISITS)
    window = models.CharField(_("counted"), max_length=5, choices=Window.choices, default=Window.WEEK)
    target = models.PositiveSmallIntegerField(
        _("how many"), default=3, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Visits, days of the week (at most 7), items, friends or weeks in a row. Not used for spending."),
    )  # fmt: skip
    amount = models.DecimalField(
        _("amount to spend"), max_digits=12, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.01"))], help_text=_("For spending: in the shop's currency."),
    )  # fmt: skip
    tag = models.SlugField(
        _("menu tag"), max_length=30, blank=True, allow_unicode=True,
        help_text=_("For items of a tag: the tag of the menu items that count, e.g. seasonal."),
    )  # fmt: skip
    gift = models.CharField(_("reward"), max_length=8, choices=Gift.choices, default=Gift.NONE)
    gift_stamps = models.PositiveSmallIntegerField(
        _("stamps"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    gift_program = models.ForeignKey(
        StampProgram, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("on card")
    )
    gift_points = models.PositiveIntegerField(
        _("points"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100000)]
    )
    voucher_title = models.CharField(_("voucher"), max_length=80, blank=True, help_text=_("e.g. A free slice of cake"))
    voucher_valid_days = models.PositiveSmallIntegerField(
        _("voucher valid for (days)"), default=14, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    badge_emoji = models.CharField(_("badge emoji"), max_length=16, blank=True, help_text=_("e.g. ☕ or 🌸"))
    badge_name = models.CharField(
        _("badge name"), max_length=40, blank=True, help_text=_("Empty to use the challenge's name.")
    )
    badge_picture = models.ImageField(_("badge picture"), upload_to="badges/", blank=True)
    leaderboard = models.BooleanField(
        _("leaderboard"), default=False,
        help_text=_("A public board of nicknames. Only members who choose to join it from their card appear."),
    )  # fmt: skip
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True, help_text=_("Empty to start now."))
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True, help_text=_("Empty to run until you end it."))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.name

    @property
    def badge_title(self) -> str:
        return self.badge_name or self.name

    def is_running(self, now) -> bool:
        return (
            self.status == self.Status.ACTIVE
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )

    def clean(self):
        super().clean()
        errors = {}
        if self.kind == self.Kind.WEEKDAYS and self.target is not None and self.target > 7:
            errors["target"] = _("A week has seven days: choose at most 7.")
        if self.kind == self.Kind.SPEND:
            if self.amount is None:
                errors["amount"] = _("Enter the amount to spend.")
            elif self.shop_id:
                try:
                    MoneyValidator(self.shop.currency)(self.amount)
                except ValidationError as error:
                    errors["amount"] = error.messages
        elif self.amount is not None:
            errors["amount"] = _("Only a spending challenge has an amount; leave it empty.")
        if self.kind == self.Kind.TAG and not self.tag:
            errors["tag"] = _("Enter the menu tag whose items count.")
        elif self.kind != self.Kind.TAG and self.tag:
            errors["tag"] = _("Only a challenge of a menu tag has a tag; leave it empty.")
        if self.kind == self.Kind.STREAK and self.window != self.Window.RUN:
            errors["window"] = _("Weeks in a row are counted once, while the challenge runs.")
        if self.gift == self.Gift.STAMPS:
            if not self.gift_stamps:
                errors["gift_stamps"] = _("Enter how many stamps.")
            if self.gift_program_id is None:
                errors["gift_program"] = _("Choose the card the stamps go on.")
            elif self.shop_id and self.gift_program.shop_id != self.shop_id:
                errors["gift_program"] = _("Choose a card of this shop.")
        if self.gift == self.Gift.POINTS and not self.gift_points:
            errors["gift_points"] = _("Enter how many points.")
        if self.gift == self.Gift.VOUCHER and not self.voucher_title.strip():
            errors["voucher_title"] = _("Say what the voucher gives, e.g. A free slice of cake.")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("The end must come after the start.")
        if errors:
            raise ValidationError(errors)


class ChallengeCompletion(models.Model):
    """A member completed a challenge in one window (its first day, in the shop's days), with the
    visit or purchase row that completed it and the group of the reward's ledger rows. Revoked when
    that visit is undone and the challenge is no longer met: the reward is taken back by VOID rows
    when it still can be, otherwise ``revoke_note`` says why not. At most one completion that stands
    per member and window, even with two tills at once."""

    class RevokeNote(models.TextChoices):
        TAKEN_BACK = "taken_back", _("The reward was taken back")
        NO_REWARD = "no_reward", _("There was no reward to take back")
        POINTS_SPENT = "points_spent", _("The reward's points were already spent")
        STAMPS_USED = "stamps_used", _("The reward's stamps were already used")
        VOUCHER_USED = "voucher_used", _("The reward's voucher was already used")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="completions")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="challenge_completions")
    window_start = models.DateField()
    completed_at = models.DateTimeField(default=timezone.now)
    # The visit or purchase that completed it (for a friends challenge, the friend's visit).
    entry = models.ForeignKey(LedgerEntry, on_delete=models.CASCADE, related_name="challenge_completions")
    # The reward's ledger rows (none for a badge only) and its voucher, if it gave one.
    group = models.UUIDField(null=True, blank=True)
    voucher = models.ForeignKey(Voucher, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_note = models.CharField(max_length=12, choices=RevokeNote.choices, blank=True)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-completed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["challenge", "member", "window_start"], condition=Q(revoked_at__isnull=True),
                name="one_completion_per_window",
            ),
        ]  # fmt: skip
        indexes = [models.Index(fields=["member", "challenge", "window_start"], name="completion_member_window")]

    def __str__(self):
        return f"{self.challenge_id} by {self.member_id} ({self.window_start})"


class LeaderboardSeat(models.Model):
    """A member who chose to appear on a challenge's public board, under a nickname of their own.
    Nobody appears without one; leaving the board removes the seat."""

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="seats")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="leaderboard_seats")
    nickname = models.CharField(_("nickname"), max_length=20)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["joined_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["challenge", "member"], name="one_seat_per_member"),
            models.UniqueConstraint(Lower("nickname"), "challenge", name="nickname_unique_per_challenge"),
        ]

    def __str__(self):
        return self.nickname


class PartnerOffer(models.Model):
    """An offer two shops of one installation agree on: members of ``members_shop`` show their card
    at ``partner_shop``'s counter and get what the title says, once per member per ``period``. One
    owner proposes it, the other accepts; either ends it. Nothing about a member crosses to the
    partner beyond the redemption itself: the partner's counter sees the offer and whether it is
    used, never a name, a balance or a contact."""

    class Period(models.TextChoices):
        DAY = "day", _("once a day")
        WEEK = "week", _("once a week")
        MONTH = "month", _("once a month")
        ONCE = "once", _("once only")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("waiting for the partner")
        ACTIVE = "active", _("running")
        DECLINED = "declined", _("declined")
        WITHDRAWN = "withdrawn", _("withdrawn")
        ENDED = "ended", _("ended")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Whose members get the offer, and whose counter gives it.
    members_shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="partner_offers_out")
    partner_shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="partner_offers_in")
    proposed_by_shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(
        _("offer"), max_length=80, help_text=_("What the member gets, e.g. a free cookie with any coffee.")
    )
    terms = models.TextField(
        _("terms"), max_length=500, blank=True,
        help_text=_("Anything the counter should know, e.g. not with other offers."),
    )  # fmt: skip
    period = models.CharField(_("how often"), max_length=5, choices=Period.choices, default=Period.WEEK)
    ends_on = models.DateField(
        _("last day"), null=True, blank=True, help_text=_("Empty to run until one of you ends it.")
    )
    status = models.CharField(_("status"), max_length=9, choices=Status.choices, default=Status.PROPOSED)
    proposed_at = models.DateTimeField(default=timezone.now)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by_shop = models.ForeignKey(Shop, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-proposed_at", "-id"]
        indexes = [
            models.Index(fields=["members_shop", "status"], name="partner_offer_members"),
            models.Index(fields=["partner_shop", "status"], name="partner_offer_partner"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(members_shop=F("partner_shop")), name="partner_offer_two_shops"),
        ]

    def __str__(self):
        return self.title

    def other_shop(self, shop: Shop) -> Shop:
        return self.partner_shop if shop.pk == self.members_shop_id else self.members_shop

    def runs_on(self, day) -> bool:
        return self.status == self.Status.ACTIVE and (self.ends_on is None or day <= self.ends_on)


class PartnerRedemption(models.Model):
    """A member of one shop used a partner offer at the other shop's counter, in one window of the
    offer's period (its first day in the partner's calendar). At most one that stands per member
    and window, even with two tills at once; a slip is undone at the counter within minutes."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    offer = models.ForeignKey(PartnerOffer, on_delete=models.CASCADE, related_name="redemptions")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="partner_redemptions")
    window_start = models.DateField()
    redeemed_at = models.DateTimeField(default=timezone.now)
    # The partner's member of staff: a user of the partner shop, never shown to the members' shop.
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-redeemed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "member", "window_start"], condition=Q(undone_at__isnull=True),
                name="one_partner_redemption_per_window",
            ),
        ]  # fmt: skip
        indexes = [models.Index(fields=["member", "offer"], name="partner_redemption_member")]

    def __str__(self):
        return f"{self.offer_id} by {self.member_id} ({self.window_start})"


def wallet_serial() -> str:
    """A pass's serial number: 32 random hexadecimal characters."""
    return secrets.token_hex(16)


def wallet_barcode() -> str:
    """What a wallet pass's barcode holds: ``W:`` and 32 random characters, never the member code."""
    return "W:" + secrets.token_urlsafe(24)


class WalletPass(models.Model):
    """A member's card in Apple Wallet or Google Wallet. Wallets do not rotate codes, so its barcode
    is long-lived: the counter takes it under the usual per-visit limits, tells staff it is a wallet
    pass, and asks them to confirm the person before anything is spent. The member revokes it from
    their card; a new pass replaces the old one of its kind."""

    class Kind(models.TextChoices):
        APPLE = "apple", _("Apple Wallet")
        GOOGLE = "google", _("Google Wallet")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="wallet_passes")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    # The pass's serial number (Apple) or object id (Google), and the token the wallet's web
    # service calls present (Apple's ApplePass authorisation).
    serial = models.CharField(max_length=40, unique=True, default=wallet_serial)
    auth_token = models.CharField(max_length=64, default=secrets.token_urlsafe)
    barcode = models.CharField(max_length=40, unique=True, default=wallet_barcode)
    created_at = models.DateTimeField(default=timezone.now)
    # When what the pass shows last changed (balances, vouchers, tier): the wallets' Last-Modified.
    updated_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind"], condition=Q(revoked_at__isnull=True), name="one_wallet_pass_per_kind"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.serial}"


class WalletDevice(models.Model):
    """An iPhone (or watch) holding an Apple Wallet pass, as the wallet registers it with our PassKit
    web service (rewards.views.wallet): where to push "this pass changed" (rewards.tasks)."""

    device_library_id = models.CharField(max_length=128)
    push_token = models.CharField(max_length=200)
    wallet_pass = models.ForeignKey(WalletPass, on_delete=models.CASCADE, related_name="devices")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["device_library_id", "wallet_pass"], name="one_registration_per_device"),
        ]

    def __str__(self):
        return f"{self.device_library_id[:8]}… {self.wallet_pass}"


class WalletPush(models.Model):
    """One "this pass changed" push through Apple's push service to one registered device, written
    when the pass changes and sent by the worker (rewards.services.wallet_push), like the e-mail
    outbox: claimed before sending, retried with backoff, given up on when stuck.

    The unique constraint makes it at most one per (registration, version of the pass): a retried
    job or a double event finds the row already there. The row outlives its registration (a wallet
    that is gone) to say why it failed."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    wallet_pass = models.ForeignKey(
        WalletPass, on_delete=models.CASCADE, related_name="pushes", verbose_name=_("wallet pass")
    )
    device = models.ForeignKey(
        WalletDevice, on_delete=models.SET_NULL, null=True, blank=True, related_name="pushes", verbose_name=_("device")
    )
    # The pass's updated_at (its Last-Modified) the push announces.
    pass_version = models.DateTimeField(_("pass version"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("Apple Wallet push")
        verbose_name_plural = _("Apple Wallet pushes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["device", "pass_version"], name="one_push_per_device_and_version"),
        ]
        indexes = [
            # The beat's scan for what is due, and for sends that got stuck.
            models.Index(fields=["status", "next_attempt_at"], name="wallet_push_due"),
        ]

    def __str__(self):
        return f"{self.wallet_pass} {self.pass_version:%Y-%m-%d %H:%M:%S}: {self.status}"


class ApiKey(models.Model):
    """A shop's key to the API (rewards.api), made by its owner for a point of sale or a tool.

    The secret is shown once, when the key is made; only its SHA-256 is kept. Keys are 32 random
    bytes, so a fast hash is enough (GitHub's tokens are kept the same way): nobody can guess one."""

    class Scope(models.TextChoices):
        READ = "read", _("Read: look up members, balances and history")
        COUNTER = "counter", _("Counter: also enrol members, record visits and purchases, redeem")
        ADMIN = "admin", _("Admin: also refund purchases")

    # Each scope includes the ones before it.
    RANK = {Scope.READ: 1, Scope.COUNTER: 2, Scope.ADMIN: 3}

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=60, help_text=_("Where it is used, e.g. “Till 1”."))
    # The key's public part, shown in lists to tell keys apart, and how a request's key is found.
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(_("scope"), max_length=8, choices=Scope.choices, default=Scope.COUNTER)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        editable=False,
    )  # fmt: skip
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    # Written at most once a minute per key (rewards.api.auth), not on every request.
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    objects = ShopScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} ({self.prefix})"

    def allows(self, scope: str) -> bool:
        return self.RANK[self.Scope(self.scope)] >= self.RANK[self.Scope(scope)]


class ApiRequest(models.Model):
    """A write the API answered for an ``Idempotency-Key``: a retry with the same key gets exactly
    this answer again, and nothing is done twice. Kept a day (rewards.tasks.purge_api_requests)."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="requests")
    idempotency_key = models.CharField(max_length=255)
    # SHA-256 of the method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("API request")
        verbose_name_plural = _("API requests")
        constraints = [
            models.UniqueConstraint(fields=["api_key", "idempotency_key"], name="api_request_key_unique"),
        ]

    def __str__(self):
        return f"{self.api_key_id} {self.idempotency_key}: {self.status_code}"
