"""A shop's settings are held per process (members.config, rewards.config): every change of them
shows at the counter on the next request, in this process and in any other."""

from decimal import Decimal

import pytest
from django.urls import reverse

from members import config
from members.models import Shop
from rewards import services
from rewards.config import shop_rewards
from rewards.models import CatalogueReward, StampProgram

from ..conftest import key
from ..factories import (
    CampaignFactory,
    CatalogueRewardFactory,
    MemberFactory,
    PointsRuleFactory,
    TierFactory,
    TierPolicyFactory,
)


@pytest.fixture
def panel(world, program, member):
    client = world.client(world.bob)
    url = reverse("rewards:counter_member", args=[world.shop.slug, member.public_id])

    def show() -> str:
        return client.get(url, headers={"HX-Request": "true"}).content.decode()

    return client, show


def test_a_card_changed_by_its_owner_shows_at_the_counter_at_once(world, program, panel):
    client, show = panel
    assert f'id="card-{program.public_id}"' in show()
    form = {
        "name": "Tea card", "stamps_needed": 8, "reward": "Free tea", "max_stamps_per_visit": 2,
        "min_minutes_between_visits": 0, "voucher_valid_days": 30, "is_active": "on",
    }  # fmt: skip
    edit = reverse("rewards:program_edit", args=[world.shop.slug, program.public_id])
    assert client.post(edit, form).status_code == 302
    assert "Tea card" in show() and 'aria-label="0 of 8 stamps"' in show()
    assert client.post(edit, {**form, "is_active": ""}).status_code == 302
    assert f'id="card-{program.public_id}"' not in show()


def test_every_watched_change_renews_the_key(world, program):
    def current() -> str:
        return Shop.objects.get(pk=world.shop.pk).config_key

    before = current()
    tier = TierFactory(shop=world.shop, name="Gold", threshold=5)
    assert current() != before
    before = current()
    tier.delete()
    assert current() != before
    before = current()
    CampaignFactory(shop=world.shop)
    assert current() != before
    # Another shop's change leaves this one's key alone.
    before = current()
    StampProgram.objects.create(shop=world.other_shop, name="Other", reward="Other")
    assert current() == before


def test_another_process_sees_a_change_by_the_key_on_its_next_request(world, program, panel):
    """This process drops what it held when it makes a change; another process only learns of the
    change from the shop row's new key. Simulated: the old settings are put back under the old key."""
    _client, show = panel
    show()
    stale_key = Shop.objects.get(pk=world.shop.pk).config_key
    stale = shop_rewards(Shop.objects.get(pk=world.shop.pk))
    program.is_active = False
    program.save()
    config._held[("rewards", world.shop.pk)] = (stale_key, stale)  # what another process still holds
    assert f'id="card-{program.public_id}"' not in show()


def test_a_reward_sold_out_leaves_the_counter(world, rich_member_world):
    member, client = rich_member_world
    cookie = CatalogueRewardFactory(shop=world.shop, name="Last cookie", cost_points=10, stock=1)
    url = reverse("rewards:counter_member", args=[world.shop.slug, member.public_id])
    assert "Last cookie" in client.get(url).content.decode()
    services.reward_redeem(member=member, reward_id=cookie.pk, staff=world.bob, idempotency_key=key())
    assert "Last cookie" not in client.get(url).content.decode()
    assert CatalogueReward.objects.get(pk=cookie.pk).stock == 0


def test_a_tier_added_shows_on_the_panel(world, program, member, panel):
    _client, show = panel
    assert 'id="standing"' in show() and "tier-badge" not in show()
    TierPolicyFactory(shop=world.shop)
    TierFactory(shop=world.shop, name="Gold", threshold=5)
    assert "5 visits to Gold" in show()


@pytest.fixture
def rich_member_world(world):
    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)
    member = MemberFactory(shop=world.shop, name="Rich Ray")
    services.purchase_record(member=member, amount=Decimal(1000), staff=world.carol, idempotency_key=key())
    return member, world.client(world.bob)
