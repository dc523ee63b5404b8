"""The usual order: a shop's optional menu, visits and purchases tagged at the counter with one more
tap, the member's usual and staff's note on the panel. Without a menu nothing changes."""

import json
import zipfile
from decimal import Decimal
from io import BytesIO

import pytest
from django.urls import reverse

from members import services as member_services
from rewards import services
from rewards.data import archive
from rewards.models import ItemSold, LedgerEntry, MenuItem
from rewards.services import challenges, menu

from ..conftest import key
from ..factories import MemberFactory, PointsRuleFactory, UserFactory


@pytest.fixture
def items(world):
    names = [("Oat latte", "coffee"), ("Flat white", "coffee"), ("Osmanthus oolong", "seasonal")]
    return [
        menu.menu_item_save(shop=world.shop, fields={"name": name, "tag": tag, "position": n}, by=world.bob)
        for n, (name, tag) in enumerate(names)
    ]


@pytest.fixture
def carol(world):
    return world.client(world.carol)


def panel_url(world, member):
    return reverse("rewards:counter_member", args=[world.shop.slug, member.public_id])


def stamp(client, world, member, program, *items, key_="k"):
    url = reverse("rewards:counter_stamp", args=[world.shop.slug, member.public_id])
    data = {"program": program.public_id, "count": 1, "key": key_, "item": [str(item.public_id) for item in items]}
    return client.post(url, data, headers={"HX-Request": "true"})


def test_a_shop_without_a_menu_sees_nothing_new(world, program, member, carol, django_assert_num_queries):
    page = carol.get(panel_url(world, member)).content.decode()
    assert "What they had" not in page and "Usual" not in page and "counter-note" not in page
    assert stamp(carol, world, member, program).status_code == 200
    assert not ItemSold.objects.exists()


def test_ticked_items_tag_the_visit_and_make_the_usual(world, program, member, carol, items):
    oat, flat, _tea = items
    page = carol.get(panel_url(world, member)).content.decode()
    assert "What they had (optional)" in page and "Oat latte" in page
    assert "No usual order yet" in page
    assert stamp(carol, world, member, program, oat, key_="a").status_code == 200
    services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key(),
                       items=[flat], at=LedgerEntry.objects.get().created_at.replace(year=2027))  # fmt: skip
    assert stamp(carol, world, member, program, oat, flat, key_="b").status_code == 200
    visit = LedgerEntry.objects.filter(idempotency_key="a").get()
    assert [sold.item for sold in visit.items_sold.all()] == [oat]
    usual = menu.usual_order(member)
    assert (usual.item, usual.times, usual.visits) == (flat, 2, 3)  # a tie: what they had last
    page = carol.get(panel_url(world, member)).content.decode()
    assert "Usual:" in page and "2 of the last 3 visits" in page


def test_an_item_not_on_the_menu_refuses_the_stamp_and_changes_nothing(world, program, member, carol, items):
    other = menu.menu_item_save(shop=world.other_shop, fields={"name": "Bagel"}, by=world.dave)
    off = menu.menu_item_save(shop=world.shop, item=items[2], fields={"is_active": False}, by=world.bob)
    for bad in (other, off):
        response = stamp(carol, world, member, program, bad, key_=f"x-{bad.pk}")
        assert response.status_code == 422
        assert "not on the menu" in response.content.decode()
    url = reverse("rewards:counter_stamp", args=[world.shop.slug, member.public_id])
    response = carol.post(url, {"program": program.public_id, "count": 1, "key": "g", "item": "not-a-uuid"})
    assert response.status_code == 422
    assert not LedgerEntry.objects.exists() and not ItemSold.objects.exists()


def test_an_undone_visit_no_longer_counts_towards_the_usual(world, program, member, items):
    result = services.stamp_add(
        member=member, program=program, count=1, staff=world.carol, idempotency_key=key(), items=[items[0]]
    )
    assert menu.usual_order(member).item == items[0]
    services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    assert menu.usual_order(member) is None


def test_a_purchase_is_tagged_too(world, member, items, carol):
    PointsRuleFactory(shop=world.shop)
    url = reverse("rewards:counter_purchase", args=[world.shop.slug, member.public_id])
    response = carol.post(url, {"amount": "150", "key": "p1", "item": [str(items[1].public_id)]})
    assert response.status_code == 200
    [sold] = ItemSold.objects.all()
    assert (sold.item, sold.entry.reason, sold.member) == (items[1], "purchase", member)


def test_staff_keep_a_note_that_the_panel_shows(world, program, member, carol, items):
    url = reverse("rewards:counter_note", args=[world.shop.slug, member.public_id])
    response = carol.post(url, {"note": "  oat milk,   no sugar "}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Saved." in response.content.decode()
    member.refresh_from_db()
    assert member.counter_note == "oat milk, no sugar"
    assert 'value="oat milk, no sugar"' in carol.get(panel_url(world, member)).content.decode()
    assert carol.post(url, {"note": "x" * 101}).status_code == 422
    assert carol.get(url).status_code == 405
    assert world.client(world.dave).post(url, {"note": "spy"}).status_code == 404
    member.refresh_from_db()
    assert member.counter_note == "oat milk, no sugar"


def test_the_note_the_items_and_the_badges_are_the_members_data(world, program, items):
    user = UserFactory()
    member = MemberFactory(shop=world.shop, user=user, counter_note="oat milk")
    board = challenges.challenge_save(
        shop=world.shop, by=world.bob,
        fields={"name": "One visit", "kind": "visits", "window": "week", "target": 1, "badge_name": "Hello",
                "badge_emoji": "👋", "leaderboard": True},
    )  # fmt: skip
    challenges.seat_take(member=member, challenge=board, nickname="Oat Owl")
    services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key(),
                       items=[items[0]])  # fmt: skip
    with zipfile.ZipFile(BytesIO(archive(user))) as copy:
        names = copy.namelist()
        data = json.loads(copy.read(next(name for name in names if name.endswith(".json") and "profile" not in name)))
    assert data["note_for_the_counter"] == "oat milk"
    assert data["items"][0]["item"] == "Oat latte"
    assert data["leaderboards"][0]["nickname"] == "Oat Owl"
    assert data["challenges"][0]["badge"] == "Hello"
    member_services.member_erase(member=member, by=world.alice, note="asked")
    member.refresh_from_db()
    assert member.counter_note == ""


def test_the_menu_page(world, items, django_assert_num_queries):
    url = reverse("rewards:menu_list", args=[world.shop.slug])
    bob = world.client(world.bob)
    bob.get(url)
    with django_assert_num_queries(3):  # the user with their role, the shop's switcher, the menu
        page = bob.get(url).content.decode()
    assert "Oat latte" in page and "seasonal" in page
    response = bob.post(url, {"name": "oat  LATTE", "tag": "coffee", "position": 3, "is_active": "on"})
    assert response.status_code == 400 and "already has an item of this name" in response.content.decode()
    response = bob.post(url, {"name": "Hojicha latte", "tag": "Seasonal", "price": "140", "position": 4,
                              "is_active": "on"})  # fmt: skip
    assert response.status_code == 302
    added = MenuItem.objects.get(name="Hojicha latte")
    assert (added.tag, added.price) == ("seasonal", Decimal(140))
    for bad in ({"price": "-1"}, {"price": "12.5"}, {"tag": "two words"}, {"name": ""}):
        data = {"name": "Scone", "tag": "", "position": 5, "is_active": "on", **bad}
        assert bob.post(url, data).status_code == 400, bad
    assert not MenuItem.objects.filter(name="Scone").exists()
    assert world.client(world.carol).get(url).status_code == 403
    edit = reverse("rewards:menu_edit", args=[world.shop.slug, added.public_id])
    assert world.client(world.dave).get(edit).status_code == 404
    assert bob.post(edit, {"name": "Hojicha latte", "tag": "seasonal", "position": 4}).status_code == 302
    added.refresh_from_db()
    assert not added.is_active
