"""What the insights pages show, read from the roll-ups (``ShopDay``, ``StaffDay``, ``RewardDay``,
``CohortMonth``, ``MemberActivity``) in a fixed number of small queries, whatever the size of the
shop. Periods are whole days up to yesterday in the shop's time zone; today is counted live."""

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import (
    Campaign,
    CampaignFigures,
    CohortMonth,
    MemberActivity,
    RewardDay,
    Segment,
    ShopDay,
    StaffDay,
)
from members.models import Shop, StaffMember
from rewards.config import shop_rewards
from rewards.models import CatalogueReward, LedgerEntry

from . import rollup
from .stats import uplift

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30


@dataclass(frozen=True)
class Period:
    days: int
    first: date
    last: date
    before_first: date
    before_last: date
    today: date


def period_for(shop: Shop, days: int, now=None) -> Period:
    """The ``days`` whole days up to yesterday, and the same number of days before them."""
    today = rollup.local_day(shop, now or timezone.now())
    last = today - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    return Period(days, first, last, first - timedelta(days=days), first - timedelta(days=1), today)


@dataclass
class Figure:
    key: str
    label: str
    now: float | Decimal | None
    before: float | Decimal | None
    kind: str = "count"  # count, rate (a fraction), money, points, days, decimal
    help: str = ""

    @property
    def change(self) -> float | None:
        """For rates, the difference in percentage points; otherwise the change in percent."""
        if self.now is None or self.before is None:
            return None
        if self.kind == "rate":
            return round(100 * (float(self.now) - float(self.before)), 1)
        if not self.before:
            return None
        return round(100 * (float(self.now) - float(self.before)) / float(self.before))


def _ratio(part, whole):
    return (part / whole) if whole else None


def _sums(rows: list[dict], first: date, last: date) -> dict:
    total: dict = defaultdict(int)
    total["spending"] = Decimal(0)
    for row in rows:
        if first <= row["day"] <= last:
            for name in rollup.ZERO:
                total[name] += row[name]
    return total


def headline(shop: Shop, period: Period, *, full: bool) -> list[Figure]:
    """The period's figures beside the period before: three queries. Managers (``full`` False) get
    the visits and the counter's work; owners also members, points and money."""
    names = [*rollup.ZERO, "day", "active_7", "active_30", "active_90"]
    rows = list(ShopDay.objects.filter(shop=shop, day__gte=period.before_first, day__lte=period.last).values(*names))
    now, before = _sums(rows, period.first, period.last), _sums(rows, period.before_first, period.before_last)
    end = next((row for row in rows if row["day"] == period.last), {})
    end_before = next((row for row in rows if row["day"] == period.before_last), {})
    active = f"active_{period.days}"
    figures = [
        Figure("visits", _("Visits"), now["visits"], before["visits"]),
        Figure(
            "active",
            _("Members who visited"),
            end.get(active, 0),
            end_before.get(active, 0),
            help=_("Members with at least one visit in the period."),
        ),
        Figure(
            "per_member",
            _("Visits per visiting member"),
            _ratio(now["visits"], end.get(active, 0)),
            _ratio(before["visits"], end_before.get(active, 0)),
            kind="decimal",
        ),
        Figure("stamps", _("Stamps given"), now["stamps"], before["stamps"]),
        Figure("vouchers_issued", _("Vouchers issued"), now["vouchers_issued"], before["vouchers_issued"]),
        Figure("vouchers_redeemed", _("Vouchers redeemed"), now["vouchers_redeemed"], before["vouchers_redeemed"]),
        Figure("vouchers_expired", _("Vouchers expired"), now["vouchers_expired"], before["vouchers_expired"]),
        Figure(
            "redemption_rate",
            _("Redemption rate"),
            _ratio(now["vouchers_redeemed"], now["vouchers_issued"]),
            _ratio(before["vouchers_redeemed"], before["vouchers_issued"]),
            kind="rate",
            help=_("Vouchers redeemed for every voucher issued in the period."),
        ),
    ]
    if not full:
        return figures
    totals = ShopDay.objects.filter(shop=shop, day__lte=period.last).aggregate(
        members=Sum("new_members"),
        members_before=Sum("new_members", filter=Q(day__lte=period.before_last)),
        points=Sum("points_net"),
        points_before=Sum("points_net", filter=Q(day__lte=period.before_last)),
    )
    rule = shop_rewards(shop).points_rule
    figures[:0] = [
        Figure("members", _("Members"), totals["members"] or 0, totals["members_before"] or 0),
        Figure("new_members", _("New members"), now["new_members"], before["new_members"]),
        Figure(
            "active_30",
            _("Active in the last 30 days"),
            end.get("active_30", 0),
            end_before.get("active_30", 0),
            help=_("At the end of the period."),
        ),
        Figure(
            "active_90",
            _("Active in the last 90 days"),
            end.get("active_90", 0),
            end_before.get("active_90", 0),
            help=_("At the end of the period."),
        ),
    ]
    figures += [
        Figure("points_earned", _("Points earned"), now["points_earned"], before["points_earned"], kind="points"),
        Figure("points_spent", _("Points spent"), now["points_spent"], before["points_spent"], kind="points"),
        Figure("points_expired", _("Points expired"), now["points_expired"], before["points_expired"], kind="points"),
        Figure(
            "points_outstanding",
            _("Points members hold"),
            totals["points"] or 0,
            totals["points_before"] or 0,
            kind="points",
            help=_("At the end of the period: what the shop owes its members."),
        ),
    ]
    if rule is not None and rule.pays_bills:
        value = rule.bill_value / rule.bill_points

        def worth(points):
            return (Decimal(points or 0) * value).quantize(Decimal("0.01"))

        figures.append(
            Figure(
                "points_value",
                _("Their value"),
                worth(totals["points"]),
                worth(totals["points_before"]),
                kind="money",
                help=_("What the points members hold would take off bills, at the shop's rate."),
            )
        )
    figures += [
        Figure("spending", _("Spending recorded"), now["spending"], before["spending"], kind="money"),
        Figure(
            "average_bill",
            _("Average bill"),
            _money_ratio(now["spending"], now["bills"]),
            _money_ratio(before["spending"], before["bills"]),
            kind="money",
        ),
    ]
    return figures


def _money_ratio(amount, count):
    return (amount / count).quantize(Decimal("0.01")) if count else None


# Today's figures are counted from the day's rows at most this often: a big shop's busy day is tens
# of thousands of rows, and an owner who reloads the page needs no fresher count than a minute.
TODAY_SECONDS = 60


def today(shop: Shop) -> dict:
    """Today so far, counted live from the day's rows (kept for a minute)."""
    day = rollup.local_day(shop, timezone.now())
    return cache.get_or_set(
        f"insights-today:{shop.pk}:{day.isoformat()}",
        lambda: rollup.count_days(shop, day, day, active=False)[day],
        TODAY_SECONDS,
    )


@dataclass
class Series:
    """A chart's points: (label, when, values) and what each value is."""

    by: str
    names: list[str]
    points: list[tuple[date, list]] = field(default_factory=list)


def trend(shop: Shop, period: Period, by: str) -> Series:
    """Visits and new members per day or week over the period, or per month over a year."""
    first = period.first
    if by == "month":
        first = rollup.month_start(period.last - timedelta(days=364))
    elif by == "week":
        first -= timedelta(days=first.weekday())
    rows = ShopDay.objects.filter(shop=shop, day__gte=first, day__lte=period.last).values_list(
        "day", "visits", "new_members"
    )
    buckets: dict[date, list[int]] = {}
    day = first
    while day <= period.last:
        buckets.setdefault(_bucket(day, by), [0, 0])
        day += timedelta(days=1)
    for day, visits, joined in rows:
        bucket = buckets[_bucket(day, by)]
        bucket[0] += visits
        bucket[1] += joined
    return Series(by, ["visits", "new_members"], sorted(buckets.items()))


def _bucket(day: date, by: str) -> date:
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return rollup.month_start(day)
    return day


def heatmap(shop: Shop, period: Period) -> list[list[int]]:
    """Visits by weekday (Monday first) and hour, in the shop's time zone, over the period."""
    grid = [[0] * 24 for _weekday in range(7)]
    rows = ShopDay.objects.filter(shop=shop, day__gte=period.first, day__lte=period.last).values_list("day", "hours")
    for day, hours in rows:
        for hour, count in enumerate(hours or []):
            grid[day.weekday()][hour] += count
    return grid


def latest_snapshot(shop: Shop) -> ShopDay | None:
    return ShopDay.objects.filter(shop=shop).exclude(segments={}).order_by("-day").first()


def segments(shop: Shop) -> tuple[list[tuple[str, str, int]], date | None]:
    """Members per segment, as of the last nightly run."""
    kept = latest_snapshot(shop)
    counts = kept.segments if kept else {}
    return [(value, label, counts.get(value, 0)) for value, label in Segment.choices], kept.day if kept else None


def frequency(shop: Shop) -> list[tuple[str, int]]:
    kept = latest_snapshot(shop)
    counts = kept.frequency if kept else {}
    return [(label, counts.get(label, 0)) for label, _low, _high in rollup.FREQUENCY]


@dataclass
class Cohort:
    month: date
    size: int
    shares: list[float | None]  # of each month since joining, from the joining month on


def retention(shop: Shop, months: int = 12) -> list[Cohort]:
    """The last ``months`` joining months, and the share of each that visited in each month since."""
    last = rollup.local_day(shop, timezone.now())
    first = rollup.month_start(last)
    for _step in range(months - 1):
        first = rollup.month_start(first - timedelta(days=1))
    sizes: dict[date, int] = defaultdict(int)
    for day, joined in ShopDay.objects.filter(shop=shop, day__gte=first).values_list("day", "new_members"):
        sizes[rollup.month_start(day)] += joined
    active = {
        (cohort, month): count
        for cohort, month, count in CohortMonth.objects.filter(shop=shop, cohort__gte=first).values_list(
            "cohort", "month", "active"
        )
    }
    cohorts, calendar = [], []
    month = first
    while month <= last:
        calendar.append(month)
        month = rollup.next_month(month)
    while calendar and not sizes.get(calendar[0]):  # from the first month anyone joined
        calendar.pop(0)
    for index, cohort in enumerate(calendar):
        size = sizes.get(cohort, 0)
        shares = [_ratio(active.get((cohort, month), 0), size) for month in calendar[index:]]
        cohorts.append(Cohort(cohort, size, shares))
    return cohorts


def second_visits(shop: Shop, period: Period) -> tuple[int, int]:
    """Members who joined in the 90 days before the last 30 (so their 30 days are over), and how
    many of them came back within 30 days."""
    last = period.last - timedelta(days=rollup.RETURN_DAYS)
    first = last - timedelta(days=89)
    sums = ShopDay.objects.filter(shop=shop, day__gte=first, day__lte=last).aggregate(
        joined=Sum("new_members"), returned=Sum("returned")
    )
    return sums["joined"] or 0, sums["returned"] or 0


def segment_members(shop: Shop, segment: str):
    return (
        MemberActivity.objects.filter(shop=shop, segment=segment)
        .select_related("member")
        .order_by("-last_visit", "-member_id")
    )


@dataclass
class Programme:
    cards_filled: int
    fill_days: float | None
    card_vouchers: int
    card_vouchers_redeemed: int
    rewards: list[tuple[str, int]]
    tiers: list[tuple[str, int]]
    moves: list[tuple[str, str, int]]
    campaigns: list[tuple[Campaign, dict, object]]

    @property
    def redeemed_share(self):
        return _ratio(self.card_vouchers_redeemed, self.card_vouchers)


def programme(shop: Shop, period: Period) -> Programme:
    sums = ShopDay.objects.filter(shop=shop, day__gte=period.first, day__lte=period.last).aggregate(
        filled=Sum("cards_filled"),
        days=Sum("fill_days"),
        vouchers=Sum("card_vouchers"),
        redeemed=Sum("card_vouchers_redeemed"),
    )
    top = (
        RewardDay.objects.filter(shop=shop, day__gte=period.first, day__lte=period.last)
        .values("reward")
        .annotate(n=Sum("redeemed"))
        .order_by("-n")[:10]
    )
    names = dict(CatalogueReward.objects.filter(shop=shop).values_list("pk", "name"))
    tiers = {str(tier.pk): tier.name for tier in shop_rewards(shop).tiers}
    kept = latest_snapshot(shop)
    counts = kept.tiers if kept else {}
    distribution = [(_("No tier"), counts.get("", 0))] + [(name, counts.get(pk, 0)) for pk, name in tiers.items()]
    # Counted by the nightly roll-up: the period's days, not its moves.
    counted: dict[str, int] = defaultdict(int)
    days = ShopDay.objects.filter(shop=shop, day__gte=period.first, day__lte=period.last)
    for day_moves in days.values_list("tier_moves", flat=True):
        for move, n in day_moves.items():
            counted[move] += n
    nobody = str(_("No tier"))
    moved = []
    for move, n in sorted(counted.items(), key=lambda item: -item[1]):
        from_tier, to_tier = move.split(">")
        moved.append((tiers.get(from_tier, nobody), tiers.get(to_tier, nobody), n))
    compared = []
    for kept_figures in CampaignFigures.objects.filter(campaign__shop=shop).select_related("campaign").order_by("-pk"):
        reached, held = kept_figures.figures["reached"], kept_figures.figures["held_out"]
        found = uplift(reached["members"], reached["returned"], held["members"], held["returned"])
        compared.append((kept_figures.campaign, kept_figures.figures, found))
    return Programme(
        cards_filled=sums["filled"] or 0,
        fill_days=(sums["days"] / sums["filled"]) if sums["filled"] else None,
        card_vouchers=sums["vouchers"] or 0,
        card_vouchers_redeemed=sums["redeemed"] or 0,
        rewards=[(names.get(row["reward"], "?"), row["n"]) for row in top],
        tiers=distribution,
        moves=moved,
        campaigns=compared,
    )


# Flags: what an owner should look at. Each names the rows behind it (a filter of the rows page).
PEER_FACTOR, PEER_MIN_STAMPS = 2, 20
SHARE_LIMIT, SHARE_MIN_VISITS = 0.10, 10
REPEAT_OVERRIDES = 3
QUIET_SHARE = 0.01  # an hour with less than this share of the shop's visits is "usually closed"


@dataclass
class StaffRow:
    user_id: int
    name: str
    visits: int = 0
    stamps: int = 0
    overrides: int = 0
    undos: int = 0
    redemptions: int = 0
    quiet_stamps: int = 0


@dataclass
class Flag:
    kind: str
    text: str
    rows: dict  # the rows page's filter


def staff(shop: Shop, period: Period) -> list[StaffRow]:
    names = {
        row["user_id"]: row["user__email"]
        for row in StaffMember.objects.filter(shop=shop).values("user_id", "user__email")
    }
    out: dict[int, StaffRow] = {}
    quiet = quiet_hours(shop, period)
    rows = StaffDay.objects.filter(shop=shop, day__gte=period.first, day__lte=period.last).values(
        "staff_id", "staff__email", "visits", "stamps", "overrides", "undos", "redemptions", "hours"
    )
    for row in rows:
        user = row["staff_id"]
        line = out.setdefault(user, StaffRow(user, names.get(user, row["staff__email"])))
        for name in ("visits", "stamps", "overrides", "undos", "redemptions"):
            setattr(line, name, getattr(line, name) + row[name])
        line.quiet_stamps += sum(count for hour, count in enumerate(row["hours"] or []) if hour in quiet)
    return sorted(out.values(), key=lambda line: (-line.stamps, line.name))


def quiet_hours(shop: Shop, period: Period) -> set[int]:
    """Hours in which the shop is usually closed: under QUIET_SHARE of its visits over 90 days."""
    longer = period_for(shop, 90)
    totals = [0] * 24
    for hours in ShopDay.objects.filter(shop=shop, day__gte=longer.first, day__lte=period.last).values_list(
        "hours", flat=True
    ):
        for hour, count in enumerate(hours or []):
            totals[hour] += count
    visits = sum(totals)
    if visits < 100:
        return set()
    return {hour for hour, count in enumerate(totals) if count < QUIET_SHARE * visits}


def _staff_flags(line: StaffRow, lines: list[StaffRow]) -> list[Flag]:
    """One person's flags: far above the others, many overrides or undos, stamps at quiet hours.
    Each is (kind, raised, text, its numbers, the kind of rows behind it)."""
    peers = [other.stamps for other in lines if other is not line]
    middle = statistics.median(peers) if peers else 0
    busy = line.visits >= SHARE_MIN_VISITS
    checks = [
        ("peers", bool(peers) and line.stamps >= PEER_MIN_STAMPS and line.stamps > PEER_FACTOR * max(middle, 1),
         _("%(name)s gave %(stamps)s stamps, more than twice as many as the others' middle (%(middle)s)."),
         {"stamps": line.stamps, "middle": round(middle)}, "stamps"),
        ("overrides", busy and line.overrides > SHARE_LIMIT * line.visits,
         _("%(name)s went past the limits %(count)s times in %(visits)s visits."),
         {"count": line.overrides, "visits": line.visits}, "override"),
        ("undos", busy and line.undos > SHARE_LIMIT * line.visits,
         _("%(name)s undid %(count)s actions in %(visits)s visits."),
         {"count": line.undos, "visits": line.visits}, "undo"),
        ("quiet", line.quiet_stamps > 0,
         _("%(name)s gave %(count)s stamps at hours the shop is usually closed."),
         {"count": line.quiet_stamps}, "quiet"),
    ]  # fmt: skip
    return [
        Flag(kind, text % {"name": line.name, **numbers}, {"kind": rows, "staff": line.user_id})
        for kind, raised, text, numbers, rows in checks
        if raised
    ]


def flags(shop: Shop, period: Period, lines: list[StaffRow]) -> list[Flag]:
    """What an owner should look at in the period, each with the rows behind it."""
    found = [flag for line in lines for flag in _staff_flags(line, lines)]
    start, end = rollup.bounds(shop, period.first, period.last)
    repeated = (
        LedgerEntry.objects.filter(shop=shop, override=True, created_at__gte=start, created_at__lt=end)
        .values("member", "member__public_id", "member__name")
        .annotate(n=Count("group", distinct=True))
        .filter(n__gte=REPEAT_OVERRIDES)
        .order_by("-n")[:20]
    )
    for row in repeated:
        text = _("%(name)s was stamped past the limits %(count)s times.")
        found.append(
            Flag(
                "member",
                text % {"name": row["member__name"], "count": row["n"]},
                {"kind": "override", "member": str(row["member__public_id"])},
            )
        )
    # Counted by the nightly roll-up, a few sources a day at most: the period's days, not its members.
    sources = ShopDay.objects.filter(shop=shop, day__gte=period.first, day__lte=period.last).values_list(
        "day", "join_sources"
    )
    joins = [{"joined_from": src, "d": day, "n": n} for day, found in sources for src, n in found.items()]
    for row in sorted(joins, key=lambda row: (-row["n"], row["d"]))[:20]:
        text = _("%(count)s members joined from one network address on %(day)s.")
        found.append(
            Flag(
                "joins",
                text % {"count": row["n"], "day": formats.date_format(row["d"], "SHORT_DATE_FORMAT")},
                {"kind": "joins", "source": row["joined_from"], "day": row["d"].isoformat()},
            )
        )
    return found
