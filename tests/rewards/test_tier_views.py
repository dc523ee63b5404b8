from django.urls import reverse

from members.tokens import card_token
from rewards import services
from rewards.models import Tier, TierPolicy

from ..conftest import key
from ..factories import CatalogueRewardFactory, TierFactory, TierPolicyFactory


def test_manager_sets_up_tiers(world):
    bob = world.client(world.bob)
    url = reverse("rewards:tier_settings", args=[world.shop.slug])
    policy = {"policy-basis": "visits", "policy-window_months": "12", "policy-grace_days": "30", "save_policy": "1"}
    assert bob.post(url, policy).status_code == 302
    tier = {"tier-name": "Gold", "tier-threshold": "5", "tier-multiplier": "2", "tier-benefits": "Free size upgrade"}
    assert bob.post(url, {**tier, "save_tier": "1"}).status_code == 302
    response = bob.post(url, {**tier, "tier-name": "Also five", "save_tier": "1"})
    assert response.status_code == 400 and "already starts at this number" in response.content.decode()
    response = bob.post(
        url, {**tier, "tier-name": "Silly", "tier-threshold": "9", "tier-multiplier": "0.5", "save_tier": "1"}
    )
    assert response.status_code == 400
    assert list(Tier.objects.values_list("name", flat=True)) == ["Gold"]
    page = bob.get(url).content.decode()
    assert "5 visits to Gold" in page and "Counted over the last 12 months." in page
    assert TierPolicy.objects.get(shop=world.shop).grace_days == 30


def test_card_and_counter_show_tier_and_progress(world, member, program, client):
    program.min_minutes_between_visits = 0
    program.save()
    TierPolicyFactory(shop=world.shop, basis="visits")
    TierFactory(shop=world.shop, name="Silver", threshold=1, benefits="Birthday cake")
    TierFactory(shop=world.shop, name="Gold", threshold=4)
    services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key())
    card = client.get(reverse("rewards:card", args=[card_token(member)])).content.decode()
    assert "Silver" in card and "3 visits to Gold" in card and "Birthday cake" in card
    assert "— → Silver · Qualified" in card
    panel = world.client(world.carol).get(reverse("rewards:counter_member", args=[world.shop.slug, member.public_id]))
    assert "3 visits to Gold" in panel.content.decode()
    detail = world.client(world.bob).get(reverse("rewards:member_detail", args=[world.shop.slug, member.public_id]))
    assert "— → Silver · Qualified" in detail.content.decode()


def test_the_tier_page_says_what_each_tier_unlocks(world):

    gold = TierFactory(shop=world.shop, name="Gold", threshold=10)
    CatalogueRewardFactory(shop=world.shop, name="Secret menu", cost_points=5, min_tier=gold)
    body = world.client(world.bob).get(reverse("rewards:tier_settings", args=[world.shop.slug])).content.decode()
    assert "Secret menu" in body
