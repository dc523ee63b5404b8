"""Challenges raced on PostgreSQL: the visit that completes one, recorded at two tills at once,
completes it once and gives the reward once; friends of one referrer visiting at once (the referrer
at the counter too) neither deadlock nor complete the referrer's challenge twice."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from rewards import services
from rewards.ledger import Reason
from rewards.models import ChallengeCompletion, LedgerEntry
from rewards.services import challenges

from ..factories import MemberFactory, PointsRuleFactory, ShopFactory, StaffFactory, StampProgramFactory
from .test_concurrency import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only"),
]

SINCE = datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Taipei"))


@pytest.fixture
def shop():
    return ShopFactory()


@pytest.fixture
def owner(shop):
    return StaffFactory(shop=shop, role="owner").user


@pytest.fixture
def program(shop):
    return StampProgramFactory(shop=shop, stamps_needed=50, min_minutes_between_visits=0)


def make(shop, owner, **fields):
    base = {"name": "Two visits", "kind": "visits", "window": "run", "starts_at": SINCE, "target": 2,
            "gift": "points", "gift_points": 50}  # fmt: skip
    return challenges.challenge_save(shop=shop, fields={**base, **fields}, by=owner)


def test_the_completing_visit_at_two_tills_completes_once_and_rewards_once(shop, owner, program):
    make(shop, owner)
    member = MemberFactory(shop=shop)
    tills = [StaffFactory(shop=shop).user for _ in range(4)]
    services.stamp_add(
        member=member, program=program, count=1, staff=tills[0], idempotency_key="first",
        at=timezone.now() - timedelta(hours=3),
    )  # fmt: skip

    def visit(i):
        return services.stamp_add(member=member, program=program, count=1, staff=tills[i], idempotency_key=f"till-{i}")

    results = race(4, visit)
    assert not [result for result in results if isinstance(result, Exception)], results
    assert ChallengeCompletion.objects.filter(member=member).count() == 1
    assert LedgerEntry.objects.filter(member=member, reason=Reason.CHALLENGE).count() == 1
    member.refresh_from_db()
    assert member.points == 50


def test_friends_visiting_at_once_with_their_referrer_neither_deadlock_nor_complete_twice(shop, owner, program):
    make(shop, owner, name="Bring a friend", kind="friends", target=1)
    referrer = MemberFactory(shop=shop, joined_at=timezone.now() - timedelta(days=30))
    friends = [MemberFactory(shop=shop, referred_by=referrer) for _ in range(4)]
    people = [referrer, *friends]
    staff = StaffFactory(shop=shop).user

    def visit(i):
        return services.stamp_add(member=people[i], program=program, count=1, staff=staff, idempotency_key=f"visit-{i}")

    results = race(len(people), visit)
    assert not [result for result in results if isinstance(result, Exception)], results
    assert ChallengeCompletion.objects.filter(member=referrer).count() == 1
    referrer.refresh_from_db()
    assert referrer.points == 50


def test_purchases_at_four_tills_each_count_and_the_spending_challenge_completes_once(shop, owner):
    PointsRuleFactory(shop=shop, points_per_step=1, step_amount=100, max_purchase=100_000)
    make(shop, owner, name="Spend NT$1000", kind="spend", amount=1000)
    member = MemberFactory(shop=shop)
    tills = [StaffFactory(shop=shop).user for _ in range(4)]
    services.purchase_record(member=member, amount=Decimal(800), staff=tills[0], idempotency_key="before")

    def buy(i):
        return services.purchase_record(member=member, amount=Decimal(300), staff=tills[i], idempotency_key=f"b-{i}")

    results = race(4, buy)
    assert not [result for result in results if isinstance(result, Exception)], results
    assert ChallengeCompletion.objects.filter(member=member).count() == 1
    assert LedgerEntry.objects.filter(member=member, reason=Reason.CHALLENGE).count() == 1
    member.refresh_from_db()
    assert member.points == 8 + 4 * 3 + 50
