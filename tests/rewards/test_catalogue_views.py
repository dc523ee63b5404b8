from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from members.models import Member
from members.tokens import card_token
from rewards import services
from rewards.models import CatalogueReward

from ..conftest import key
from ..factories import CatalogueRewardFactory, PointsRuleFactory
from ..images import bomb_upload, image_upload


def reward_data(**overrides):
    data = {"name": "Free cookie", "kind": "free_item", "cost_points": "40", "is_active": "on"}
    data.update(overrides)
    return data


@pytest.fixture
def rich_member(world, member):
    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)
    services.purchase_record(member=member, amount=Decimal(1000), staff=world.carol, idempotency_key=key())
    return member


def test_manager_adds_a_reward_with_a_picture(world):
    bob = world.client(world.bob)
    response = bob.post(
        reverse("rewards:catalogue_create", args=[world.shop.slug]), reward_data(image=image_upload(size=(900, 600)))
    )
    assert response.status_code == 302
    reward = CatalogueReward.objects.get()
    with Image.open(reward.image.path) as picture:
        assert picture.format == "PNG" and max(picture.size) == 512


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cost_points": ""}, "cost in points, in stamps, or both"),
        ({"cost_points": "", "cost_stamps": "3"}, "Choose the card"),
        ({"kind": "percent_off", "value": ""}, "Say how much is taken off"),
        ({"kind": "percent_off", "value": "150"}, "more than 100%"),
        ({"starts_at": "2027-01-02T10:00", "ends_at": "2027-01-01T10:00"}, "end must come after"),
        ({"image": "bomb"}, "too large in pixels"),
        ({"image": "text"}, "not an image"),
    ],
)
def test_bad_reward_input_changes_nothing(world, data, message):
    if data.get("image") == "bomb":
        data["image"] = bomb_upload()
    elif data.get("image") == "text":
        data["image"] = SimpleUploadedFile("x.png", b"hello", content_type="image/png")
    response = world.client(world.bob).post(
        reverse("rewards:catalogue_create", args=[world.shop.slug]), reward_data(**data)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CatalogueReward.objects.exists()


def test_staff_redeem_a_reward_in_one_tap(world, rich_member):
    reward = CatalogueRewardFactory(shop=world.shop, name="Free cookie", cost_points=40)
    CatalogueRewardFactory(shop=world.shop, name="Cake", cost_points=500)
    carol = world.client(world.carol)
    panel = carol.get(reverse("rewards:counter_member", args=[world.shop.slug, rich_member.public_id])).content.decode()
    assert "Free cookie" in panel and "400 points short" in panel
    response = carol.post(
        reverse("rewards:counter_reward", args=[world.shop.slug, rich_member.public_id]),
        {"reward": reward.public_id, "key": key(), "confirmed": "1"},
        headers={"HX-Request": "true"},
    )
    assert "Redeemed: Free cookie" in response.content.decode()
    assert Member.objects.get(pk=rich_member.pk).points == 60


def test_another_shops_reward_is_404_at_the_counter(world, rich_member):
    other = CatalogueRewardFactory(shop=world.other_shop, name="x", cost_points=1)
    response = world.client(world.carol).post(
        reverse("rewards:counter_reward", args=[world.shop.slug, rich_member.public_id]),
        {"reward": other.public_id, "key": key()},
    )
    assert response.status_code == 404
    assert Member.objects.get(pk=rich_member.pk).points == 100


def test_the_card_shows_what_a_member_can_have_and_what_is_next(world, rich_member, client):
    CatalogueRewardFactory(shop=world.shop, name="Free cookie", cost_points=40)
    CatalogueRewardFactory(shop=world.shop, name="Cake", cost_points=160)
    body = client.get(reverse("rewards:card", args=[card_token(rich_member)])).content.decode()
    assert "You can have this now" in body
    assert "60 more points to go" in body


def test_an_amount_off_is_written_without_padding_zeros(world, alice_client):
    from decimal import Decimal

    from django.urls import reverse

    from rewards.models import CatalogueReward

    reward = CatalogueReward.objects.create(
        shop=world.shop, name="NT$30 off", kind=CatalogueReward.Kind.AMOUNT_OFF, value=Decimal("30.00"), cost_points=200
    )
    body = alice_client.get(
        reverse("rewards:catalogue_edit", args=[world.shop.slug, reward.public_id])
    ).content.decode()
    field = body[body.index('name="value"') - 60 : body.index('name="value"') + 120]
    assert 'value="30"' in field and "30.00" not in field
