"""Races of real threads against PostgreSQL: nothing lost, nothing doubled.

SQLite serialises every writer, so it cannot prove locking: these run on
PostgreSQL only (DATABASE_URL), as in CI.
"""

import threading
import uuid

import pytest
from django.db import connection, connections

from rewards import ledger, services
from rewards.ledger import LoyaltyError
from rewards.models import LedgerEntry, MemberCard, Voucher

from ..factories import (
    CatalogueRewardFactory,
    MemberCardFactory,
    MemberFactory,
    PointsRuleFactory,
    ShopFactory,
    StaffFactory,
    StampProgramFactory,
    VoucherFactory,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only"),
]


def race(n, action):
    """Run ``action(i)`` in n threads released at the same instant; return results or errors."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = action(i)
        except Exception as error:
            results[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def setup():
    shop = ShopFactory()
    staff = StaffFactory(shop=shop).user
    member = MemberFactory(shop=shop)
    program = StampProgramFactory(
        shop=shop, name="Card", reward="Free", stamps_needed=25, max_stamps_per_visit=1, min_minutes_between_visits=0
    )
    return shop, staff, member, program


def fill(member, program, staff, stamps):
    MemberCardFactory(member=member, program=program)
    services.stamps_adjust(
        member=member,
        program=program,
        stamps=stamps,
        note="start",
        staff=_manager(member.shop),
        idempotency_key="start",
    )


def _manager(shop):
    return StaffFactory(shop=shop, role="manager").user


def test_twenty_redemptions_of_one_voucher_exactly_one_wins(setup):
    shop, staff, member, _program = setup
    voucher = VoucherFactory(shop=shop, member=member, title="Free latte")
    results = race(
        20,
        lambda i: services.voucher_redeem(
            shop=shop, voucher_id=voucher.pk, staff=staff, idempotency_key=uuid.uuid4().hex
        ),
    )
    wins = [r for r in results if isinstance(r, ledger.ActionResult)]
    refusals = [r for r in results if isinstance(r, LoyaltyError)]
    assert len(wins) == 1, results
    assert len(refusals) == 19 and {r.code for r in refusals} == {"redeemed"}
    assert LedgerEntry.objects.filter(reason="redeem").count() == 1
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.REDEEMED


def test_twenty_stamps_at_once_on_a_card_one_short_issue_exactly_one_voucher(setup):
    _shop, staff, member, program = setup
    fill(member, program, staff, 24)
    results = race(
        20,
        lambda i: services.stamp_add(
            member=member, program=program, count=1, staff=staff, idempotency_key=uuid.uuid4().hex
        ),
    )
    assert all(isinstance(r, ledger.ActionResult) for r in results), results
    assert Voucher.objects.filter(member=member).count() == 1
    # 24 + 20 = 44: one card of 25 completed, 19 carried over, nothing lost.
    assert MemberCard.objects.get(member=member).stamps == 19
    assert LedgerEntry.objects.filter(reason="visit").count() == 20


def test_the_visit_limit_holds_under_a_race(setup):
    _shop, staff, member, program = setup
    program.min_minutes_between_visits = 30
    program.save()
    results = race(
        20,
        lambda i: services.stamp_add(
            member=member, program=program, count=1, staff=staff, idempotency_key=uuid.uuid4().hex
        ),
    )
    assert sum(isinstance(r, ledger.ActionResult) for r in results) == 1, results
    assert {r.code for r in results if isinstance(r, LoyaltyError)} == {"too_soon"}
    assert MemberCard.objects.get(member=member).stamps == 1


def test_the_same_key_ten_times_at_once_writes_one_row(setup):
    _shop, staff, member, program = setup
    key = uuid.uuid4().hex
    results = race(
        10, lambda i: services.stamp_add(member=member, program=program, count=1, staff=staff, idempotency_key=key)
    )
    assert all(isinstance(r, ledger.ActionResult) for r in results), results
    assert len({r.group for r in results}) == 1
    assert LedgerEntry.objects.filter(idempotency_key=key).count() == 1
    assert MemberCard.objects.get(member=member).stamps == 1


def test_stamping_locks_the_member_row(setup):
    from django.test.utils import CaptureQueriesContext

    _shop, staff, member, program = setup
    with CaptureQueriesContext(connection) as queries:
        services.stamp_add(member=member, program=program, count=1, staff=staff, idempotency_key=uuid.uuid4().hex)
    assert any("FOR UPDATE" in q["sql"] and '"members_member"' in q["sql"] for q in queries.captured_queries)


def test_twenty_redeem_requests_through_the_counter_view_one_wins(setup):
    """The same race through the whole request stack: middleware, view, service."""
    from django.test import Client
    from django.urls import reverse

    shop, staff, member, _program = setup
    voucher = VoucherFactory(shop=shop, member=member, title="Free latte")
    url = reverse("rewards:counter_redeem", args=[shop.slug, member.public_id])
    clients = []
    for _ in range(20):
        client = Client()
        client.force_login(staff)
        clients.append(client)
    results = race(
        20, lambda i: clients[i].post(url, {"voucher": voucher.public_id, "key": uuid.uuid4().hex, "confirmed": "1"})
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [409] * 19, statuses
    assert LedgerEntry.objects.filter(reason="redeem").count() == 1


def test_ten_bills_paid_with_the_same_points_at_once_only_one_is_paid(setup):
    from decimal import Decimal

    from members.models import Member
    from rewards import services

    shop, staff, member, _program = setup
    PointsRuleFactory(shop=shop, is_active=True, step_amount=10, bill_points=100, bill_value=10)
    services.purchase_record(member=member, amount=Decimal(1000), staff=staff, idempotency_key="earn")  # 100 points
    results = race(
        10,
        lambda i: services.purchase_record(
            member=member, amount=Decimal(100), staff=staff, idempotency_key=f"pay-{i}", pay_points=100
        ),
    )
    paid = [r for r in results if isinstance(r, ledger.ActionResult)]
    assert len(paid) == 1, results
    assert {r.code for r in results if isinstance(r, LoyaltyError)} == {"not_enough_points"}
    # 100 earned, 100 spent, 9 earned on the NT$90 paid in money.
    assert Member.objects.get(pk=member.pk).points == 9


def test_catalogue_races_balance_for_one_and_stock_of_one(setup):
    from decimal import Decimal

    from members.models import Member
    from rewards import services

    shop, staff, member, _program = setup
    PointsRuleFactory(shop=shop, is_active=True, step_amount=10)
    services.purchase_record(member=member, amount=Decimal(500), staff=staff, idempotency_key="earn")  # 50 points
    cookie = CatalogueRewardFactory(shop=shop, name="Cookie", cost_points=50)
    results = race(
        10, lambda i: services.reward_redeem(member=member, reward_id=cookie.pk, staff=staff, idempotency_key=f"c{i}")
    )
    assert sum(isinstance(r, ledger.ActionResult) for r in results) == 1, results
    assert Member.objects.get(pk=member.pk).points == 0

    # Ten members, one last cake.
    cake = CatalogueRewardFactory(shop=shop, name="Cake", cost_points=1, stock=1)
    members = [MemberFactory(shop=shop) for _ in range(10)]
    for i, m in enumerate(members):
        services.purchase_record(member=m, amount=Decimal(10), staff=staff, idempotency_key=f"e{i}")
    results = race(
        10,
        lambda i: services.reward_redeem(member=members[i], reward_id=cake.pk, staff=staff, idempotency_key=f"k{i}"),
    )
    assert sum(isinstance(r, ledger.ActionResult) for r in results) == 1, results
    assert {r.code for r in results if isinstance(r, LoyaltyError)} == {"not_available"}
    cake.refresh_from_db()
    assert cake.stock == 0


def test_undo_of_a_purchase_races_a_spend_of_its_points_and_never_overdraws(setup):
    """Regression: undo took back a purchase's points even when they were already spent."""
    from decimal import Decimal

    from rewards import services

    shop, staff, member, _program = setup
    PointsRuleFactory(shop=shop, is_active=True, step_amount=10)
    cookie = CatalogueRewardFactory(shop=shop, name="Cookie", cost_points=10)
    bought = services.purchase_record(member=member, amount=Decimal(100), staff=staff, idempotency_key="buy")
    for _round in range(5):

        def act(i):
            if i == 0:
                return services.action_undo(
                    shop=shop, group=bought.group, staff=staff, idempotency_key=uuid.uuid4().hex
                )
            return services.reward_redeem(
                member=member, reward_id=cookie.pk, staff=staff, idempotency_key=uuid.uuid4().hex
            )

        results = race(2, act)
        wins = [r for r in results if isinstance(r, ledger.ActionResult)]
        assert len(wins) == 1, results
        assert {r.code for r in results if isinstance(r, LoyaltyError)} <= {"already_spent", "not_enough_points"}
        member.refresh_from_db()
        assert member.points == 0
        assert ledger.drift() == []
        if isinstance(results[0], ledger.ActionResult):
            break
        # The spend won: undo the spend and race again.
        services.action_undo(shop=shop, group=results[1].group, staff=staff, idempotency_key=uuid.uuid4().hex)
