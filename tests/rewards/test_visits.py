"""A visit is defined once (LedgerEntry.objects.visits()) and counted the same everywhere
(regression: +3 +3 +1 in a minute with an override counted three visits)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from rewards import services
from rewards.models import LedgerEntry, TierPolicy
from rewards.services.tiers import progress

from ..conftest import key
from ..factories import PointsRuleFactory, TierFactory, TierPolicyFactory


@pytest.fixture
def policy(world):
    return TierPolicyFactory(shop=world.shop, basis=TierPolicy.Basis.VISITS, window_months=12)


def test_stamps_given_together_are_one_visit(world, member, program, policy):
    start = timezone.now() - timedelta(hours=3)
    for minute, count in ((0, 3), (1, 3), (1, 1)):
        services.stamp_add(member=member, program=program, count=count, staff=world.bob, override=True,
                           override_reason="correction", idempotency_key=key(),
                           at=start + timedelta(minutes=minute))  # fmt: skip
    assert LedgerEntry.objects.filter(member=member).visits().count() == 1
    assert progress(member, policy, world.shop.tz, timezone.now()) == 1
    # Back after lunch: a second visit.
    services.stamp_add(member=member, program=program, count=1, staff=world.bob, idempotency_key=key(),
                       at=start + timedelta(minutes=90))  # fmt: skip
    assert progress(member, policy, world.shop.tz, timezone.now()) == 2


def test_a_purchase_that_stamps_is_one_visit_and_an_undone_one_is_none(world, member, program, policy):
    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10, purchase_stamps=program)
    result = services.purchase_record(member=member, amount=Decimal(100), staff=world.carol, idempotency_key=key())
    assert LedgerEntry.objects.filter(member=member).visits().count() == 1
    services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    assert LedgerEntry.objects.filter(member=member).visits().count() == 0
    # After an undo, the next action begins a visit of its own.
    services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key())
    assert progress(member, policy, world.shop.tz, timezone.now()) == 1


def test_tiers_count_visits_by_the_same_rule(world, member, program, policy):
    TierFactory(shop=world.shop, name="Silver", threshold=2)
    start = timezone.now() - timedelta(hours=2)
    for minute in (0, 1, 2):
        services.stamp_add(member=member, program=program, count=1, staff=world.bob, override=True,
                           override_reason="correction", idempotency_key=key(),
                           at=start + timedelta(minutes=minute))  # fmt: skip
    member.refresh_from_db()
    assert member.tier is None, "three stamps in two minutes are one visit, not Silver's two"
