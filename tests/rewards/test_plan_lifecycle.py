"""A membership's life after the sale: renewed early without losing a day, its monthly voucher, its
end (a bundle's items left expire, the tier it gave goes, a lapse is told once), reminders before
the end, the tier and points multiplier it gives, its refund and undo, and a plan's new price
announced ahead with an invitation to renew at today's price.

Through the services, with the clock passed in (``at=``, ``now=``); every ledger reconciles after
each test (the rewards conftest)."""

import zoneinfo
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from members.models import Member, Message
from members.outbox import outbox_flush
from rewards import ledger, services
from rewards.ledger import lock_member
from rewards.models import LedgerEntry, Membership, MembershipPlan, PlanPriceChange, TierChange, Voucher
from rewards.services.plans import (
    allowances_issue,
    early_renewals,
    membership_reminders,
    memberships_end,
    memberships_run,
    pending_change,
    plan_multiplier,
    plan_trial_start_locked,
    price_change_cancel,
    price_change_invite,
    price_change_schedule,
    price_changes_apply,
)
from rewards.services.tiers import months_in_a_row, period_end, plan_tiers_settle, tiers_review, trials_end

from ..conftest import key
from ..factories import MemberFactory, PointsRuleFactory, ShopFactory, StaffFactory, TierFactory, TierPolicyFactory
from .test_plans import bundle_plan, club_plan, fresh, ledger_items, redeem, refund, refused, sell, undo

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
Status = Membership.Status
Reason = LedgerEntry.Reason


def local(*args, tz=TAIPEI) -> datetime:
    return datetime(*args, tzinfo=tz)


def set_zone(shop, name: str) -> zoneinfo.ZoneInfo:
    shop.time_zone = name
    shop.save(update_fields=["time_zone"])
    return zoneinfo.ZoneInfo(name)


def tier_of(member):
    return Member.objects.select_related("tier").get(pk=member.pk).tier


def trial(member, plan, days, now) -> Membership:
    """A campaign's free trial of ``plan``, started as the campaign starts it: under the member lock."""
    with transaction.atomic():
        locked = lock_member(member.pk)
        return plan_trial_start_locked(member=locked, plan=plan, days=days, now=now)


def messages(campaign: str, member=None):
    rows = Message.objects.filter(campaign=campaign)
    return rows.filter(member=member) if member is not None else rows


@pytest.fixture
def club(world):
    return club_plan(world.shop)


@pytest.fixture
def tiers(world):
    """Silver at 3 visits (x1.5), Gold at 5 (x2), over 12 months, 30 days' grace."""
    TierPolicyFactory(shop=world.shop, basis="visits", window_months=12, grace_days=30)
    return (
        TierFactory(shop=world.shop, name="Silver", threshold=3, multiplier=Decimal("1.5")),
        TierFactory(shop=world.shop, name="Gold", threshold=5, multiplier=2),
    )


# Renewal


def test_renewing_early_starts_at_the_end_of_the_running_period(world, member, club):
    first = sell(member, club, world.carol, at=local(2026, 3, 10, 9, 30)).membership
    result = sell(member, club, world.carol, renews=first, at=local(2026, 3, 25, 18))
    renewal = fresh(result.membership)
    # Renewed 15 days early: not one day lost, the new month starts when the paid one ends.
    assert renewal.starts_at == first.ends_at == local(2026, 4, 10, 9, 30)
    assert renewal.ends_at == local(2026, 5, 10, 9, 30)
    assert renewal.renews_id == first.pk and fresh(first).renewal == renewal
    assert renewal.chain_started_at == local(2026, 3, 10, 9, 30)
    assert (renewal.price_paid, result.entries[0].money_amount) == (300, 300)
    # Paid now, begun later: nothing of it runs yet.
    assert not renewal.is_running(local(2026, 3, 25, 18)) and renewal.is_running(local(2026, 4, 10, 9, 30))


@pytest.mark.parametrize(
    ("zone", "renewed_on"),
    [
        ("Asia/Taipei", (2026, 2, 27, 23, 59)),  # the day before the end
        ("Asia/Taipei", (2026, 2, 1, 0, 0)),
        ("America/St_Johns", (2026, 2, 20, 12)),
        ("Pacific/Kiritimati", (2026, 2, 28, 9, 59)),  # a minute before the end
    ],
)
def test_a_renewal_from_31_january_runs_from_the_end_of_february(world, member, club, zone, renewed_on):
    tz = set_zone(world.shop, zone)
    first = sell(member, club, world.carol, at=local(2026, 1, 31, 10, tz=tz)).membership
    assert first.ends_at == local(2026, 2, 28, 10, tz=tz)
    second = sell(member, club, world.carol, renews=first, at=local(*renewed_on, tz=tz)).membership
    assert second.starts_at == local(2026, 2, 28, 10, tz=tz)
    # A month from the end of February, at the same local time.
    assert second.ends_at == local(2026, 3, 28, 10, tz=tz)
    # And the next one, sold without naming what it renews, runs on from the second.
    third = sell(member, club, world.carol, at=local(2026, 3, 1, 12, tz=tz)).membership
    assert (third.renews_id, third.starts_at) == (second.pk, second.ends_at)
    assert third.ends_at == local(2026, 4, 28, 10, tz=tz)
    assert {fresh(m).chain_started_at for m in (first, second, third)} == {local(2026, 1, 31, 10, tz=tz)}


def test_selling_the_plan_again_renews_the_running_one(world, member, club):
    sold = local(2026, 6, 1, 12)
    first = sell(member, club, world.carol, at=sold).membership
    second = sell(member, club, world.carol, at=sold + timedelta(days=20)).membership
    assert (second.renews_id, second.starts_at) == (first.pk, first.ends_at)
    # Another plan, or a sale after the end, starts afresh.
    other = sell(member, club_plan(world.shop, name="Tea club"), world.carol, at=sold + timedelta(days=20)).membership
    assert (other.renews_id, other.starts_at) == (None, sold + timedelta(days=20))
    someone = MemberFactory(shop=world.shop)
    late = sell(someone, club, world.carol, at=sold).membership
    after = sell(someone, club, world.carol, at=late.ends_at + timedelta(days=2)).membership
    assert (after.renews_id, after.starts_at) == (None, late.ends_at + timedelta(days=2))
    assert after.chain_started_at == after.starts_at


def test_a_second_renewal_of_the_same_membership_is_refused_and_writes_nothing(world, member, club):
    first = sell(member, club, world.carol, at=local(2026, 3, 10, 9)).membership
    sell(member, club, world.carol, renews=first, at=local(2026, 3, 25, 9))
    memberships, rows = Membership.objects.count(), LedgerEntry.objects.count()
    error = refused("already_renewed", sell, member, club, world.bob, renews=first, at=local(2026, 3, 26, 9))
    assert error.message == "Already renewed: it runs on until 2026-05-10."
    assert (Membership.objects.count(), LedgerEntry.objects.count()) == (memberships, rows)


def test_a_refunded_or_ended_membership_is_not_renewed(world, member, club):
    first = sell(member, club, world.carol, at=local(2026, 3, 10, 9)).membership
    refund(first, world.bob, at=local(2026, 3, 12, 9))
    error = refused("membership_ended", sell, member, club, world.carol, renews=first, at=local(2026, 3, 13, 9))
    assert error.message == "This membership has ended; sell the plan again instead."
    assert Membership.objects.filter(member=member).count() == 1
    # Sold again instead, it starts now and continues nothing.
    again = sell(member, club, world.carol, at=local(2026, 3, 13, 9)).membership
    assert (again.renews_id, again.starts_at) == (None, local(2026, 3, 13, 9))


def test_a_renewal_refunded_leaves_the_membership_to_renew_again(world, member, club):
    first = sell(member, club, world.carol, at=local(2026, 3, 10, 9)).membership
    renewal = sell(member, club, world.carol, renews=first, at=local(2026, 3, 20, 9)).membership
    refund(renewal, world.bob, at=local(2026, 3, 21, 9))
    # The member still holds the first month: the next sale continues it, without a gap or overlap.
    again = sell(member, club, world.carol, renews=first, at=local(2026, 3, 22, 9)).membership
    assert (again.renews_id, again.starts_at) == (first.pk, first.ends_at)


def test_a_renewal_refunded_then_the_plan_sold_again_continues_the_running_one(world, member, club):
    first = sell(member, club, world.carol, at=local(2026, 3, 10, 9)).membership
    renewal = sell(member, club, world.carol, at=local(2026, 3, 20, 9)).membership
    refund(renewal, world.bob, at=local(2026, 3, 21, 9))
    again = sell(member, club, world.carol, at=local(2026, 3, 22, 9)).membership
    assert (again.renews_id, again.starts_at) == (first.pk, first.ends_at)


def test_undo_of_a_renewal_lets_the_membership_be_renewed_again(world, member, club):
    first = sell(member, club, world.carol).membership
    renewal = sell(member, club, world.carol, renews=first)
    undo(world, renewal)
    assert fresh(renewal.membership).status == Status.ENDED and fresh(renewal.membership).renews_id is None
    again = sell(member, club, world.carol, renews=first).membership
    assert (again.renews_id, again.starts_at) == (first.pk, first.ends_at)


def test_renewing_what_cannot_be_renewed_is_refused(world, member, club):
    bundle = bundle_plan(world.shop)
    held = sell(member, bundle, world.carol).membership
    refused("wrong_kind", sell, member, bundle, world.carol, renews=held)
    mine = sell(member, club, world.carol).membership
    someone = MemberFactory(shop=world.shop)
    refused("wrong_member", sell, someone, club, world.carol, renews=mine)
    # Renewing the coffee club by selling the tea club is a mistake at the till.
    refused("wrong_member", sell, member, club_plan(world.shop, name="Tea club"), world.carol, renews=mine)
    assert Membership.objects.filter(member=someone).count() == 0
    assert Membership.objects.filter(member=member).count() == 2


def test_a_free_trial_of_the_plan_ends_when_the_plan_is_sold(world, member):
    plan = club_plan(world.shop, allowance_title="Free latte")
    start = local(2026, 5, 1, 10)
    held = trial(member, plan, 30, start)
    assert held.trial and held.ends_at == local(2026, 5, 31, 23, 59, 59)
    sold = local(2026, 5, 10, 15)
    paid = sell(member, plan, world.carol, at=sold).membership
    # The paid month starts now, not at the trial's end, and continues no trial.
    assert (paid.starts_at, paid.renews_id, paid.chain_started_at) == (sold, None, sold)
    assert fresh(held).status == Status.ENDED
    # Each has its own first month's voucher; the trial's, not used, gives way to the paid one's.
    assert Voucher.objects.get(membership=held).status == Voucher.Status.VOIDED
    assert Voucher.objects.get(membership=paid).status == Voucher.Status.ISSUED
    # A month after the trial began, its next voucher would be due: an ended trial issues none.
    assert allowances_issue(now=local(2026, 6, 1, 10, 30)) == 0
    assert Voucher.objects.filter(membership=held).count() == 1


# The price


def schedule(plan, new_price, from_day, staff):
    return price_change_schedule(plan=plan, new_price=new_price, from_day=from_day, staff=staff)


def today(shop):
    return timezone.localtime(timezone.now(), shop.tz).date()


def test_a_sale_before_the_new_prices_day_pays_todays_price_and_after_it_the_new(world, member, club):
    change = schedule(club, 350, today(world.shop) + timedelta(days=10), world.alice)
    assert change.starts_at == datetime.combine(today(world.shop) + timedelta(days=10), time.min, tzinfo=TAIPEI)
    before = sell(member, club, world.carol, at=change.starts_at - timedelta(seconds=1)).membership
    assert before.price_paid == 300
    # The day has come; the worker has not yet made it the plan's price, and the sale already costs it.
    someone = MemberFactory(shop=world.shop)
    after = sell(someone, club, world.carol, at=change.starts_at).membership
    assert after.price_paid == 350
    assert LedgerEntry.objects.get(membership=after, reason=Reason.PLAN_SOLD).money_amount == 350
    assert price_changes_apply(now=change.starts_at - timedelta(minutes=1)) == 0
    assert MembershipPlan.objects.get(pk=club.pk).price == 300
    assert price_changes_apply(now=change.starts_at + timedelta(minutes=5)) == 1
    assert price_changes_apply(now=change.starts_at + timedelta(minutes=65)) == 0
    assert MembershipPlan.objects.get(pk=club.pk).price == 350
    assert pending_change(club) is None
    change.refresh_from_db()
    assert change.applied_at == change.starts_at + timedelta(minutes=5)


def test_a_cancelled_price_change_changes_no_price(world, member, club):
    change = schedule(club, 350, today(world.shop) + timedelta(days=3), world.alice)
    price_change_cancel(change=change, staff=world.alice)
    assert sell(member, club, world.carol, at=change.starts_at + timedelta(days=1)).membership.price_paid == 300
    assert price_changes_apply(now=change.starts_at + timedelta(days=1)) == 0
    assert MembershipPlan.objects.get(pk=club.pk).price == 300


def test_early_renewals_are_the_renewals_sold_between_the_announcement_and_the_day(world, club):
    now = timezone.now()
    holders = MemberFactory.create_batch(6, shop=world.shop)
    running = {m.pk: sell(m, club, world.carol, at=now - timedelta(days=20)).membership for m in holders}
    tea = club_plan(world.shop, name="Tea club")
    tea_held = sell(holders[0], tea, world.carol, at=now - timedelta(days=20)).membership
    # Renewed before the announcement: not an early renewal of this change.
    before = sell(holders[1], club, world.carol, at=now - timedelta(days=1)).membership
    change = schedule(club, 350, today(world.shop) + timedelta(days=5), world.alice)
    early = [
        sell(holders[2], club, world.carol, renews=running[holders[2].pk], at=now + timedelta(hours=1)).membership,
        sell(holders[3], club, world.carol, at=now + timedelta(days=2)).membership,  # the same, without "Renew"
    ]
    # Renewed after the new price started, the tea club, a first sale, and a renewal undone: not counted.
    sell(holders[4], club, world.carol, at=change.starts_at + timedelta(hours=1))
    sell(holders[0], tea, world.carol, renews=tea_held, at=now + timedelta(hours=2))
    sell(MemberFactory(shop=world.shop), club, world.carol, at=now + timedelta(hours=3))
    undone = sell(holders[5], club, world.carol, renews=running[holders[5].pk])
    undo(world, undone)
    assert before.renews_id == running[holders[1].pk].pk
    assert list(early_renewals(change)) == sorted(early, key=lambda m: m.created_at, reverse=True)


# The monthly voucher


def test_the_monthly_voucher_of_a_three_month_membership(world, member):
    plan = club_plan(world.shop, period_months=3, allowance_title="Free latte")
    sold = local(2026, 1, 31, 10)
    result = sell(member, plan, world.carol, at=sold)
    held = result.membership
    # The first month's voucher comes with the sale, in its group.
    [first] = Voucher.objects.filter(membership=held)
    assert (first.allowance_month, first.issued_at, first.expires_at) == (0, sold, local(2026, 2, 28, 10))
    assert [e.reason for e in result.entries] == [Reason.PLAN_SOLD, Reason.PLAN_ALLOWANCE]
    assert result.entries[1].voucher_id == first.pk and result.entries[1].group == result.group
    assert allowances_issue(now=local(2026, 2, 28, 9, 59)) == 0
    assert allowances_issue(now=local(2026, 2, 28, 10)) == 1
    assert allowances_issue(now=local(2026, 2, 28, 11)) == 0
    # The worker is down through the third month's start and back two days later: that month's
    # voucher, good until the end; the second month's is not issued twice.
    assert allowances_issue(now=local(2026, 4, 2, 8)) == 1
    assert allowances_issue(now=local(2026, 4, 30, 10)) == 0
    vouchers = list(Voucher.objects.filter(membership=held).order_by("allowance_month"))
    assert [(v.allowance_month, v.expires_at) for v in vouchers] == [
        (0, local(2026, 2, 28, 10)), (1, local(2026, 3, 31, 10)), (2, local(2026, 4, 30, 10)),
    ]  # fmt: skip
    assert held.ends_at == local(2026, 4, 30, 10)
    assert fresh(held).next_allowance_at is None
    assert LedgerEntry.objects.filter(membership=held, reason=Reason.PLAN_ALLOWANCE).count() == 3


def test_a_missed_month_is_not_made_up(world, member):
    plan = club_plan(world.shop, period_months=3, allowance_title="Free latte")
    held = sell(member, plan, world.carol, at=local(2026, 1, 10, 10)).membership
    # Nothing ran in February's month; March's month is issued, February's never.
    assert allowances_issue(now=local(2026, 3, 15, 10)) == 1
    assert allowances_issue(now=local(2026, 3, 20, 10)) == 0
    assert sorted(Voucher.objects.filter(membership=held).values_list("allowance_month", flat=True)) == [0, 2]


def test_a_renewal_bought_ahead_gets_its_vouchers_when_it_starts(world, member):
    plan = club_plan(world.shop, allowance_title="Free latte")
    first = sell(member, plan, world.carol, at=local(2026, 1, 10, 10)).membership
    renewal = sell(member, plan, world.carol, at=local(2026, 2, 1, 10)).membership
    assert not Voucher.objects.filter(membership=renewal).exists()
    assert allowances_issue(now=local(2026, 2, 10, 9)) == 0
    memberships_run(now=local(2026, 2, 10, 10, 30))
    [voucher] = Voucher.objects.filter(membership=renewal)
    assert (voucher.allowance_month, voucher.expires_at) == (0, local(2026, 3, 10, 10))
    assert fresh(first).status == Status.ENDED


ZONES = [
    "Pacific/Kiritimati", "America/St_Johns", "Asia/Taipei", "UTC", "Australia/Lord_Howe", "America/Los_Angeles",
]  # fmt: skip
# Local times at the edges: midnight, a minute before it, and inside the spring-forward gap in the
# zones that have one (02:30 on the night the clocks go on does not exist there).
EDGE_TIMES = [time(0, 0), time(0, 1), time(23, 59, 59), time(2, 30), time(1, 45), time(12, 0)]


@st.composite
def sales(draw):
    zone = zoneinfo.ZoneInfo(draw(st.sampled_from(ZONES)))
    year, month = draw(st.integers(2026, 2028)), draw(st.integers(1, 12))
    day = draw(st.one_of(st.sampled_from([28, 29, 30, 31]), st.integers(1, 31)))
    last = (datetime(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    clock = draw(st.one_of(st.sampled_from(EDGE_TIMES), st.times()))
    sold = datetime.combine(datetime(year, month, min(day, last)).date(), clock, tzinfo=zone).astimezone(UTC)
    return zone, sold, draw(st.sampled_from([1, 3, 12]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sale=sales(), data=st.data())
def test_one_voucher_per_month_with_a_worker_run_whatever_the_time_zone(db, sale, data):
    zone, sold, months = sale
    starts = [period_end(sold, k, zone) for k in range(months + 1)]
    ends = starts[-1]
    # Runs near each month's start (the hourly worker, or one late by up to a day), and a few anywhere,
    # some after the end.
    near = data.draw(
        st.lists(st.tuples(st.integers(0, months), st.integers(-90, 26 * 60)), max_size=min(3 * months + 2, 20)).map(
            lambda picks: [starts[k] + timedelta(minutes=m) for k, m in picks]
        )
    )
    anywhere = data.draw(st.lists(st.integers(0, (ends - sold) // timedelta(minutes=1) + 3 * 24 * 60), max_size=6))
    hourly_from = data.draw(st.integers(0, months))
    hourly = [starts[hourly_from] + timedelta(hours=h) for h in range(-2, 4)]
    runs = sorted({t for t in [*near, *(sold + timedelta(minutes=m) for m in anywhere), *hourly] if t >= sold})
    with transaction.atomic():
        shop = ShopFactory(time_zone=str(zone))
        staff = StaffFactory(shop=shop).user
        member = MemberFactory(shop=shop)
        plan = club_plan(shop, period_months=months, allowance_title="Free cake")
        held = sell(member, plan, staff, at=sold).membership
        for t in runs:
            allowances_issue(now=t)
        issued = {v.allowance_month: v for v in Voucher.objects.filter(membership=held)}
        expected = {0: sold} | {
            k: next(t for t in runs if starts[k] <= t < starts[k + 1])
            for k in range(1, months)
            if any(starts[k] <= t < starts[k + 1] for t in runs)
        }
        assert {k: v.issued_at for k, v in issued.items()} == expected, (zone, sold, runs)
        for k, voucher in issued.items():
            assert voucher.expires_at == min(starts[k + 1], ends)
            assert voucher.issued_at < ends
        assert LedgerEntry.objects.filter(membership=held, reason=Reason.PLAN_ALLOWANCE).count() == len(issued)
        assert ledger.drift() == []
        transaction.set_rollback(True)


# The end


def test_a_bundle_ends_with_its_items_left_taken_off_once(world, member):
    held = sell(member, bundle_plan(world.shop), world.carol, at=local(2026, 1, 5, 12)).membership
    for day in (6, 7, 8):
        redeem(member, held, world.carol, at=local(2026, 1, day, 12))
    assert memberships_end(now=held.ends_at - timedelta(seconds=1)) == 0
    assert memberships_end(now=held.ends_at) == 1
    assert memberships_end(now=held.ends_at + timedelta(hours=1)) == 0
    [expiry] = LedgerEntry.objects.filter(membership=held, reason=Reason.PLAN_EXPIRED)
    assert (expiry.items, expiry.created_at) == (-7, held.ends_at)
    held = fresh(held)
    assert (held.status, held.items_left) == (Status.ENDED, 0) and ledger_items(held) == 0
    # A bundle is not renewed: no lapse message for it.
    assert not messages("plan_lapsed").exists()


def test_a_bundle_used_up_ends_without_an_expiry_row(world, member):
    held = sell(member, bundle_plan(world.shop, items=1), world.carol).membership
    redeem(member, held, world.carol)
    assert memberships_end(now=held.ends_at + timedelta(minutes=1)) == 1
    assert not LedgerEntry.objects.filter(membership=held, reason=Reason.PLAN_EXPIRED).exists()


def test_the_tier_a_plan_gives_goes_at_its_end(world, member, tiers):
    _silver, gold = tiers
    plan = club_plan(world.shop, tier=gold)
    held = sell(member, plan, world.carol, at=local(2026, 1, 5, 12)).membership
    assert tier_of(member) == gold
    memberships_end(now=held.ends_at + timedelta(minutes=5))
    assert tier_of(member) is None
    last = TierChange.objects.filter(member=member).latest("created_at")
    assert (last.from_tier, last.to_tier, last.reason) == (gold, None, TierChange.Reason.PLAN_END)


def test_a_lapse_is_told_once_and_a_renewal_is_not_a_lapse(world, member, club):
    held = sell(member, club, world.carol, at=local(2026, 1, 5, 12)).membership
    for hours in (0, 1, 2, 30):
        memberships_end(now=held.ends_at + timedelta(hours=hours))
        memberships_run(now=held.ends_at + timedelta(hours=hours, minutes=1))
    [told] = messages("plan_lapsed", member)
    assert (told.occasion, told.template) == (str(held.pk), "rewards/email/plan_lapsed")
    assert told.context["ends_on"] == "2026-02-05" and fresh(held).lapse_told_at == held.ends_at
    # Renewed, the first month's end is no lapse; the renewal's own end is.
    someone = MemberFactory(shop=world.shop)
    first = sell(someone, club, world.carol, at=local(2026, 1, 5, 12)).membership
    second = sell(someone, club, world.carol, renews=first, at=local(2026, 2, 1, 12)).membership
    memberships_run(now=first.ends_at + timedelta(minutes=30))
    assert fresh(first).status == Status.ENDED and not messages("plan_lapsed", someone).exists()
    memberships_run(now=second.ends_at + timedelta(minutes=30))
    assert list(messages("plan_lapsed", someone).values_list("occasion", flat=True)) == [str(second.pk)]


def test_a_trial_or_a_refund_is_not_a_lapse(world, member, club):
    held = trial(member, club, 14, local(2026, 1, 5, 12))
    paid = sell(MemberFactory(shop=world.shop), club, world.carol, at=local(2026, 1, 5, 12)).membership
    refund(paid, world.bob, at=local(2026, 1, 6, 12))
    memberships_run(now=local(2026, 3, 1, 12))
    assert fresh(held).status == Status.ENDED
    assert not messages("plan_lapsed").exists()


def test_the_reminder_a_week_before_the_end_goes_once(world, member, club):
    held = sell(member, club, world.carol, at=local(2026, 1, 5, 12)).membership
    week_before = held.ends_at - timedelta(days=7)
    assert membership_reminders(now=week_before - timedelta(minutes=1)) == 0
    assert membership_reminders(now=week_before) == 1
    for days in (1, 2, 6):
        assert membership_reminders(now=week_before + timedelta(days=days)) == 0
        memberships_run(now=week_before + timedelta(days=days, hours=1))
    [reminder] = messages("plan_ending", member)
    assert (reminder.occasion, reminder.context["ends_on"], reminder.context["trial"]) == (
        str(held.pk),
        "2026-02-05",
        False,
    )


def test_no_reminder_for_a_membership_already_renewed(world, member, club):
    first = sell(member, club, world.carol, at=local(2026, 1, 5, 12)).membership
    second = sell(member, club, world.carol, at=local(2026, 1, 20, 12)).membership
    for day in range(21, 31):
        memberships_run(now=local(2026, 1, day, 12))
    assert not messages("plan_ending").exists()
    # Renewed through the worker's days, the renewal is reminded a week before its own end.
    day = local(2026, 2, 1, 12)
    while day < local(2026, 3, 10):
        memberships_run(now=day)
        day += timedelta(days=1)
    assert list(messages("plan_ending").values_list("occasion", flat=True)) == [str(second.pk)]
    assert fresh(first).reminded_at is None


def test_a_membership_whose_renewal_was_refunded_is_reminded_and_told_of_its_lapse(world, member, club):
    first = sell(member, club, world.carol, at=local(2026, 1, 5, 12)).membership
    renewal = sell(member, club, world.carol, at=local(2026, 1, 20, 12)).membership
    refund(renewal, world.bob, at=local(2026, 1, 21, 12))
    assert membership_reminders(now=local(2026, 1, 30, 12)) == 1
    memberships_run(now=first.ends_at + timedelta(hours=1))
    assert list(messages("plan_ending").values_list("occasion", flat=True)) == [str(first.pk)]
    assert list(messages("plan_lapsed").values_list("occasion", flat=True)) == [str(first.pk)]


def test_a_trial_is_reminded_three_days_before_its_end(world, member, club):
    held = trial(member, club, 30, local(2026, 5, 1, 10))
    assert membership_reminders(now=held.ends_at - timedelta(days=5)) == 0
    assert membership_reminders(now=held.ends_at - timedelta(days=3, seconds=1)) == 0
    assert membership_reminders(now=held.ends_at - timedelta(days=3)) == 1
    assert membership_reminders(now=held.ends_at - timedelta(days=1)) == 0
    [reminder] = messages("plan_ending", member)
    assert reminder.context["trial"] is True and reminder.context["price"] == "NT$300"


def test_a_bundle_is_reminded_only_with_items_left(world, member):
    plan = bundle_plan(world.shop, items=2, valid_days=30)
    kept = sell(member, plan, world.carol, at=local(2026, 1, 1, 12)).membership
    someone = MemberFactory(shop=world.shop)
    used = sell(someone, plan, world.carol, at=local(2026, 1, 1, 12)).membership
    for n in (2, 3):
        redeem(someone, used, world.carol, at=local(2026, 1, n, 12))
    assert membership_reminders(now=kept.ends_at - timedelta(days=8)) == 0
    assert membership_reminders(now=kept.ends_at - timedelta(days=7)) == 1
    assert membership_reminders(now=kept.ends_at - timedelta(days=6)) == 0
    [reminder] = messages("plan_ending")
    assert (reminder.member_id, reminder.context["items_left"]) == (member.pk, 2)


# Tiers


def test_the_plans_tier_is_held_while_it_runs_whatever_the_progress(world, member, tiers):
    _silver, gold = tiers
    plan = club_plan(world.shop, period_months=3, tier=gold)
    sold = local(2026, 1, 5, 12)
    held = sell(member, plan, world.carol, at=sold).membership
    assert tier_of(member) == gold
    [given] = TierChange.objects.filter(member=member)
    assert (given.from_tier, given.to_tier, given.reason) == (None, gold, TierChange.Reason.PLAN)
    day = sold + timedelta(hours=14)
    while day < held.ends_at:
        tiers_review(now=day)
        memberships_run(now=day)
        assert tier_of(member) == gold, day
        day += timedelta(days=1)
    assert Member.objects.get(pk=member.pk).tier_short_since is None
    memberships_run(now=day)
    tiers_review(now=day)
    assert tier_of(member) is None
    assert list(TierChange.objects.filter(member=member).order_by("pk").values_list("reason", flat=True)) == [
        "plan", "plan_end",
    ]  # fmt: skip


def five_visits(world, member, program, year):
    """Five visits on the first five days of January, enough for Gold."""
    for day in range(1, 6):
        services.stamp_add(
            member=member, program=program, count=1, staff=world.carol, idempotency_key=key(),
            at=local(year, 1, day, 10),
        )  # fmt: skip


def test_a_member_above_the_plans_tier_keeps_theirs_and_returns_to_it(world, member, tiers, program):
    silver, gold = tiers
    five_visits(world, member, program, 2026)
    assert tier_of(member) == gold
    held = sell(member, club_plan(world.shop, tier=silver), world.carol, at=local(2026, 1, 10, 12)).membership
    memberships_run(now=held.ends_at + timedelta(hours=1))
    assert tier_of(member) == gold
    assert not TierChange.objects.filter(member=member, reason__in=["plan", "plan_end"]).exists()


def test_a_bundle_expiring_does_not_cut_short_a_tiers_grace(world, member, tiers, program):
    _silver, gold = tiers
    five_visits(world, member, program, 2025)
    assert tier_of(member) == gold
    held = sell(member, bundle_plan(world.shop, valid_days=30), world.carol, at=local(2026, 1, 2, 12)).membership
    # A year on the visits fall out of the window: Gold is kept for the 30 days' grace.
    tiers_review(now=local(2026, 1, 10, 3))
    assert Member.objects.get(pk=member.pk).tier_short_since is not None
    memberships_run(now=held.ends_at + timedelta(hours=1))
    assert tier_of(member) == gold
    tiers_review(now=local(2026, 2, 9, 3))
    assert tier_of(member) is None


def test_a_bundle_expiring_before_the_nightly_review_leaves_an_earned_tier_alone(world, member, tiers, program):
    """The benchmark's case: visits fell out of the window since the last nightly review, so the member
    is short of Gold but not yet marked; a bundle that gave no tier expires. Only the review (and its
    grace) may move them down, not the bundle's end."""
    _silver, gold = tiers
    five_visits(world, member, program, 2025)
    held = sell(member, bundle_plan(world.shop, valid_days=30), world.carol, at=local(2025, 12, 20, 12)).membership
    assert Member.objects.get(pk=member.pk).tier_short_since is None
    memberships_run(now=held.ends_at + timedelta(hours=1))
    assert tier_of(member) == gold
    assert not TierChange.objects.filter(member=member, reason="plan_end").exists()


def test_a_plan_that_gave_the_tier_takes_it_back_at_its_end(world, member, tiers):
    _silver, gold = tiers
    held = sell(member, club_plan(world.shop, tier=gold), world.carol, at=local(2026, 3, 1, 10)).membership
    assert tier_of(member) == gold
    memberships_run(now=held.ends_at + timedelta(hours=1))
    assert tier_of(member) is None
    assert TierChange.objects.filter(member=member, reason="plan_end").count() == 1


def vip_plan(shop, tier, vip_tier, months=3):
    return club_plan(shop, tier=tier, vip_tier=vip_tier, vip_after_months=months, name="Club with VIP")


def test_vip_after_months_in_a_row_of_renewals(world, member, tiers):
    silver, gold = tiers
    plan = vip_plan(world.shop, silver, gold)
    chain = local(2026, 1, 31, 10)
    held = sell(member, plan, world.carol, at=chain).membership
    vip_from = period_end(chain, 3, TAIPEI)
    day = chain + timedelta(hours=1)
    while day < local(2026, 6, 15):
        # Renewed each month, a few days before the end, at the counter.
        if held.ends_at - day < timedelta(days=3):
            held = sell(member, plan, world.carol, at=day).membership
        memberships_run(now=day)
        tiers_review(now=day)
        assert tier_of(member) == (gold if day >= vip_from else silver), day
        day += timedelta(days=1)
    vip = TierChange.objects.get(member=member, to_tier=gold)
    assert vip.reason == TierChange.Reason.PLAN and vip.created_at - vip_from < timedelta(days=1)
    assert months_in_a_row(fresh(held).chain_started_at, day, TAIPEI) >= 4


def test_a_break_in_the_run_starts_the_months_again(world, member, tiers):
    silver, gold = tiers
    plan = vip_plan(world.shop, silver, gold, months=2)
    first = sell(member, plan, world.carol, at=local(2026, 1, 10, 10)).membership
    memberships_run(now=first.ends_at + timedelta(days=3))
    assert tier_of(member) is None
    # Back after three days: a new run, not VIP two months after the first sale.
    again = sell(member, plan, world.carol, at=first.ends_at + timedelta(days=3)).membership
    assert again.chain_started_at == again.starts_at == local(2026, 2, 13, 10)
    sell(member, plan, world.carol, at=local(2026, 3, 12, 10))
    sell(member, plan, world.carol, at=local(2026, 4, 1, 10))
    for day in (local(2026, 3, 12, 12), local(2026, 4, 13, 9, 59)):
        plan_tiers_settle(now=day)
        assert tier_of(member) == silver, day
    plan_tiers_settle(now=local(2026, 4, 13, 10))
    assert tier_of(member) == gold


def test_a_trial_never_makes_a_member_vip(world, member, tiers):
    silver, gold = tiers
    plan = vip_plan(world.shop, silver, gold, months=1)
    held = trial(member, plan, 90, local(2026, 1, 1, 10))
    assert tier_of(member) == silver
    day = local(2026, 1, 2, 10)
    while day < held.ends_at:
        memberships_run(now=day)
        tiers_review(now=day)
        assert tier_of(member) == silver
        day += timedelta(days=3)
    memberships_run(now=held.ends_at + timedelta(minutes=1))
    assert tier_of(member) is None


def test_a_tier_trial_ending_leaves_the_member_on_the_plans_tier(world, member, tiers):
    silver, gold = tiers
    sell(member, club_plan(world.shop, tier=silver), world.carol)
    assert tier_of(member) == silver
    tier_trial = services.tier_trial_start(member=member, tier=gold, days=5, staff=world.bob)
    assert tier_of(member) == gold
    assert trials_end(now=tier_trial.ends_at + timedelta(minutes=1)) == 1
    assert tier_of(member) == silver
    last = TierChange.objects.filter(member=member).latest("pk")
    assert (last.from_tier, last.to_tier, last.reason) == (gold, silver, TierChange.Reason.TRIAL_END)


# The points multiplier


@pytest.fixture
def points(world):
    """A point for each NT$10."""
    return PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)


def buy(member, staff, amount, at=None):
    return services.purchase_record(member=member, amount=Decimal(amount), staff=staff, idempotency_key=key(), at=at)


def earned(result) -> int:
    return result.purchase.points_earned


def test_a_plan_multiplier_doubles_the_points_while_it_runs(world, member, points):
    plan = club_plan(world.shop, points_multiplier=2)
    held = sell(member, plan, world.carol).membership
    assert earned(buy(member, world.carol, 100)) == 20
    assert plan_multiplier(member, timezone.now()) == 2
    assert earned(buy(member, world.carol, 100, at=held.ends_at + timedelta(minutes=1))) == 10
    assert Member.objects.get(pk=member.pk).points == 30


def test_the_higher_of_the_tiers_and_the_plans_multiplier_applies_not_both(world, member, points, tiers):
    silver, _gold = tiers
    Member.objects.filter(pk=member.pk).update(tier=silver)
    held = sell(member, club_plan(world.shop, points_multiplier=2), world.carol).membership
    assert earned(buy(member, world.carol, 100)) == 20
    assert earned(buy(member, world.carol, 100, at=held.ends_at + timedelta(minutes=1))) == 15
    # A plan that multiplies less than the tier does not lower it.
    small = club_plan(world.shop, name="Small club", points_multiplier=Decimal("1.2"))
    sell(member, small, world.carol, at=held.ends_at + timedelta(minutes=2))
    assert earned(buy(member, world.carol, 100, at=held.ends_at + timedelta(minutes=5))) == 15


def test_a_refunded_plans_multiplier_stops(world, member, points):
    held = sell(member, club_plan(world.shop, points_multiplier=3), world.carol).membership
    refund(held, world.bob)
    assert earned(buy(member, world.carol, 100)) == 10


# Refund and undo


def test_a_refund_follows_the_rule_copied_at_the_sale(world, member, club):
    sold = local(2026, 1, 1, 10)
    held = sell(member, club, world.carol, at=sold).membership
    club.refund_rule = MembershipPlan.RefundRule.NONE
    club.save()
    strict = club_plan(world.shop, name="Strict club", refund_rule=MembershipPlan.RefundRule.NONE)
    no_refund = sell(member, strict, world.carol, at=sold).membership
    strict.refund_rule = MembershipPlan.RefundRule.PRO_RATA
    strict.save()
    # 11 January: 21 of January's 31 days unused.
    assert refund(held, world.bob, at=local(2026, 1, 11, 18)).membership.refunded_amount == 203
    assert refund(no_refund, world.bob, at=local(2026, 1, 11, 18)).membership.refunded_amount == 0


def test_a_refund_voids_the_unused_monthly_vouchers_and_takes_the_tier(world, member, tiers):
    silver, _gold = tiers
    plan = club_plan(world.shop, period_months=3, allowance_title="Free latte", tier=silver)
    held = sell(member, plan, world.carol, at=local(2026, 1, 10, 10)).membership
    first = Voucher.objects.get(membership=held, allowance_month=0)
    services.voucher_redeem(
        shop=world.shop, voucher_id=first.pk, staff=world.carol, idempotency_key=key(), at=local(2026, 1, 12, 10)
    )
    allowances_issue(now=local(2026, 2, 10, 11))
    second = Voucher.objects.get(membership=held, allowance_month=1)
    assert tier_of(member) == silver
    refund(held, world.bob, at=local(2026, 2, 11, 10))
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, second.status) == (Voucher.Status.REDEEMED, Voucher.Status.VOIDED)
    assert tier_of(member) is None
    assert TierChange.objects.filter(member=member).latest("pk").reason == TierChange.Reason.PLAN_END
    # No more months for a refunded membership.
    assert allowances_issue(now=local(2026, 3, 10, 11)) == 0
    assert Voucher.objects.filter(membership=held).count() == 2


def test_undo_of_a_sale_voids_its_voucher_and_gives_back_the_tier(world, member, tiers):
    silver, _gold = tiers
    plan = club_plan(world.shop, allowance_title="Free latte", tier=silver)
    sold = sell(member, plan, world.carol)
    assert tier_of(member) == silver
    undo(world, sold)
    voucher = Voucher.objects.get(membership=sold.membership)
    assert voucher.status == Voucher.Status.VOIDED
    assert fresh(sold.membership).status == Status.ENDED and fresh(sold.membership).next_allowance_at is None
    assert tier_of(member) is None
    refused("not_usable", services.voucher_redeem, shop=world.shop, voucher_id=voucher.pk, staff=world.carol,
            idempotency_key=key())  # fmt: skip


def test_undo_of_a_sale_is_refused_once_its_voucher_was_redeemed(world, member, tiers):
    silver, _gold = tiers
    plan = club_plan(world.shop, allowance_title="Free latte", tier=silver)
    sold = sell(member, plan, world.carol)
    voucher = Voucher.objects.get(membership=sold.membership)
    services.voucher_redeem(shop=world.shop, voucher_id=voucher.pk, staff=world.carol, idempotency_key=key())
    rows = LedgerEntry.objects.count()
    error = refused("voucher_used", undo, world, sold)
    assert "already used" in error.message
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.REDEEMED
    assert fresh(sold.membership).status == Status.ACTIVE and tier_of(member) == silver
    assert LedgerEntry.objects.count() == rows


# A plan's new price, scheduled


def test_a_new_price_starts_tomorrow_at_the_earliest_in_the_shops_time_zone(world, club):
    set_zone(world.shop, "Pacific/Kiritimati")
    # 11:00 on 1 June in London is already 01:00 on 2 June on Kiritimati.
    with time_machine.travel(datetime(2026, 6, 1, 11, tzinfo=UTC), tick=False):
        error = refused("bad_date", schedule, club, 350, datetime(2026, 6, 2).date(), world.alice)
        assert error.message == "Choose a day from tomorrow on."
        refused("bad_date", schedule, club, 350, datetime(2026, 6, 1).date(), world.alice)
        change = schedule(club, 350, datetime(2026, 6, 3).date(), world.alice)
    assert change.starts_at == datetime(2026, 6, 3, tzinfo=zoneinfo.ZoneInfo("Pacific/Kiritimati"))
    assert change.starts_at == datetime(2026, 6, 2, 10, tzinfo=UTC)
    assert (change.old_price, change.new_price, change.created_by) == (300, 350, world.alice)


def test_a_new_price_within_a_year(world, club):
    day = today(world.shop)
    error = refused("bad_date", schedule, club, 350, day + timedelta(days=400), world.alice)
    assert error.message == "Choose a day within a year."
    refused("bad_date", schedule, club, 350, day + timedelta(days=367), world.alice)
    change = schedule(club, 350, day + timedelta(days=365), world.alice)
    assert change.starts_at.date() == day + timedelta(days=365)


def test_a_new_price_must_differ_and_one_waits_at_a_time(world, club):
    tomorrow = today(world.shop) + timedelta(days=1)
    assert refused("bad_amount", schedule, club, 300, tomorrow, world.alice).message == "That is the price now."
    refused("bad_amount", schedule, club, -5, tomorrow, world.alice)
    first = schedule(club, 250, tomorrow, world.alice)
    error = refused("price_change_pending", schedule, club, 350, tomorrow + timedelta(days=3), world.alice)
    assert error.message == "A new price is already scheduled; cancel it first."
    price_change_cancel(change=first, staff=world.alice)
    refused("not_found", price_change_cancel, change=first, staff=world.alice)
    second = schedule(club, 350, tomorrow + timedelta(days=3), world.alice)
    assert pending_change(club) == second
    assert PlanPriceChange.objects.filter(plan=club).count() == 2


def test_only_the_owner_schedules_or_cancels_a_new_price(world, club):
    tomorrow = today(world.shop) + timedelta(days=1)
    for staff in (world.bob, world.carol, world.dave):
        error = refused("not_allowed", schedule, club, 350, tomorrow, staff)
        assert error.message == "Only the owner can change a plan's price."
    assert not PlanPriceChange.objects.exists()
    change = schedule(club, 350, tomorrow, world.alice)
    refused("not_allowed", price_change_cancel, change=change, staff=world.bob)
    assert pending_change(club) == change


def test_the_invitation_goes_once_to_each_member_holding_the_plan(world, club):
    now = timezone.now()
    holder, ahead, on_trial, ended, refunded, other, no_email = MemberFactory.create_batch(7, shop=world.shop)
    Member.objects.filter(pk=no_email.pk).update(email="")
    no_email.refresh_from_db()
    sell(holder, club, world.carol, at=now - timedelta(days=3))
    # Two memberships, one bought ahead: one invitation.
    first = sell(ahead, club, world.carol, at=now - timedelta(days=20)).membership
    sell(ahead, club, world.carol, renews=first, at=now - timedelta(days=1))
    trial(on_trial, club, 30, now - timedelta(days=1))
    gone = sell(ended, club, world.carol, at=now - timedelta(days=60)).membership
    memberships_end(now=gone.ends_at + timedelta(minutes=1))
    refund(sell(refunded, club, world.carol).membership, world.bob)
    sell(other, club_plan(world.shop, name="Tea club"), world.carol)
    sell(no_email, club, world.carol)
    change = schedule(club, 350, today(world.shop) + timedelta(days=14), world.alice)
    assert price_change_invite(change_id=change.pk) == 2
    assert price_change_invite(change_id=change.pk) == 0
    # The worker catches up on a change whose task was lost: nobody twice.
    PlanPriceChange.objects.filter(pk=change.pk).update(invited_at=None)
    price_changes_apply()
    invited = messages("plan_price_rise")
    assert sorted(invited.values_list("member_id", flat=True)) == sorted([holder.pk, ahead.pk])
    assert {m.occasion for m in invited} == {str(change.pk)}
    change.refresh_from_db()
    assert change.invited == 2 and change.invited_at is not None
    # Once the new price has started, nobody is invited any more.
    late = MemberFactory(shop=world.shop)
    sell(late, club, world.carol)
    assert price_change_invite(change_id=change.pk, now=change.starts_at) == 0


# The messages, as the member reads them


def sent_to(member):
    return [m for m in mail.outbox if m.to == [member.email]]


def test_the_ending_lapsed_and_price_rise_messages_read_well(world, club):
    now = timezone.now()
    mia = MemberFactory(shop=world.shop, name="Mia Chen")
    held = sell(mia, club, world.carol, at=now - timedelta(days=25)).membership
    change = schedule(club, 350, today(world.shop) + timedelta(days=20), world.alice)
    price_change_invite(change_id=change.pk)
    membership_reminders(now=now)
    memberships_end(now=held.ends_at + timedelta(minutes=1))
    mail.outbox.clear()
    assert outbox_flush(now=held.ends_at + timedelta(minutes=2)) == 3
    assert not Message.objects.exclude(status=Message.Status.SENT).exists()
    ends_on = timezone.localtime(held.ends_at, TAIPEI).date().isoformat()
    new_from = (today(world.shop) + timedelta(days=20)).isoformat()
    by_subject = {m.subject: m for m in sent_to(mia)}
    assert set(by_subject) == {
        "Renew your Coffee club at Alice's Café at today's price",
        "Your Coffee club at Alice's Café ends soon",
        "Your Coffee club at Alice's Café has ended",
    }
    rise = by_subject["Renew your Coffee club at Alice's Café at today's price"].body
    assert rise.startswith("Hello Mia Chen,")
    assert f"From {new_from}, Coffee club costs NT$350 instead of NT$300. Renew at the counter before then" in rise
    ending = by_subject["Your Coffee club at Alice's Café ends soon"].body
    assert f"Your Coffee club ends on {ends_on}. Renew at the counter to keep its benefits" in ending
    assert f"Renew before {new_from} at today's price, NT$300; from then it costs NT$350." in ending
    lapsed = by_subject["Your Coffee club at Alice's Café has ended"].body
    assert f"Your Coffee club ended on {ends_on}. We would be glad to have you back" in lapsed
    assert "any time, NT$300." in lapsed and f"From {new_from} it costs NT$350." in lapsed
    html = by_subject["Your Coffee club at Alice's Café has ended"].alternatives[0][0]
    assert "Hello Mia Chen," in html and f"ended on {ends_on}" in html


def test_the_trial_and_bundle_reminders_read_well(world):
    now = timezone.now()
    mia = MemberFactory(shop=world.shop, name="Mia Chen")
    tea = club_plan(world.shop, name="Tea club", price=Decimal(250))
    held = trial(mia, tea, 2, now)
    bundle = bundle_plan(world.shop, valid_days=5)
    sell(mia, bundle, world.carol, at=now)
    assert membership_reminders(now=now) == 2
    mail.outbox.clear()
    outbox_flush(now=now + timedelta(minutes=1))
    by_subject = {m.subject: m.body for m in sent_to(mia)}
    ends_on = timezone.localtime(held.ends_at, TAIPEI).date().isoformat()
    assert (
        f"Your free trial of Tea club ends on {ends_on}." in by_subject["Your Tea club trial at Alice's Café ends soon"]
    )
    assert "take the plan at the counter: NT$250." in by_subject["Your Tea club trial at Alice's Café ends soon"]
    expires = by_subject["Your 10 lattes for the price of 8 at Alice's Café expires soon"]
    assert expires.startswith("Hello Mia Chen,") and "10 lattes for the price of 8: you have 10 items left" in expires
    assert f"left; use them by {timezone.localtime(now + timedelta(days=5), TAIPEI).date().isoformat()}." in expires
