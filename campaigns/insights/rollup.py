"""Counting a shop's days: every figure of a day in a few grouped queries over a range of days, in
the shop's time zone, so the same code fills the roll-up tables (the nightly task, the backfill
command) and counts today live for the pages. Nothing loops over members in Python."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Case, Count, DecimalField, Exists, F, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, ExtractHour, TruncDate, TruncMonth
from django.utils import timezone

from members.models import Member, Shop
from rewards.models import LedgerEntry, Purchase, TierChange, Voucher

from ..models import CohortMonth, MemberActivity, RewardDay, Segment, ShopDay, StaffDay

Reason = LedgerEntry.Reason
# Rows that give stamps or points (a manager's correction is not "given"; it is in the balance).
GIVING = [Reason.VISIT, Reason.PURCHASE, Reason.CAMPAIGN, Reason.BONUS]
RETURN_DAYS = 30
ACTIVE_SPANS = (7, 30, 90)
ACTIVE = [f"active_{span}" for span in ACTIVE_SPANS]
ZERO = {
    "visits": 0,
    "visitors": 0,
    "new_members": 0,
    "returned": 0,
    "stamps": 0,
    "vouchers_issued": 0,
    "vouchers_redeemed": 0,
    "vouchers_expired": 0,
    "points_earned": 0,
    "points_spent": 0,
    "points_expired": 0,
    "points_net": 0,
    "spending": Decimal(0),
    "bills": 0,
    "cards_filled": 0,
    "fill_days": 0,
    "card_vouchers": 0,
    "card_vouchers_redeemed": 0,
}
# Members joining from one network address in one day, from this many on, are a flag for the owner.
SAME_SOURCE_JOINS = 5
# The segments' rules, in days and visits; the customers page says them in words.
NEW_DAYS, REGULAR_DAYS, REGULAR_VISITS, RISK_DAYS, RISK_VISITS = 30, 30, 4, 90, 2
FREQUENCY = [
    ("0", 0, 0),
    ("1", 1, 1),
    ("2", 2, 2),
    ("3-5", 3, 5),
    ("6-11", 6, 11),
    ("12-23", 12, 23),
    ("24+", 24, None),
]


def local_day(shop: Shop, when: datetime) -> date:
    return timezone.localtime(when, shop.tz).date()


def bounds(shop: Shop, first: date, last: date) -> tuple[datetime, datetime]:
    """From the shop's midnight starting ``first`` to the one ending ``last``."""
    return (
        datetime.combine(first, time.min, tzinfo=shop.tz),
        datetime.combine(last + timedelta(days=1), time.min, tzinfo=shop.tz),
    )


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _by_day(queryset, column: str, shop: Shop, **aggregates) -> dict[date, dict]:
    rows = queryset.annotate(d=TruncDate(column, tzinfo=shop.tz)).values("d").annotate(**aggregates)
    return {row.pop("d"): row for row in rows}


def count_days(shop: Shop, first: date, last: date, *, active: bool = True) -> dict[date, dict]:
    """Every figure of every day from ``first`` to ``last``: {day: {figure: value, hours: [24]}}."""
    start, end = bounds(shop, first, last)
    days = {day: dict(ZERO, hours=[0] * 24, join_sources={}, tier_moves={}) for day in days_between(first, last)}

    def merge(found: dict[date, dict]):
        for day, values in found.items():
            if day in days:
                days[day].update({name: value or 0 for name, value in values.items()})

    ledger = LedgerEntry.objects.filter(shop=shop, created_at__gte=start, created_at__lt=end)
    kept = Q(voided_by__isnull=True)
    visits = ledger.visits()
    merge(_by_day(visits, "created_at", shop, visits=Count("id"), visitors=Count("member", distinct=True)))
    hourly = (
        visits.annotate(d=TruncDate("created_at", tzinfo=shop.tz), h=ExtractHour("created_at", tzinfo=shop.tz))
        .values("d", "h")
        .annotate(n=Count("id"))
    )
    for row in hourly:
        if row["d"] in days:
            days[row["d"]]["hours"][row["h"]] = row["n"]
    merge(
        _by_day(
            ledger,
            "created_at",
            shop,
            stamps=Sum("stamps", filter=kept & Q(reason__in=GIVING, stamps__gt=0)),
            points_earned=Sum("points", filter=kept & Q(reason__in=GIVING, points__gt=0)),
            points_spent=-Sum("points", filter=kept & Q(reason=Reason.REDEEM, points__lt=0)),
            points_expired=-Sum("points", filter=Q(reason=Reason.EXPIRY)),
            points_net=Sum("points"),
            vouchers_redeemed=Count("id", filter=kept & Q(reason=Reason.REDEEM, voucher__isnull=False)),
        )
    )
    # Cards filled, and how long each took: from the card's previous fill, or its first stamp.
    stamped = LedgerEntry.objects.filter(card=OuterRef("card"), created_at__lt=OuterRef("created_at"))
    since = Coalesce(
        Subquery(
            stamped.filter(reason=Reason.CARD_COMPLETE, voided_by__isnull=True)
            .order_by("-created_at")
            .values("created_at")[:1]
        ),
        Subquery(stamped.filter(stamps__gt=0).order_by("created_at").values("created_at")[:1]),
    )
    filled = ledger.filter(kept, reason=Reason.CARD_COMPLETE).annotate(since=since).values_list("created_at", "since")
    for done, began in filled:
        day = local_day(shop, done)
        days[day]["cards_filled"] += 1
        days[day]["fill_days"] += (day - local_day(shop, began or done)).days
    # New members, and those of them who came back on a later day within RETURN_DAYS.
    came_back = (
        LedgerEntry.objects.visits()
        .filter(member=OuterRef("pk"), created_at__lte=OuterRef("joined_at") + timedelta(days=RETURN_DAYS))
        .annotate(d=TruncDate("created_at", tzinfo=shop.tz))
        .filter(d__gt=OuterRef("join_day"))
    )
    joined = Member.all_objects.filter(shop=shop, joined_at__gte=start, joined_at__lt=end).annotate(
        join_day=TruncDate("joined_at", tzinfo=shop.tz), back=Exists(came_back)
    )
    merge(_by_day(joined, "joined_at", shop, new_members=Count("id"), returned=Count("id", filter=Q(back=True))))
    sources = (
        Member.objects.filter(shop=shop, joined_at__gte=start, joined_at__lt=end)
        .exclude(joined_from="")
        .annotate(d=TruncDate("joined_at", tzinfo=shop.tz))
        .values("d", "joined_from")
        .annotate(n=Count("pk"))
        .filter(n__gte=SAME_SOURCE_JOINS)
    )
    for row in sources:
        if row["d"] in days:
            days[row["d"]]["join_sources"][row["joined_from"]] = row["n"]
    moves = (
        TierChange.objects.filter(shop=shop, created_at__gte=start, created_at__lt=end)
        .annotate(d=TruncDate("created_at", tzinfo=shop.tz))
        .values("d", "from_tier", "to_tier")
        .annotate(n=Count("id"))
    )
    for row in moves:
        if row["d"] in days:
            days[row["d"]]["tier_moves"][f"{row['from_tier'] or ''}>{row['to_tier'] or ''}"] = row["n"]
    vouchers = Voucher.objects.filter(shop=shop)
    issued = vouchers.filter(issued_at__gte=start, issued_at__lt=end)
    carded = Q(program__isnull=False)
    merge(
        _by_day(
            issued,
            "issued_at",
            shop,
            vouchers_issued=Count("id"),
            card_vouchers=Count("id", filter=carded),
            card_vouchers_redeemed=Count("id", filter=carded & Q(status=Voucher.Status.REDEEMED)),
        )
    )
    expired = vouchers.filter(status=Voucher.Status.EXPIRED, expires_at__gte=start, expires_at__lt=end)
    merge(_by_day(expired, "expires_at", shop, vouchers_expired=Count("id")))
    purchases = Purchase.objects.filter(shop=shop, created_at__gte=start, created_at__lt=end)
    merge(
        _by_day(
            purchases,
            "created_at",
            shop,
            spending=Sum(F("amount") - F("refunded_amount")),
            bills=Count("id", filter=Q(refunded_amount__lt=F("amount"))),
        )
    )
    if active:
        for day, values in count_active(shop, first, last).items():
            days[day] |= values
    return days


def count_active(shop: Shop, first: date, last: date) -> dict[date, dict[str, int]]:
    """Members with a visit in the 7, 30 and 90 days up to the end of each day from ``first`` to
    ``last``, in one pass over the visits: each member's visiting days in order, each day keeping
    the member active until the span ends or the next visiting day takes over (so no member counts
    twice), summed as the starts and ends of those stretches."""
    reach = max(ACTIVE_SPANS)
    start, end = bounds(shop, first - timedelta(days=reach - 1), last)
    visiting = (
        LedgerEntry.objects.filter(shop=shop, created_at__gte=start, created_at__lt=end)
        .visits()
        .annotate(who=F("member"), d=TruncDate("created_at", tzinfo=shop.tz))
        .values("who", "d")
        .distinct()
    )
    sql, params = visiting.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d, nxt, COUNT(*) FROM (SELECT d, LEAD(d) OVER (PARTITION BY who ORDER BY d) AS nxt "  # noqa: S608
            f"FROM ({sql}) AS visiting) AS stretches GROUP BY d, nxt",
            params,
        )
        stretches = [(_day(d), _day(nxt) if nxt else None, n) for d, nxt, n in cursor.fetchall()]
    counts = {}
    for span in ACTIVE_SPANS:
        change: dict[date, int] = {}
        for day, following, n in stretches:
            until = day + timedelta(days=span)
            if following is not None and following < until:
                until = following
            change[day] = change.get(day, 0) + n
            change[until] = change.get(until, 0) - n
        running = 0
        for day in days_between(first - timedelta(days=reach - 1), last):
            running += change.get(day, 0)
            if day >= first:
                counts.setdefault(day, {})[f"active_{span}"] = running
    return counts


def _day(value) -> date:
    """A date from the database: SQLite gives its text."""
    return date.fromisoformat(value) if isinstance(value, str) else _as_date(value)


def count_staff(shop: Shop, first: date, last: date) -> dict[tuple[date, int], dict]:
    """What each member of staff did each day: visits, stamps (and their hours), overrides, undos
    and redemptions."""
    start, end = bounds(shop, first, last)
    ledger = LedgerEntry.objects.filter(shop=shop, created_at__gte=start, created_at__lt=end, staff__isnull=False)
    kept = Q(voided_by__isnull=True)
    given = kept & Q(reason__in=GIVING, stamps__gt=0)
    rows = (
        ledger.annotate(d=TruncDate("created_at", tzinfo=shop.tz))
        .values("d", "staff")
        .annotate(
            visits=Count("id", filter=kept & Q(opens_visit=True)),
            stamps=Sum("stamps", filter=given),
            overrides=Count("group", filter=Q(override=True), distinct=True),
            undos=Count("group", filter=Q(reason=Reason.VOID), distinct=True),
            redemptions=Count(
                "id", filter=kept & Q(reason=Reason.REDEEM) & (Q(voucher__isnull=False) | Q(reward__isnull=False))
            ),
        )
    )
    out = {(row.pop("d"), row.pop("staff")): {k: v or 0 for k, v in row.items()} | {"hours": [0] * 24} for row in rows}
    hourly = (
        ledger.filter(given)
        .annotate(d=TruncDate("created_at", tzinfo=shop.tz), h=ExtractHour("created_at", tzinfo=shop.tz))
        .values("d", "staff", "h")
        .annotate(n=Sum("stamps"))
    )
    for row in hourly:
        out[(row["d"], row["staff"])]["hours"][row["h"]] = row["n"]
    return out


def count_rewards(shop: Shop, first: date, last: date) -> dict[tuple[date, int], int]:
    start, end = bounds(shop, first, last)
    rows = (
        LedgerEntry.objects.filter(
            shop=shop, created_at__gte=start, created_at__lt=end, reason=Reason.REDEEM, reward__isnull=False
        )
        .filter(voided_by__isnull=True)
        .annotate(d=TruncDate("created_at", tzinfo=shop.tz))
        .values("d", "reward")
        .annotate(n=Count("id"))
    )
    return {(row["d"], row["reward"]): row["n"] for row in rows}


@transaction.atomic
def refresh(shop: Shop, first: date, last: date, *, active_from: date | None = None) -> int:
    """Count the days from ``first`` to ``last`` again and store them: run it for any day, as
    often as wanted, and the rows end up the same. The active counts (three distinct counts a day,
    the dearest figures) are counted from ``active_from`` on; a stored day before it keeps its own,
    for the caller knows nothing they count has changed there."""
    now = timezone.now()
    days = count_days(shop, first, last, active=False)
    kept = {
        row["day"]: row
        for row in ShopDay.objects.filter(shop=shop, day__gte=first, day__lte=last).values(
            "day", "segments", "frequency", "tiers", *ACTIVE
        )
    }
    counted = active_from is None or any(day not in kept for day in days)
    active = count_active(shop, first if counted else max(first, active_from), last)
    for day, values in days.items():
        if day in active and (active_from is None or day >= active_from or day not in kept):
            values |= active[day]
        else:
            values |= {name: kept[day][name] for name in ACTIVE}
    ShopDay.objects.filter(shop=shop, day__gte=first, day__lte=last).delete()
    ShopDay.objects.bulk_create(
        [
            ShopDay(shop=shop, day=day, computed_at=now, **values, **_snapshot(kept.get(day)))
            for day, values in days.items()
        ]
    )
    StaffDay.objects.filter(shop=shop, day__gte=first, day__lte=last).delete()
    StaffDay.objects.bulk_create(
        [
            StaffDay(shop=shop, day=day, staff_id=staff, **values)
            for (day, staff), values in count_staff(shop, first, last).items()
        ]
    )
    RewardDay.objects.filter(shop=shop, day__gte=first, day__lte=last).delete()
    RewardDay.objects.bulk_create(
        [
            RewardDay(shop=shop, day=day, reward_id=reward, redeemed=n)
            for (day, reward), n in count_rewards(shop, first, last).items()
        ]
    )
    return len(days)


def _snapshot(row: dict | None) -> dict:
    """A day's segment, frequency and tier counts survive counting its other figures again."""
    if not row:
        return {}
    return {"segments": row["segments"], "frequency": row["frequency"], "tiers": row["tiers"]}


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


@transaction.atomic
def refresh_cohorts(shop: Shop, months: list[date]) -> None:
    """For each month, how many members of each joining month visited in it."""
    for month in months:
        start, end = bounds(shop, month, next_month(month) - timedelta(days=1))
        rows = (
            LedgerEntry.objects.filter(shop=shop, created_at__gte=start, created_at__lt=end)
            .visits()
            .annotate(cohort=TruncMonth("member__joined_at", tzinfo=shop.tz))
            .values("cohort")
            .annotate(active=Count("member", distinct=True))
        )
        CohortMonth.objects.filter(shop=shop, month=month).delete()
        CohortMonth.objects.bulk_create(
            [CohortMonth(shop=shop, cohort=_as_date(row["cohort"]), month=month, active=row["active"]) for row in rows]
        )


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def segment_case(now: datetime):
    """The segments as one SQL expression over a member's joining, last visit and visit counts."""
    days = lambda n: now - timedelta(days=n)  # noqa: E731
    return Case(
        When(joined_at__gte=days(NEW_DAYS), then=Value(Segment.NEW)),
        When(last__gte=days(REGULAR_DAYS), v90__gte=REGULAR_VISITS, then=Value(Segment.REGULAR)),
        When(Q(last__isnull=True) | Q(last__lt=days(RISK_DAYS)), then=Value(Segment.LAPSED)),
        When(last__lt=days(REGULAR_DAYS), v365__gte=RISK_VISITS, then=Value(Segment.AT_RISK)),
        default=Value(Segment.OCCASIONAL),
    )


def activity_query(shop: Shop, now: datetime):
    """Every member of the shop with their last visit, visits in 90 and 365 days, spending in 365
    days and segment: one query, counted by the database."""
    visits = LedgerEntry.objects.visits().filter(member=OuterRef("pk"), created_at__lte=now)

    def visits_since(days: int):
        counted = visits.filter(created_at__gt=now - timedelta(days=days)).values("member").annotate(n=Count("id"))
        return Coalesce(Subquery(counted.values("n")), 0, output_field=IntegerField())

    spent = (
        Purchase.objects.filter(member=OuterRef("pk"), created_at__gt=now - timedelta(days=365), created_at__lte=now)
        .values("member")
        .annotate(s=Sum(F("amount") - F("refunded_amount")))
        .values("s")
    )
    return (
        Member.objects.filter(shop=shop, joined_at__lte=now)
        .annotate(
            last=Subquery(visits.order_by("-created_at").values("created_at")[:1]),
            v90=visits_since(90),
            v365=visits_since(365),
            spend=Coalesce(
                Subquery(spent), Value(Decimal(0)), output_field=DecimalField(max_digits=14, decimal_places=2)
            ),
        )
        .annotate(segment=segment_case(now))
        .values_list("pk", "shop_id", "last", "v90", "v365", "spend", "segment")
    )


def refresh_activity(shop: Shop, now: datetime | None = None) -> None:
    """Every member's activity row written by the database in one INSERT ... SELECT."""
    now = now or timezone.now()
    sql, params = activity_query(shop, now).query.sql_with_params()
    table = MemberActivity._meta.db_table
    columns = "member_id, shop_id, last_visit, visits_90, visits_365, spend_365, segment"
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", ")[1:])
    with transaction.atomic(), connection.cursor() as cursor:
        # WHERE true: SQLite's parser needs it between a SELECT and ON CONFLICT.
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT * FROM ({sql}) AS activity WHERE true "  # noqa: S608
            f"ON CONFLICT (member_id) DO UPDATE SET {updates}",
            params,
        )


def snapshot(shop: Shop, day: date) -> None:
    """Store the members per segment, per visit frequency and per tier on ``day``'s row."""
    activity = MemberActivity.objects.filter(shop=shop)
    segments = {row["segment"]: row["n"] for row in activity.values("segment").annotate(n=Count("pk"))}
    buckets = {}
    for label, low, high in FREQUENCY:
        q = Q(visits_365__gte=low) & (Q(visits_365__lte=high) if high is not None else Q())
        buckets[label] = Count("pk", filter=q)
    frequency = activity.aggregate(**buckets)
    tiers = {
        str(row["tier"] or ""): row["n"]
        for row in Member.objects.filter(shop=shop).values("tier").annotate(n=Count("pk"))
    }
    ShopDay.objects.update_or_create(
        shop=shop, day=day, defaults={"segments": segments, "frequency": frequency, "tiers": tiers}
    )


def touched_days(shop: Shop, since: datetime) -> set[date]:
    """Older days whose figures changed since ``since``: a visit undone after midnight, a purchase
    refunded weeks later, a card's voucher redeemed (or its redemption undone) later."""
    rows = LedgerEntry.objects.filter(shop=shop, created_at__gte=since)
    found = [
        *rows.filter(reason=Reason.VOID, voids__isnull=False).values_list("voids__created_at", flat=True),
        *rows.filter(reason=Reason.VOID, voids__voucher__isnull=False).values_list(
            "voids__voucher__issued_at", flat=True
        ),
        *rows.filter(reason=Reason.REFUND, purchase__isnull=False).values_list("purchase__created_at", flat=True),
        *rows.filter(reason=Reason.REDEEM, voucher__isnull=False).values_list("voucher__issued_at", flat=True),
    ]
    return {local_day(shop, when) for when in found if when}


def roll_up(shop: Shop, now: datetime | None = None) -> int:
    """The nightly run for one shop: the last RETURN_DAYS + 2 days (late undos, members who may
    still come back), any older day an undo, refund or redemption touched since the last run, this
    month's and last month's retention, every member's segment. Returns the days counted."""
    now = now or timezone.now()
    today = local_day(shop, now)
    last = today - timedelta(days=1)
    first = last - timedelta(days=RETURN_DAYS + 1)
    latest = ShopDay.objects.filter(shop=shop).order_by("-computed_at").values_list("computed_at", flat=True).first()
    if latest is None:
        # The first run for a shop with a history (an upgrade): every past day, so the running
        # totals (members, points held) start from the shop's first day.
        return backfill(shop, now=now)
    touched = touched_days(shop, latest)
    # The active counts change only for the new day and after a day that changed: a refunded or
    # undone visit leaves the 7, 30 and 90 days that held it. Those days are counted again; the
    # window's other days keep theirs.
    counted = refresh(shop, first, last, active_from=min([last - timedelta(days=1), *touched]))
    # Before the window, a changed day also changes the "came back" of members who joined in the
    # RETURN_DAYS before it.
    redo: set[date] = set()
    for day in touched:
        since = day - timedelta(days=RETURN_DAYS + 1)
        redo.update(days_between(since, min(day + timedelta(days=max(ACTIVE_SPANS) - 1), first - timedelta(days=1))))
    for start, end in _runs(sorted(redo)):
        counted += refresh(shop, start, end)
    refresh_cohorts(shop, sorted({month_start(last), month_start(first)} | {month_start(day) for day in touched}))
    refresh_activity(shop, now)
    snapshot(shop, last)
    return counted


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days: [(first, last), ...]."""
    runs: list[list[date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(first, last) for first, last in runs]


RUNNING = "insights-roll-up:{}"


def run_due(now: datetime | None = None) -> int:
    """The beat task: each shop whose yesterday is not counted yet, unless a run for it is still
    going on (a first run counts a big shop's whole history, which can take longer than the hour
    between beats). Returns the days counted."""
    counted = 0
    for shop in due(now):
        key = RUNNING.format(shop.pk)
        if not cache.add(key, "running", timeout=6 * 3600):
            continue
        try:
            counted += roll_up(shop, now)
        finally:
            cache.delete(key)
    return counted


def due(now: datetime | None = None):
    """Shops whose yesterday (in their own time zone) is not counted yet."""
    now = now or timezone.now()
    for shop in Shop.objects.all().iterator():
        yesterday = local_day(shop, now) - timedelta(days=1)
        if not ShopDay.objects.filter(shop=shop, day=yesterday).exists():
            yield shop


def backfill(shop: Shop, first: date | None = None, chunk: int = 31, now: datetime | None = None) -> int:
    """Every day from the shop's first member (or ``first``) to yesterday, a month at a time, with
    the retention of every month and today's segments."""
    now = now or timezone.now()
    last = local_day(shop, now) - timedelta(days=1)
    if first is None:
        earliest = (
            Member.all_objects.filter(shop=shop).order_by("joined_at").values_list("joined_at", flat=True).first()
        )
        first = local_day(shop, earliest) if earliest else last
    counted, start = 0, first
    while start <= last:
        end = min(start + timedelta(days=chunk - 1), last)
        counted += refresh(shop, start, end)
        start = end + timedelta(days=1)
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = next_month(month)
    refresh_cohorts(shop, months)
    refresh_activity(shop, now)
    snapshot(shop, last)
    return counted
