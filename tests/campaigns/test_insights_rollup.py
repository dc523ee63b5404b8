"""The insights' roll-ups against a direct count of the ledger, on generated histories.

Hypothesis draws a shop in one of several time zones and two months of counter work (joins, stamps,
purchases, undos right after, some across midnight, refunds weeks later, redemptions), runs the
nightly task once for every day as beat would, and checks that every stored day equals what a
plain Python count of the rows says, and that a backfill from scratch gives the same rows."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import time_machine
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.insights import rollup
from campaigns.models import CohortMonth, ShopDay
from members.models import Member
from rewards import services
from rewards.ledger import LoyaltyError
from rewards.models import LedgerEntry, PointsRule, Purchase, Voucher

from ..conftest import key
from ..factories import MemberFactory, ShopFactory, StaffFactory, StampProgramFactory

ZONES = ["Asia/Taipei", "America/Los_Angeles", "Pacific/Kiritimati", "UTC"]
START = date(2026, 3, 1)
DAYS = 45
FIGURES = [
    "visits", "visitors", "new_members", "returned", "stamps", "vouchers_issued", "vouchers_redeemed",
    "points_earned", "points_spent", "points_net", "spending", "bills", "active_7", "active_30", "active_90", "hours",
]  # fmt: skip

action = st.tuples(
    st.sampled_from(["join", "stamp", "stamp", "buy", "buy", "undo", "refund", "redeem"]),
    st.integers(0, DAYS - 1),  # day
    st.sampled_from([0, 7, 9, 12, 18, 23]),  # hour: midnight and late evening included
    st.sampled_from([0, 30, 58]),  # minute: 23:58 is undone after midnight
    st.integers(0, 7),  # which member (or purchase)
    st.sampled_from([Decimal(60), Decimal(125), Decimal(480)]),
)


def _local(zone, day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def direct(shop, day: date) -> dict:
    """The day's figures by plain Python over every row of the shop: the oracle."""
    tz = shop.tz

    def on(moment):
        return moment.astimezone(tz).date()

    rows = list(LedgerEntry.objects.filter(shop=shop).select_related("purchase"))
    voided = {row.voids_id for row in rows if row.voids_id}

    def is_visit(row):
        refunded = row.reason == "purchase" and row.purchase and row.purchase.refunded_amount == row.purchase.amount
        return row.opens_visit and row.pk not in voided and not refunded

    visits = [row for row in rows if is_visit(row)]
    kept = [row for row in rows if row.pk not in voided]
    out = defaultdict(int, hours=[0] * 24)
    for row in visits:
        if on(row.created_at) == day:
            out["visits"] += 1
            out["hours"][row.created_at.astimezone(tz).hour] += 1
    out["visitors"] = len({row.member_id for row in visits if on(row.created_at) == day})
    for span in (7, 30, 90):
        first = day - timedelta(days=span - 1)
        out[f"active_{span}"] = len({row.member_id for row in visits if first <= on(row.created_at) <= day})
    giving = {"visit", "purchase", "campaign", "bonus"}
    for row in kept:
        if on(row.created_at) != day:
            continue
        if row.reason in giving and row.stamps > 0:
            out["stamps"] += row.stamps
        if row.reason in giving and row.points > 0:
            out["points_earned"] += row.points
        if row.reason == "redeem" and row.points < 0:
            out["points_spent"] -= row.points
        if row.reason == "redeem" and row.voucher_id:
            out["vouchers_redeemed"] += 1
    out["points_net"] = sum(row.points for row in rows if on(row.created_at) == day)
    members = [m for m in Member.objects.filter(shop=shop) if on(m.joined_at) == day]
    out["new_members"] = len(members)
    out["returned"] = sum(
        1
        for m in members
        if any(
            row.member_id == m.pk and on(row.created_at) > day and row.created_at <= m.joined_at + timedelta(days=30)
            for row in visits
        )
    )
    out["vouchers_issued"] = sum(1 for v in Voucher.objects.filter(shop=shop) if on(v.issued_at) == day)
    purchases = [p for p in Purchase.objects.filter(shop=shop) if on(p.created_at) == day]
    out["spending"] = sum((p.amount - p.refunded_amount for p in purchases), Decimal(0))
    out["bills"] = sum(1 for p in purchases if p.refunded_amount < p.amount)
    return {name: out[name] for name in FIGURES}


def direct_cohorts(shop) -> dict[tuple[date, date], int]:
    """Of each joining month's members, how many visited in each month: the oracle."""
    tz = shop.tz
    rows = list(LedgerEntry.objects.filter(shop=shop).select_related("purchase", "member"))
    voided = {row.voids_id for row in rows if row.voids_id}
    seen = defaultdict(set)
    for row in rows:
        refunded = row.reason == "purchase" and row.purchase and row.purchase.refunded_amount == row.purchase.amount
        if row.opens_visit and row.pk not in voided and not refunded:
            joined = row.member.joined_at.astimezone(tz).date().replace(day=1)
            seen[(joined, row.created_at.astimezone(tz).date().replace(day=1))].add(row.member_id)
    return {months: len(members) for months, members in seen.items()}


def stored(shop, day: date) -> dict:
    row = ShopDay.objects.get(shop=shop, day=day)
    return {name: getattr(row, name) for name in FIGURES}


def play(shop, staff, program, actions) -> None:
    tz = shop.tz
    people: list[Member] = []
    groups, purchases = [], []
    moments = sorted(actions, key=lambda a: (a[1], a[2], a[3]))
    nightly = {}
    for kind, day, hour, minute, who, amount in moments:
        moment = _local(tz, START + timedelta(days=day), hour, minute)
        # The nightly task ran at 01:00 of every day before this one, as beat does.
        for past in range(max(nightly or [-1]) + 1, day + 1):
            run_at = _local(tz, START + timedelta(days=past), 1, 0)
            if run_at < moment:
                with time_machine.travel(run_at, tick=False):
                    rollup.roll_up(shop)
                nightly[past] = True
        with time_machine.travel(moment, tick=False):
            if kind == "join" or not people:
                people.append(MemberFactory(shop=shop, joined_at=moment))
                continue
            member = people[who % len(people)]
            try:
                if kind == "stamp":
                    groups.append(services.stamp_add(member=member, program=program, count=1, staff=staff,
                                                     idempotency_key=key(), at=moment).group)  # fmt: skip
                elif kind == "buy":
                    result = services.purchase_record(member=member, amount=amount, staff=staff, idempotency_key=key(),
                                                      at=moment)  # fmt: skip
                    groups.append(result.group)
                    purchases.append(result.purchase)
                elif kind == "undo" and groups:
                    with time_machine.travel(moment + timedelta(minutes=3), tick=False):
                        services.action_undo(shop=shop, group=groups.pop(), staff=staff, idempotency_key=key())
                elif kind == "refund" and purchases:
                    purchase = purchases[who % len(purchases)]
                    purchase.refresh_from_db()
                    left = purchase.amount - purchase.refunded_amount
                    if left > 0:
                        services.purchase_refund(shop=shop, purchase_id=purchase.pk, amount=min(left, amount),
                                                 staff=staff, idempotency_key=key())  # fmt: skip
                elif kind == "redeem":
                    voucher = Voucher.objects.filter(member=member, status=Voucher.Status.ISSUED).first()
                    if voucher:
                        groups.append(services.voucher_redeem(shop=shop, voucher_id=voucher.pk, staff=staff,
                                                              idempotency_key=key(), at=moment).group)  # fmt: skip
            except LoyaltyError:
                pass  # refused (a spent balance, a redeemed voucher): nothing was written
    # The last nights, until every played day is counted at least once.
    for past in range(max(nightly or [-1]) + 1, max(DAYS, moments[-1][1] if moments else 0) + 2):
        with time_machine.travel(_local(tz, START + timedelta(days=past), 1, 0), tick=False):
            rollup.roll_up(shop)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])  # fmt: skip
@given(zone=st.sampled_from(ZONES), actions=st.lists(action, min_size=5, max_size=40))
def test_every_day_matches_a_direct_count(db, zone, actions):
    shop = ShopFactory(time_zone=zone)
    staff = StaffFactory(shop=shop, role="manager").user
    program = StampProgramFactory(shop=shop, stamps_needed=3, min_minutes_between_visits=0)
    PointsRule.objects.create(shop=shop, is_active=True, step_amount=10, bill_points=100, bill_value=10)
    play(shop, staff, program, actions)
    days = [START + timedelta(days=n) for n in range(DAYS)]
    wrong = [(day, stored(shop, day), direct(shop, day)) for day in days if stored(shop, day) != direct(shop, day)]
    assert not wrong, f"{zone}: {wrong[:2]}"
    cohorts = {(row.cohort, row.month): row.active for row in CohortMonth.objects.filter(shop=shop) if row.active}
    assert cohorts == direct_cohorts(shop)
    # Counting every day again from scratch stores the same rows: the runs are idempotent.
    before = {day: stored(shop, day) for day in days}
    with time_machine.travel(_local(ZoneInfo(zone), START + timedelta(days=DAYS + 1), 1, 0), tick=False):
        rollup.backfill(shop, first=START)
    assert {day: stored(shop, day) for day in days} == before


def test_a_refund_weeks_later_takes_back_the_join_days_came_back(db):
    """Found by the test above: a member who joined on 1 March came back on the 26th, and that
    purchase was refunded in full in May, long after March left the nightly window. The 1st is
    counted again (nobody who joined that day came back), and so is March's retention."""
    shop = ShopFactory(time_zone="Asia/Taipei")
    staff = StaffFactory(shop=shop, role="manager").user
    program = StampProgramFactory(shop=shop, stamps_needed=3, min_minutes_between_visits=0)
    PointsRule.objects.create(shop=shop, is_active=True, step_amount=10, bill_points=100, bill_value=10)
    play(shop, staff, program, [("join", 0, 0, 0, 0, Decimal(60)), ("buy", 25, 23, 0, 0, Decimal(480)),
                                ("refund", 70, 0, 0, 0, Decimal(480))])  # fmt: skip
    assert direct(shop, START)["returned"] == 0
    assert stored(shop, START) == direct(shop, START)
    # March's retention too: the refunded visit was the member's only one.
    assert not CohortMonth.objects.filter(shop=shop, active__gt=0).exists()
    assert direct_cohorts(shop) == {}


def test_the_first_nightly_run_of_a_shop_with_a_history_counts_every_day(db):
    """After an upgrade: the shop's first run counts from its first member, so the running totals
    (members, points held) are right at once."""
    shop = ShopFactory(time_zone="Asia/Taipei")
    staff = StaffFactory(shop=shop, role="manager").user
    StampProgramFactory(shop=shop, stamps_needed=3, min_minutes_between_visits=0)
    PointsRule.objects.create(shop=shop, is_active=True, step_amount=10, bill_points=100, bill_value=10)
    with time_machine.travel(_local(shop.tz, START, 9, 0), tick=False):
        early = MemberFactory(shop=shop, joined_at=timezone.now())
        services.purchase_record(member=early, amount=Decimal(200), staff=staff, idempotency_key=key())
    with time_machine.travel(_local(shop.tz, START + timedelta(days=80), 1, 0), tick=False):
        rollup.roll_up(shop)
    assert ShopDay.objects.get(shop=shop, day=START).new_members == 1
    assert ShopDay.objects.filter(shop=shop).count() == 80
    assert stored(shop, START) == direct(shop, START)
