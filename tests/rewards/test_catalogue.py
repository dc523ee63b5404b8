from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from members.models import Member
from rewards import reads, services
from rewards.ledger import LoyaltyError
from rewards.models import MemberCard

from ..conftest import key
from ..factories import CatalogueRewardFactory, PointsRuleFactory, TierFactory


@pytest.fixture
def rich_member(world, member):
    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)
    services.purchase_record(member=member, amount=Decimal(1000), staff=world.carol, idempotency_key=key())  # 100
    return member


def reward(world, **fields):
    return CatalogueRewardFactory(shop=world.shop, **{"name": "Free cookie", "cost_points": 40, **fields})


def redeem(member, item, staff):
    return services.reward_redeem(member=member, reward_id=item.pk, staff=staff, idempotency_key=key())


def points_of(member):
    return Member.objects.get(pk=member.pk).points


def test_redeem_spends_points_and_stock(world, rich_member):
    item = reward(world, stock=2)
    result = redeem(rich_member, item, world.carol)
    assert result.reward_redeemed == item
    assert points_of(rich_member) == 60
    item.refresh_from_db()
    assert item.stock == 1


def test_redeem_with_stamps(world, member, program):
    services.stamps_adjust(member=member, program=program, stamps=5, note="x", staff=world.bob, idempotency_key=key())
    item = reward(world, cost_points=None, cost_stamps=4, stamp_program=program)
    redeem(member, item, world.carol)
    assert MemberCard.objects.get(member=member).stamps == 1
    with pytest.raises(LoyaltyError) as error:
        redeem(member, item, world.carol)
    assert error.value.code == "not_enough_stamps"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"cost_points": 101}, "not_enough_points"),
        ({"stock": 0}, "not_available"),
        ({"is_active": False}, "not_available"),
        ({"starts_at": "tomorrow"}, "not_available"),
        ({"ends_at": "yesterday"}, "not_available"),
    ],
)
def test_refusals(world, rich_member, fields, code):
    days = {"tomorrow": timedelta(days=1), "yesterday": timedelta(days=-1)}
    fields = {k: timezone.now() + days[v] if v in days else v for k, v in fields.items()}
    item = reward(world, **fields)
    with pytest.raises(LoyaltyError) as error:
        redeem(rich_member, item, world.carol)
    assert error.value.code == code
    assert points_of(rich_member) == 100


def test_per_member_limit(world, rich_member):
    item = reward(world, cost_points=10, per_member_limit=2)
    redeem(rich_member, item, world.carol)
    redeem(rich_member, item, world.carol)
    with pytest.raises(LoyaltyError) as error:
        redeem(rich_member, item, world.carol)
    assert error.value.code == "limit_reached"


def test_a_negative_balance_cannot_redeem(world, member):
    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)
    bought = services.purchase_record(member=member, amount=Decimal(100), staff=world.carol, idempotency_key=key())
    redeem(member, reward(world, cost_points=10), world.carol)
    services.purchase_refund(
        shop=world.shop, purchase_id=bought.purchase.pk, amount=Decimal(100), staff=world.bob, idempotency_key=key()
    )
    assert points_of(member) == -10
    with pytest.raises(LoyaltyError):
        redeem(member, reward(world, name="Tiny", cost_points=1), world.carol)


def test_undo_gives_back_points_and_stock(world, rich_member):
    item = reward(world, stock=1)
    result = redeem(rich_member, item, world.carol)
    services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    item.refresh_from_db()
    assert (points_of(rich_member), item.stock) == (100, 1)


def test_another_shops_reward_is_not_found(world, rich_member):
    item = CatalogueRewardFactory(shop=world.other_shop, name="x", cost_points=1)
    with pytest.raises(LoyaltyError) as error:
        redeem(rich_member, item, world.carol)
    assert error.value.code == "not_found"


def test_what_a_member_can_afford_and_what_is_next(world, rich_member, django_assert_num_queries):
    reward(world, name="Cookie", cost_points=40)
    reward(world, name="Cake", cost_points=150)
    reward(world, name="Gone", cost_points=1, stock=0)
    fresh = Member.objects.select_related("shop").get(pk=rich_member.pk)
    reads.catalogue_for(fresh, {})  # the shop's catalogue is read once, then held (rewards.config)
    with django_assert_num_queries(0):
        views = reads.catalogue_for(fresh, {})
    assert [(v.reward.name, v.affordable, v.points_short) for v in views] == [("Cookie", True, 0), ("Cake", False, 50)]
    # A limit per member costs one query: the member's own redemptions.
    reward(world, name="Once", cost_points=1, per_member_limit=1)
    fresh = Member.objects.select_related("shop").get(pk=rich_member.pk)
    reads.catalogue_for(fresh, {})
    with django_assert_num_queries(1):
        assert "Once" in [v.reward.name for v in reads.catalogue_for(fresh, {})]


def test_a_reward_for_a_tier_and_above(world, rich_member):

    silver = TierFactory(shop=world.shop, name="Silver", threshold=5)
    gold = TierFactory(shop=world.shop, name="Gold", threshold=10)
    item = reward(world, name="Gold lounge", cost_points=10, min_tier=gold)
    assert reads.catalogue_for(Member.objects.get(pk=rich_member.pk), {}) == []
    with pytest.raises(LoyaltyError) as error:
        redeem(rich_member, item, world.carol)
    assert error.value.code == "tier_too_low"
    Member.objects.filter(pk=rich_member.pk).update(tier=silver)
    with pytest.raises(LoyaltyError):
        redeem(rich_member, item, world.carol)
    Member.objects.filter(pk=rich_member.pk).update(tier=gold)
    assert [v.reward.name for v in reads.catalogue_for(Member.objects.get(pk=rich_member.pk), {})] == ["Gold lounge"]
    redeem(rich_member, item, world.carol)
