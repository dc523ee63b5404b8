"""Money-off and percent-off rewards change what a purchase costs at the counter, and staff see the
reduced total (regression: they were labels that changed nothing at the till)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from members.models import Member
from rewards import ledger, services
from rewards.ledger import LoyaltyError
from rewards.models import CatalogueReward, Purchase

from ..conftest import key
from ..factories import CatalogueRewardFactory, PointsRuleFactory


@pytest.fixture
def rule(world, program):
    return PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)


@pytest.fixture
def rich(world, member, rule):
    """500 points from an earlier purchase."""
    from rewards import services

    services.purchase_record(member=member, amount=Decimal(5000), staff=world.carol, idempotency_key=key())
    return member


def buy(world, member, **data):
    return world.client(world.carol).post(
        reverse("rewards:counter_purchase", args=[world.shop.slug, member.public_id]),
        {"key": key(), "confirmed": "1", **data},
        headers={"HX-Request": "true"},
    )


@pytest.mark.parametrize(("kind", "value", "off", "due"), [("amount_off", 30, "NT$30", "NT$170"),
                                                           ("percent_off", 10, "NT$20", "NT$180")])  # fmt: skip
def test_a_discount_reward_comes_off_the_purchase(world, rich, kind, value, off, due):
    reward = CatalogueRewardFactory(shop=world.shop, name="Treat", kind=kind, value=value, cost_points=100)
    panel = world.client(world.carol).get(reverse("rewards:counter_member", args=[world.shop.slug, rich.public_id]))
    assert "Take a reward off this purchase" in panel.content.decode()
    body = buy(world, rich, amount="200", reward=str(reward.public_id)).content.decode()
    assert f"A reward took {off} off." in body and f"Still to pay: {due}" in body
    purchase = Purchase.objects.order_by("created_at").last()
    assert purchase.discount == Decimal(off.removeprefix("NT$"))
    # Points are earned on what is paid in money, and the reward's cost is spent.
    paid = int(due.removeprefix("NT$"))
    assert Member.objects.get(pk=rich.pk).points == 500 - 100 + paid // 10
    assert ledger.drift() == []


def test_a_discount_alone_changes_nothing_and_says_where_it_belongs(world, rich):
    reward = CatalogueRewardFactory(shop=world.shop, name="NT$30 off", kind="amount_off", value=30,
                                    cost_points=100)  # fmt: skip
    with pytest.raises(LoyaltyError) as error:
        services.reward_redeem(member=rich, reward_id=reward.pk, staff=world.carol, idempotency_key=key())
    assert error.value.code == "wrong_kind" and "comes off a purchase" in error.value.message
    assert Member.objects.get(pk=rich.pk).points == 500


def test_undoing_the_purchase_gives_the_rewards_points_back(world, rich):
    reward = CatalogueRewardFactory(shop=world.shop, name="Treat", kind="amount_off", value=30, cost_points=100,
                                    stock=3)  # fmt: skip
    buy(world, rich, amount="200", reward=str(reward.public_id))
    purchase = Purchase.objects.order_by("created_at").last()
    services.action_undo(shop=world.shop, group=purchase.group, staff=world.carol, idempotency_key=key())
    assert Member.objects.get(pk=rich.pk).points == 500
    assert CatalogueReward.objects.get(pk=reward.pk).stock == 3
    assert ledger.drift() == []
