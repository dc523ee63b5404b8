"""Limits at the counter: a typo of 100,000 in an amount is refused, and going past a limit is a
manager's override with a reason from a short list and an optional note."""

from decimal import Decimal

import pytest
from django.urls import reverse

from members.models import Member
from rewards import services
from rewards.ledger import LoyaltyError
from rewards.models import LedgerEntry, Purchase

from ..conftest import key
from ..factories import PointsRuleFactory


@pytest.fixture
def rule(world, program):
    return PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10, max_purchase=Decimal(5000))


def buy(client, world, member, **data):
    return client.post(
        reverse("rewards:counter_purchase", args=[world.shop.slug, member.public_id]),
        {"key": key(), **data},
        headers={"HX-Request": "true"},
    )


def test_a_typo_of_a_fortune_is_refused_and_changes_nothing(world, member, rule):
    response = buy(world.client(world.carol), world, member, amount="120000")
    assert response.status_code == 409
    assert "more than this shop&#x27;s largest purchase (NT$5,000)" in response.content.decode()
    assert not Purchase.objects.exists() and Member.objects.get(pk=member.pk).points == 0


def test_staff_cannot_override_and_a_manager_must_say_why(world, member, rule):
    assert buy(world.client(world.carol), world, member, amount="8000", override="1",
               override_reason="large_order").status_code == 409  # fmt: skip
    bob = world.client(world.bob)
    response = buy(bob, world, member, amount="8000", override="1")
    assert "Choose why the limits are overridden." in response.content.decode()
    assert not Purchase.objects.exists()
    response = buy(bob, world, member, amount="8000", override="1", override_reason="large_order",
                   override_note="Office order, 40 coffees")  # fmt: skip
    assert response.status_code == 200
    row = LedgerEntry.objects.get(reason="purchase")
    assert (row.override, row.override_reason, row.staff) == (True, "large_order", world.bob)
    assert "Office order, 40 coffees" in row.note
    assert Member.objects.get(pk=member.pk).points == 800


def test_a_stamp_override_records_who_and_why(world, member, program):
    with pytest.raises(LoyaltyError) as error:
        services.stamp_add(member=member, program=program, count=5, staff=world.bob, override=True,
                           idempotency_key=key())  # fmt: skip
    assert error.value.code == "override_reason"
    services.stamp_add(member=member, program=program, count=5, staff=world.bob, override=True,
                       override_reason="paper_card", note="Paper card, 5 stamps", idempotency_key=key())  # fmt: skip
    row = LedgerEntry.objects.get(reason="visit")
    assert (row.override, row.override_reason, row.note, row.staff) == (True, "paper_card", "Paper card, 5 stamps",
                                                                        world.bob)  # fmt: skip


def test_the_counter_offers_the_override_to_managers_only(world, member, rule):
    url = reverse("rewards:counter_member", args=[world.shop.slug, member.public_id])
    assert "Stamps from a paper card" in world.client(world.bob).get(url).content.decode()
    assert "Stamps from a paper card" not in world.client(world.carol).get(url).content.decode()


def test_the_limit_is_the_shops_to_set(world, member, rule):
    rule.max_purchase = Decimal(200000)
    rule.save()
    services.purchase_record(member=member, amount=Decimal(120000), staff=world.carol, idempotency_key=key())
    assert Member.objects.get(pk=member.pk).points == 12000


def test_the_override_fields_come_with_the_htmx_fragment_too(world, member, rule):
    url = reverse("rewards:counter_member", args=[world.shop.slug, member.public_id])
    body = world.client(world.bob).get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in body and body.count("Stamps from a paper card") == 2  # stamp and purchase forms
