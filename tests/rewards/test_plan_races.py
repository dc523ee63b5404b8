"""Memberships raced by real threads against PostgreSQL: two tills renewing the same membership, two
sales at once, the worker's rounds run twice at once, two owners scheduling a new price. Nothing is
renewed twice, no two periods overlap, nothing is issued or told twice, and the ledger reconciles
(the rewards conftest checks it after each test).

SQLite serialises every writer, so it cannot prove locking: these run on PostgreSQL only."""

import itertools
import uuid
import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.models import Message
from members.roles import Role
from rewards import ledger
from rewards.ledger import LoyaltyError
from rewards.models import LedgerEntry, Membership, PlanPriceChange, Voucher
from rewards.services.plans import (
    allowances_issue,
    membership_reminders,
    memberships_end,
    price_change_schedule,
)

from ..factories import MemberFactory, ShopFactory, StaffFactory
from .test_concurrency import race
from .test_plans import bundle_plan, club_plan, sell

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only"),
]

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


@pytest.fixture
def till():
    shop = ShopFactory()
    staff = StaffFactory(shop=shop).user
    return shop, staff, MemberFactory(shop=shop)


def wins_and_codes(results):
    wins = [r for r in results if isinstance(r, ledger.ActionResult)]
    errors = [r for r in results if not isinstance(r, ledger.ActionResult)]
    assert all(isinstance(e, LoyaltyError) for e in errors), errors
    return wins, {e.code for e in errors}


def assert_no_overlap(member, plan):
    held = list(
        Membership.objects.filter(member=member, plan=plan, status=Membership.Status.ACTIVE).order_by("starts_at")
    )
    for before, after in itertools.pairwise(held):
        assert after.starts_at >= before.ends_at, (before, after)
    return held


def test_two_tills_renewing_the_same_membership_renew_it_once(till):
    _shop, staff, member = till
    plan = club_plan(member.shop)
    held = sell(member, plan, staff).membership
    for _round in range(3):
        results = race(8, lambda i, held=held: sell(member, plan, staff, renews=held, idempotency_key=uuid.uuid4().hex))
        wins, codes = wins_and_codes(results)
        assert len(wins) == 1 and codes == {"already_renewed"}, results
        renewal = wins[0].membership
        assert (renewal.renews_id, renewal.starts_at) == (held.pk, held.ends_at)
        held = renewal
    chain = assert_no_overlap(member, plan)
    assert len(chain) == 4
    assert [m.renews_id for m in chain] == [None, *(m.pk for m in chain[:-1])]
    assert LedgerEntry.objects.filter(member=member, reason=LedgerEntry.Reason.PLAN_SOLD).count() == 4
    assert ledger.drift() == []


def test_sales_at_once_to_a_member_without_the_plan_run_one_after_another(till):
    _shop, staff, member = till
    plan = club_plan(member.shop)
    results = race(5, lambda i: sell(member, plan, staff, idempotency_key=uuid.uuid4().hex))
    wins, codes = wins_and_codes(results)
    # Each sale queued on the member lock and found the one before it: five months in a row.
    assert len(wins) == 5 and not codes
    chain = assert_no_overlap(member, plan)
    assert len(chain) == 5
    for before, after in itertools.pairwise(chain):
        assert (after.renews_id, after.starts_at) == (before.pk, before.ends_at)
    assert {m.chain_started_at for m in chain} == {chain[0].starts_at}


def test_the_monthly_voucher_raced_by_two_workers_is_issued_once(till):
    _shop, staff, member = till
    plan = club_plan(member.shop, period_months=3, allowance_title="Free latte")
    sold = datetime(2026, 1, 10, 10, tzinfo=TAIPEI)
    held = sell(member, plan, staff, at=sold).membership
    for month in (1, 2):
        due = datetime(2026, 1 + month, 10, 10, 30, tzinfo=TAIPEI)
        assert sum(race(4, lambda i, due=due: allowances_issue(now=due))) == 1
    assert sorted(Voucher.objects.filter(membership=held).values_list("allowance_month", flat=True)) == [0, 1, 2]


def test_the_end_raced_by_two_workers_expires_and_tells_once(till):
    _shop, staff, member = till
    bundle = sell(member, bundle_plan(member.shop), staff, at=timezone.now() - timedelta(days=91)).membership
    club = sell(member, club_plan(member.shop), staff, at=timezone.now() - timedelta(days=40)).membership
    results = race(4, lambda i: memberships_end())
    assert sum(results) == 2, results
    expired = LedgerEntry.objects.filter(membership=bundle, reason=LedgerEntry.Reason.PLAN_EXPIRED)
    assert list(expired.values_list("items", flat=True)) == [-10]
    assert Message.objects.filter(campaign="plan_lapsed", occasion=str(club.pk)).count() == 1
    assert Membership.objects.filter(status=Membership.Status.ACTIVE).count() == 0


def test_the_reminder_raced_by_two_workers_goes_once(till):
    _shop, staff, member = till
    held = sell(member, club_plan(member.shop), staff, at=timezone.now() - timedelta(days=27)).membership
    assert sum(race(4, lambda i: membership_reminders())) == 1
    assert Message.objects.filter(campaign="plan_ending", occasion=str(held.pk)).count() == 1


def test_two_new_prices_scheduled_at_once_one_waits(till):
    shop, _staff, _member = till
    owner = StaffFactory(shop=shop, role=Role.OWNER).user
    plan = club_plan(shop)
    tomorrow = timezone.localtime(timezone.now(), shop.tz).date() + timedelta(days=1)
    results = race(4, lambda i: price_change_schedule(plan=plan, new_price=310 + i, from_day=tomorrow, staff=owner))
    changes = [r for r in results if isinstance(r, PlanPriceChange)]
    codes = {r.code for r in results if isinstance(r, LoyaltyError)}
    assert len(changes) == 1 and codes == {"price_change_pending"}, results
    assert PlanPriceChange.objects.filter(plan=plan).count() == 1


def test_a_renewal_locks_the_member_row(till):
    _shop, staff, member = till
    plan = club_plan(member.shop)
    held = sell(member, plan, staff).membership
    with CaptureQueriesContext(connection) as queries:
        sell(member, plan, staff, renews=held)
    assert any("FOR UPDATE" in q["sql"] and '"members_member"' in q["sql"] for q in queries.captured_queries)
