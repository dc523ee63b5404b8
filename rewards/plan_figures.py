"""What the owner's plans page shows of the plans' business: per plan, the memberships running, the
prepaid items still owed and the sales of the last 30 days; for the shop, the same in sum, what the
items owed are worth (a liability: drinks paid for and not served yet) and this month's sales.

Two grouped queries whatever the number of plans, memberships or sales: one over the memberships held
now, one over the sales in the ledger.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, Func, Q, Sum
from django.utils import timezone

from members.models import Shop

from .models import LedgerEntry, Membership, MembershipPlan

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
    """Memberships a member holds at ``now``: running, not over, and for a bundle, with items left."""
    return (
        Q(status=Membership.Status.ACTIVE)
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
    since: datetime | None = None  # the month's first moment, in the shop's time zone
    plans: dict[int, PlanFigures] = field(default_factory=dict)  # by plan id

    def of(self, plan: MembershipPlan) -> PlanFigures:
        return self.plans.get(plan.pk) or PlanFigures()


def plans_summary(shop: Shop, now: datetime | None = None) -> PlansSummary:
    """The figures of every plan of ``shop`` and their sum: two queries."""
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
        summary.items_left += figures.items_left
        summary.items_value += figures.items_value
    recent = now - timedelta(days=SALES_DAYS)
    in_month = Q(created_at__gte=summary.since)
    in_recent = Q(created_at__gte=recent)
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
    return summary
