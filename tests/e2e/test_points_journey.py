"""Journey: the owner turns points on and sets up a tier and a reward; staff record a purchase, the
customer sees points, tier and what they can have on the card; staff redeem a catalogue reward and
let points pay part of a bill; a manager refunds."""

import re

import pytest
from playwright.sync_api import expect

from members import services as shop_services
from members.models import Member
from members.tokens import card_token
from rewards import ledger

from ..factories import PASSWORD, MemberFactory, UserFactory


@pytest.mark.django_db(transaction=True)
def test_points_from_settings_to_counter_to_card(live_server, page, phone_page, screenshot, assert_accessible):
    owner = UserFactory(email="owner@points.example")
    shop = shop_services.shop_create(owner=owner, name="Points Café", slug="points", language="en")
    member = MemberFactory(shop=shop, name="Liam Wu")

    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_login").fill(owner.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()

    page.goto(f"{live_server.url}/s/{shop.slug}/points/")
    page.get_by_label("Points are on").check()
    page.get_by_label("For every").fill("10")
    page.get_by_label("Points to pay with").fill("100")
    page.get_by_label("Are worth").fill("10")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("A purchase of NT$120 earns 12 points.")).to_be_visible()

    # A tier for regulars, and a cookie to spend points on.
    page.goto(f"{live_server.url}/s/{shop.slug}/tiers/")
    page.get_by_label("Qualify by").select_option("points")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_label("Name").fill("Gold")
    page.get_by_label("Needed to qualify").fill("100")
    page.get_by_label("Benefits").fill("Free size upgrade")
    page.get_by_role("button", name="Save tier").click()
    expect(page.get_by_text("Tiers saved.")).to_be_visible()
    page.goto(f"{live_server.url}/s/{shop.slug}/rewards/new/")
    page.get_by_label("Name").fill("Butter cookie")
    page.get_by_label("Cost in points").fill("30")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Reward saved.")).to_be_visible()

    page.goto(f"{live_server.url}/s/{shop.slug}/counter/")
    page.locator("#counter-q").fill(member.code)
    page.locator("#counter-q").press("Enter")
    expect(page.get_by_role("heading", name="Liam Wu")).to_be_visible()
    page.get_by_label("Purchase amount").fill("1500")
    page.get_by_role("button", name="Record purchase").click()
    expect(page.get_by_text("+150 points")).to_be_visible()

    phone_page.goto(f"{live_server.url}/c/{card_token(member)}/")
    expect(phone_page.get_by_text("Worth NT$15 off your next bill.")).to_be_visible()
    expect(phone_page.get_by_text("Gold", exact=True)).to_be_visible()
    expect(phone_page.get_by_text("Free size upgrade")).to_be_visible()
    expect(phone_page.get_by_text("You can have this now: ask at the counter")).to_be_visible()

    # Found by typing the member code, not a fresh QR scan: staff confirm the person before a spend.
    cookie = page.get_by_role("listitem").filter(has_text="Butter cookie")
    cookie.get_by_label(re.compile("I checked: this is Liam Wu")).check()
    cookie.get_by_role("button", name="Redeem").click()
    expect(page.get_by_text("Redeemed: Butter cookie")).to_be_visible()

    page.get_by_label("Purchase amount").fill("200")
    page.get_by_label("Pay with points", exact=True).fill("100")
    page.get_by_label(re.compile("Paying with points: I checked")).check()
    page.get_by_role("button", name="Record purchase").click()
    expect(page.get_by_text("Still to pay: NT$190")).to_be_visible()
    screenshot(page, "points-counter")
    assert_accessible(page, "counter with points")
    # Gold earns nothing extra here (multiplier 1): 150 - 30 (cookie) - 100 (bill) + 19.
    assert Member.objects.get(pk=member.pk).points == 150 - 30 - 100 + 19

    phone_page.reload()
    expect(phone_page.get_by_role("heading", name="Points 39")).to_be_visible()
    screenshot(phone_page, "points-card")
    assert_accessible(phone_page, "card with points")

    page.goto(f"{live_server.url}/s/{shop.slug}/members/{member.public_id}/")
    page.get_by_role("row", name="NT$1,500").get_by_role("button", name="Refund").click()
    expect(page.get_by_text("Refund recorded.")).to_be_visible()
    assert Member.objects.get(pk=member.pk).points == 39 - 150
    assert ledger.drift() == []
