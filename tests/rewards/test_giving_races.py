"""Gifts to a cause raced on PostgreSQL: a member's points are never given twice, and the shop never
matches past its limit, whatever arrives at once."""

from decimal import Decimal

import pytest
from django.db import connection

from rewards import services
from rewards.ledger import LoyaltyError
from rewards.models import Cause, Contribution
from rewards.services import giving

from ..factories import CauseFactory, MemberFactory, PointsRuleFactory, ShopFactory, StaffFactory
from .test_concurrency import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only"),
]


@pytest.fixture
def shop():
    shop = ShopFactory()
    PointsRuleFactory(shop=shop, points_per_step=1, step_amount=1, max_purchase=100_000)
    return shop


def with_points(shop, points):
    member = MemberFactory(shop=shop)
    staff = StaffFactory(shop=shop).user
    services.purchase_record(member=member, amount=Decimal(points), staff=staff, idempotency_key=f"p-{member.pk}")
    return member


def test_the_same_points_given_from_two_phones_at_once_are_given_once(shop):
    cause = CauseFactory(shop=shop, basis=Cause.Basis.NONE, amount_per=0, point_value=1)
    member = with_points(shop, 100)

    def give(i):
        return giving.points_donate(member=member, cause=cause, points=80, idempotency_key=f"give-{i}")

    results = race(6, give)
    done = [result for result in results if not isinstance(result, Exception)]
    refused = [result for result in results if isinstance(result, LoyaltyError)]
    assert len(done) == 1 and len(refused) == 5, results
    member.refresh_from_db()
    assert member.points == 20
    assert Contribution.objects.filter(kind="donation").count() == 1


def test_the_shop_never_matches_past_its_limit(shop):
    cause = CauseFactory(shop=shop, basis=Cause.Basis.NONE, amount_per=0, point_value=1, match_limit=100)
    members = [with_points(shop, 50) for _ in range(8)]

    def give(i):
        return giving.points_donate(member=members[i], cause=cause, points=30, idempotency_key=f"give-{i}")

    results = race(8, give)
    assert not [result for result in results if isinstance(result, Exception)], results
    cause.refresh_from_db()
    assert cause.matched == Decimal(100)
    matched = sum(c.amount for c in Contribution.objects.filter(cause=cause, kind="match"))
    assert matched == Decimal(100)
    cache_free = giving.raised([cause])
    assert cache_free[cause.pk] == Decimal(8 * 30 + 100)


def test_a_reversal_raced_twice_gives_the_points_back_once(shop):
    cause = CauseFactory(shop=shop, basis=Cause.Basis.NONE, amount_per=0, point_value=1, match_limit=50)
    member = with_points(shop, 100)
    giving.points_donate(member=member, cause=cause, points=40, idempotency_key="give")
    gift = Contribution.objects.select_related("cause__shop", "entry").get(kind="donation")
    manager = StaffFactory(shop=shop, role="manager").user

    results = race(4, lambda i: giving.donation_reverse(contribution=gift, staff=manager, reason=f"slip {i}"))
    assert len([result for result in results if not isinstance(result, Exception)]) == 1, results
    member.refresh_from_db()
    cause.refresh_from_db()
    assert (member.points, cause.matched) == (100, 0)
