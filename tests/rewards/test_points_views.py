from decimal import Decimal

import pytest
from django.urls import reverse

from members.models import Member
from members.tokens import card_token
from rewards.models import PointsRule, Purchase

from ..conftest import key
from ..factories import PointsRuleFactory, StampProgramFactory


@pytest.fixture
def rule(world, program):
    return PointsRuleFactory(
        shop=world.shop, is_active=True, step_amount=10, bill_points=100, bill_value=10, purchase_stamps=program
    )


def purchase(client, world, member, **data):
    return client.post(
        reverse("rewards:counter_purchase", args=[world.shop.slug, member.public_id]),
        {"key": key(), **data},
        headers={"HX-Request": "true"},
    )


def test_record_a_purchase_at_the_counter(world, member, rule):
    carol = world.client(world.carol)
    response = purchase(carol, world, member, amount="120", receipt="R-1001")
    body = response.content.decode()
    assert response.status_code == 200
    assert "+12 points" in body and "+1 stamp added" in body
    assert Member.objects.get(pk=member.pk).points == 12
    assert Purchase.objects.get().receipt == "R-1001"


def test_pay_part_of_the_bill_with_points_shows_what_is_left(world, member, rule):
    carol = world.client(world.carol)
    purchase(carol, world, member, amount="2000")  # 200 points
    body = purchase(carol, world, member, amount="200", pay_points="200", confirmed="1").content.decode()
    assert "Still to pay: NT$180" in body
    assert Member.objects.get(pk=member.pk).points == 200 - 200 + 18


def test_a_purchase_paying_with_points_answers_with_its_balances_in_a_fixed_number_of_queries(
    world, member, rule, django_assert_num_queries
):
    carol = world.client(world.carol)
    purchase(carol, world, member, amount="2000")  # 200 points, and the card's first stamp
    # the user with their role, the member; BEGIN, the lock, the purchase, whether it opens a visit,
    # its rows (earned and paid) in one INSERT and the points they move in one UPDATE; the card's
    # stamp in a savepoint (SAVEPOINT, the card with its last visit, the row, the card, RELEASE);
    # COMMIT
    with django_assert_num_queries(14):
        response = purchase(carol, world, member, amount="200", pay_points="100", confirmed="1")
    body = response.content.decode()
    # 200 points, 100 paid, 19 earned on the NT$190 paid in money
    assert 'class="points-balance">119<' in body and "Still to pay: NT$190" in body
    assert 'data-hx-swap-oob="true"' in body and "<table" not in body


@pytest.mark.parametrize(
    "data", [{"amount": ""}, {"amount": "abc"}, {"amount": "-5"}, {"amount": "10", "pay_points": "-1"}]
)
def test_bad_purchase_input_changes_nothing(world, member, rule, data):
    response = purchase(world.client(world.carol), world, member, **data)
    assert response.status_code == 422
    assert "Not done:" in response.content.decode()
    assert not Purchase.objects.exists()


def test_the_panel_offers_points_only_when_the_shop_gives_them(world, member, program):
    carol = world.client(world.carol)
    url = reverse("rewards:counter_member", args=[world.shop.slug, member.public_id])
    assert "Record purchase" not in carol.get(url).content.decode()
    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)
    assert "Record purchase" in carol.get(url).content.decode()


def test_manager_refunds_from_the_member_page(world, member, rule):
    purchase(world.client(world.carol), world, member, amount="100")
    bought = Purchase.objects.get()
    url = reverse("rewards:purchase_refund", args=[world.shop.slug, member.public_id, bought.public_id])
    response = world.client(world.carol).post(url, {"amount": "100", "key": key()})
    assert response.status_code == 403
    bob = world.client(world.bob)
    response = bob.post(url, {"amount": "40", "key": key()}, follow=True)
    assert "Refund recorded." in response.content.decode()
    assert Member.objects.get(pk=member.pk).points == 6
    response = bob.post(url, {"amount": "100", "key": key()}, follow=True)
    assert "can still be refunded" in response.content.decode()
    bought.refresh_from_db()
    assert bought.refunded_amount == Decimal(40)


def test_points_settings_with_preview_and_validation(world, program):
    bob = world.client(world.bob)
    url = reverse("rewards:points_settings", args=[world.shop.slug])
    data = {
        "is_active": "on",
        "points_per_step": "1",
        "step_amount": "10",
        "rounding": "down",
        "min_purchase": "0",
        "purchase_stamps": str(program.pk),
        "bill_points": "100",
        "bill_value": "",
        "bill_max_percent": "50",
        "max_purchase": "10000",
        "expiry": "never",
    }
    response = bob.post(url, data)
    assert response.status_code == 400
    assert "fill in both" in response.content.decode()
    assert not PointsRule.objects.exists()
    response = bob.post(url, {**data, "bill_value": "10"}, follow=True)
    body = response.content.decode()
    assert "A purchase of NT$120 earns 12 points." in body
    assert "100 points take NT$10 off a bill, up to 50% of it." in body


def test_another_shops_card_cannot_be_chosen_for_purchase_stamps(world):

    other = StampProgramFactory(shop=world.other_shop, name="x", reward="y")
    response = world.client(world.bob).post(
        reverse("rewards:points_settings", args=[world.shop.slug]),
        {"is_active": "on", "points_per_step": "1", "step_amount": "10", "rounding": "down", "min_purchase": "0",
         "purchase_stamps": str(other.pk), "bill_max_percent": "50", "max_purchase": "10000"},
    )  # fmt: skip
    assert response.status_code == 400
    assert not PointsRule.objects.exists()


def test_the_card_shows_points_and_their_worth(world, member, rule, client):
    purchase(world.client(world.carol), world, member, amount="1500")
    body = client.get(reverse("rewards:card", args=[card_token(member)])).content.decode()
    assert "150" in body and "Worth NT$15 off your next bill." in body
