"""What the owner's plans page shows of the plans' business: per plan, the memberships running, the
prepaid items still owed and the sales of the last 30 days; for the shop, the same in sum, what the
items owed are worth (a liability: drinks paid for and not served yet), and this month in the shop's
time zone: sales new and renewed (early ones apart), trials running, churn and the monthly vouchers.

Four queries whatever the number of plans, memberships or sales: one grouped over the memberships
held now, one grouped over the sales in the ledger, one over the paid memberships around the month's
start (churn), one over the monthly vouchers.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, F, Func, OuterRef, Q, Sum
from django.utils import timezone

from members.models import Shop

from .models import LedgerEntry, Membership, MembershipPlan, Voucher

SALES_DAYS = 30


class Share(Func):
    """``count * price / total`` as a decimal on every database. SQLite divides two whole numbers as
    whole numbers (NT$1,000 * 3 / 7 would be 428, not 428.57), so there the product is made real first."""

    output_field = DecimalField(max_digits=20, decimal_places=6)

    def __init__(self, count, price, total):
        super().__init__(count, price, total)

    def as_sql(self, compiler, connection, real="", **extra_context):
        (a, a_params), (b, b_params), (c, c_params) = (compiler.compile(e) for e in self.get_source_expressions())
        return f"({real}{a} * {b} / {c})", (*a_params, *b_params, *c_params)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, real="1.0 * ")


def held_now(now: datetime) -> Q:
    """Memberships a member holds at ``now``: running, not over, and for a bundle, with items left. A
    renewal bought early has not started: its member holds the one it continues, counted once."""
    return (
        Q(status=Membership.Status.ACTIVE, starts_at__lte=now)
        & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        & (Q(kind=MembershipPlan.Kind.PERIOD) | Q(items_left__gt=0))
    )


def month_start(shop: Shop, now: datetime) -> datetime:
    """The first moment of the current month in the shop's time zone."""
    local = timezone.localtime(now, shop.tz)
    return datetime.combine(local.date().replace(day=1), time.min, tzinfo=shop.tz)


@dataclass
class PlanFigures:
    """One plan's figures."""

    held: int = 0  # memberships or bundles held now
    items_left: int = 0  # prepaid items not used yet, across the bundles held
    items_value: Decimal = Decimal(0)
    sold_recently: int = 0  # sales in the last SALES_DAYS days, undone ones left out
    sold_recently_amount: Decimal = Decimal(0)
    sold_this_month: int = 0
    sold_this_month_amount: Decimal = Decimal(0)


@dataclass
class PlansSummary:
    """The shop's figures: every plan's together."""

    memberships: int = 0  # memberships for a period running now
    bundles: int = 0  # bundles with items left and not expired
    items_left: int = 0
    items_value: Decimal = Decimal(0)  # each bundle's items left * its price paid / its items
    sold_this_month: int = 0
    sold_this_month_amount: Decimal = Decimal(0)
    # This month's sales apart: new memberships and bundles, and renewals (``renews`` set), of which
    # early ones: sold before the membership they continue ended.
    sold_new: int = 0
    sold_new_amount: Decimal = Decimal(0)
    renewed: int = 0
    renewed_amount: Decimal = Decimal(0)
    renewed_early: int = 0
    trials: int = 0  # free trials running now
    # Paid memberships for a period that ended this month (a refund ends one too) without a renewal
    # or a later sale of the plan to the member, and those running at the month's first moment.
    churned: int = 0
    paid_at_start: int = 0
    vouchers_issued: int = 0  # monthly vouchers of memberships issued this month, not taken back
    vouchers_used: int = 0  # and redeemed this month
    since: datetime | None = None  # the month's first moment, in the shop's time zone
    plans: dict[int, PlanFigures] = field(default_factory=dict)  # by plan id

    def of(self, plan: MembershipPlan) -> PlanFigures:
        return self.plans.get(plan.pk) or PlanFigures()

    @property
    def churn_percent(self) -> Decimal | None:
        """Churn as a share of the paid memberships running at the month's start; None without any."""
        if not self.paid_at_start:
            return None
        return Decimal(100 * self.churned) / self.paid_at_start


def undone() -> Exists:
    """A membership whose sale was undone at the counter: it was never sold (it stays as ENDED)."""
    return Exists(
        LedgerEntry.objects.filter(
            membership=OuterRef("pk"), reason=LedgerEntry.Reason.PLAN_SOLD, voided_by__isnull=False
        )
    )


def plans_summary(shop: Shop, now: datetime | None = None) -> PlansSummary:
    """The figures of every plan of ``shop`` and their sum: four queries."""
    now = now or timezone.now()
    bundle = Q(kind=MembershipPlan.Kind.BUNDLE)
    summary = PlansSummary(since=month_start(shop, now))
    held = (
        Membership.objects.filter(shop=shop)
        .filter(held_now(now))
        .values("plan_id")
        .annotate(
            held=Count("pk"),
            bundles=Count("pk", filter=bundle),
            trials=Count("pk", filter=Q(trial=True)),
            # Named apart from the fields: an annotation's name would shadow its field in Share.
            left=Sum("items_left", filter=bundle),
            left_value=Sum(Share("items_left", "price_paid", "items_total"), filter=bundle),
        )
        .order_by()
    )
    for row in held:
        figures = summary.plans.setdefault(row["plan_id"], PlanFigures())
        figures.held = row["held"]
        figures.items_left = row["left"] or 0
        figures.items_value = row["left_value"] or Decimal(0)
        summary.memberships += row["held"] - row["bundles"]
        summary.bundles += row["bundles"]
        summary.trials += row["trials"]
        summary.items_left += figures.items_left
        summary.items_value += figures.items_value
    recent = now - timedelta(days=SALES_DAYS)
    in_month = Q(created_at__gte=summary.since)
    in_recent = Q(created_at__gte=recent)
    renewal, new = Q(membership__renews__isnull=False), Q(membership__renews__isnull=True)
    # A sale undone (its row voided) was never a sale; a refund later is money given back, not a sale undone.
    sales = (
        LedgerEntry.objects.filter(
            shop=shop,
            reason=LedgerEntry.Reason.PLAN_SOLD,
            created_at__gte=min(summary.since, recent),
            created_at__lte=now,
            voided_by__isnull=True,
        )
        .values("membership__plan_id")
        .annotate(
            recent=Count("pk", filter=in_recent),
            recent_amount=Sum("money_amount", filter=in_recent),
            month=Count("pk", filter=in_month),
            month_amount=Sum("money_amount", filter=in_month),
            new=Count("pk", filter=in_month & new),
            new_amount=Sum("money_amount", filter=in_month & new),
            renewed=Count("pk", filter=in_month & renewal),
            renewed_amount=Sum("money_amount", filter=in_month & renewal),
            early=Count("pk", filter=in_month & renewal & Q(created_at__lt=F("membership__renews__ends_at"))),
        )
        .order_by()
    )
    for row in sales:
        figures = summary.plans.setdefault(row["membership__plan_id"], PlanFigures())
        figures.sold_recently = row["recent"]
        figures.sold_recently_amount = row["recent_amount"] or Decimal(0)
        figures.sold_this_month = row["month"]
        figures.sold_this_month_amount = row["month_amount"] or Decimal(0)
        summary.sold_this_month += row["month"]
        summary.sold_this_month_amount += figures.sold_this_month_amount
        summary.sold_new += row["new"]
        summary.sold_new_amount += row["new_amount"] or Decimal(0)
        summary.renewed += row["renewed"]
        summary.renewed_amount += row["renewed_amount"] or Decimal(0)
        summary.renewed_early += row["early"]
    summary.churned, summary.paid_at_start = _churn(shop, summary.since, now)
    # A voucher voided (its sale undone, its membership refunded before it was used) was taken back.
    vouchers = (
        Voucher.objects.filter(shop=shop, membership__isnull=False)
        .exclude(status=Voucher.Status.VOIDED)
        .aggregate(
            issued=Count("pk", filter=Q(issued_at__gte=summary.since, issued_at__lte=now)),
            used=Count(
                "pk", filter=Q(status=Voucher.Status.REDEEMED, redeemed_at__gte=summary.since, redeemed_at__lte=now)
            ),
        )
    )
    summary.vouchers_issued, summary.vouchers_used = vouchers["issued"], vouchers["used"]
    return summary


def _churn(shop: Shop, since: datetime, now: datetime) -> tuple[int, int]:
    """Paid memberships for a period that ended between ``since`` and ``now`` and that the member did
    not take up again (no renewal, no later sale of the plan), and those running at ``since``: one
    query. A sale undone is neither; a refund ends a membership when it is made."""
    Status = Membership.Status
    later = Membership.objects.filter(
        member_id=OuterRef("member_id"), plan_id=OuterRef("plan_id"), trial=False, created_at__gt=OuterRef("created_at")
    ).exclude(undone())
    ended = Q(status__in=[Status.ACTIVE, Status.ENDED], ends_at__gte=since, ends_at__lte=now) | Q(
        status=Status.REFUNDED, refunded_at__gte=since, refunded_at__lte=now
    )
    running = Q(starts_at__lte=since, ends_at__gt=since) & (~Q(status=Status.REFUNDED) | Q(refunded_at__gt=since))
    # Whatever ended this month or ran at its start ends after its start: the rest is left out at once.
    counts = (
        Membership.objects.filter(shop=shop, kind=MembershipPlan.Kind.PERIOD, trial=False, ends_at__gte=since)
        .exclude(undone())
        .aggregate(churned=Count("pk", filter=ended & ~Exists(later)), at_start=Count("pk", filter=running))
    )
    return counts["churned"], counts["at_start"]


def holders_not_renewed(plan: MembershipPlan, now: datetime) -> int:
    """Members who hold ``plan`` now, paid, and have not renewed it (a renewal undone or refunded is
    none): one query."""
    return (
        Membership.objects.filter(plan=plan, trial=False)
        .filter(held_now(now))
        .exclude(renewal__status=Membership.Status.ACTIVE)
        .values("member_id")
        .distinct()
        .count()
    )
