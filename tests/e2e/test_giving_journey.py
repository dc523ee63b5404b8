"""Journey: at the demo café's counter, staff see Emma's usual and their note, tick what she has in
one tap and stamp; on her phone Emma gives points to the café's trees and sees the progress and her
part move; the rules page tells anyone how the programme works; a manager reverses a gift on the
member page, and the owner reads what the partner is owed. Screenshots and axe at each stop."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from loyalty_site.demo import persona_member
from members.models import Shop
from members.tokens import card_token, member_qr_payload
from rewards import ledger
from rewards.models import Cause, Contribution, ItemSold
from rewards.services import giving

from .test_insights_journey import log_in
from .test_prepaid_journey import tap


@pytest.mark.django_db(transaction=True)
def test_the_usual_the_trees_and_the_rules(live_server, page, phone_page, screenshot, assert_accessible):
    call_command("demo")
    shop = Shop.objects.get(slug="demo-cafe")
    emma = persona_member(shop, "regular")
    cause = Cause.objects.get(shop=shop)

    # The counter knows her usual and keeps her note; the flat white is one more tap.
    log_in(page, live_server, "staff@demo.example")
    page.goto(f"{live_server.url}/s/{shop.slug}/counter/")
    page.locator("#counter-q").fill(member_qr_payload(emma))
    page.locator("#counter-q").press("Enter")
    expect(page.get_by_role("heading", name=emma.name)).to_be_visible()
    expect(page.locator("#usual")).to_contain_text("Usual: Oat latte")
    expect(page.locator("#usual summary")).to_contain_text("Note: Oat milk, extra hot")
    card = page.locator(".stamp-card").filter(has=page.get_by_role("button", name="+1 stamp")).first
    card.get_by_text("Flat white").click()
    screenshot(page, "usual-counter")
    assert_accessible(page, "counter with the menu")
    tap(page, card.get_by_role("button", name="+1 stamp"))
    expect(page.locator("#outcome .confirm")).to_contain_text("+1 stamp added")
    assert ItemSold.objects.filter(member=emma, item__name="Flat white").exists()
    page.locator("#usual summary").click()
    page.get_by_label("Note", exact=True).fill("Oat milk, extra hot, no lid")
    with page.expect_response(lambda response: response.request.method == "POST"):
        page.get_by_role("button", name="Save note").click()
    expect(page.locator("#usual")).to_contain_text("Saved.")

    # On her phone: the trees, her part, and her points given.
    emma.refresh_from_db()
    before = giving.progress(shop, [cause], emma)[0]
    phone_page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    phone_page.goto(f"{live_server.url}/c/{card_token(emma)}/")
    trees = phone_page.locator(".card-causes")
    expect(trees.get_by_role("heading", name="A tree for Taipei")).to_be_visible()
    expect(trees).to_contain_text(f"{before.units} of 500 trees")
    trees.get_by_label("Points to give").fill("200")
    screenshot(phone_page, "giving-card")
    assert_accessible(phone_page, "card with a cause")
    trees.get_by_role("button", name="Give").click()
    expect(phone_page.get_by_text("Thank you: 200 points given to A tree for Taipei.")).to_be_visible()
    after = giving.progress(shop, [cause], emma)[0]
    assert after.units > before.units  # NT$100 given and NT$100 matched: four trees
    expect(phone_page.locator(".card-causes")).to_contain_text(f"{after.units} of 500 trees")
    expect(phone_page.locator(".card-causes")).to_contain_text(f"Your part: {after.my_units} trees")

    # Anyone can read how the programme works, from the card.
    phone_page.get_by_role("link", name="How our loyalty card works").click()
    expect(phone_page.get_by_role("heading", name="Doing some good")).to_be_visible()
    expect(phone_page.get_by_role("heading", name="Stamp cards")).to_be_visible()
    screenshot(phone_page, "how-it-works")
    assert_accessible(phone_page, "how it works")
    phone_page.goto(f"{live_server.url}/j/{shop.slug}/causes/{cause.public_id}/")
    expect(phone_page.get_by_role("heading", name="A tree for Taipei")).to_be_visible()
    assert_accessible(phone_page, "cause page")

    # A manager reverses the gift at Emma's request, with a reason; the points come back.
    emma.refresh_from_db()
    manager = page.context.browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    manager_page = manager.new_page()
    log_in(manager_page, live_server, "manager@demo.example")
    manager_page.goto(f"{live_server.url}/s/{shop.slug}/members/{emma.public_id}/")
    gifts = (
        manager_page.locator("table")
        .filter(has_text="Gifts to causes")
        .or_(manager_page.get_by_role("table", name="Gifts to causes"))
    )
    row = gifts.get_by_role("row").filter(has_text="200").first
    row.get_by_label("Why").fill("Meant to give 20")
    row.get_by_role("button", name="Reverse and give the points back").click()
    expect(manager_page.get_by_text("The gift was reversed and the points given back.")).to_be_visible()
    points = emma.points
    emma.refresh_from_db()
    assert emma.points == points + 200
    screenshot(manager_page, "giving-reversed")
    manager.close()

    # The owner reads what the partner is owed this month, and downloads it.
    owner = page.context.browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    page = owner.new_page()
    log_in(page, live_server, "owner@demo.example")
    page.goto(f"{live_server.url}/s/{shop.slug}/causes/")
    expect(page.get_by_role("link", name="A tree for Taipei")).to_be_visible()
    page.goto(f"{live_server.url}/s/{shop.slug}/causes/{cause.public_id}/report/")
    expect(page.get_by_role("heading", name=re.compile("What A tree for Taipei is owed"))).to_be_visible()
    expect(page.locator("tfoot")).to_contain_text("NT$")
    screenshot(page, "giving-report")
    assert_accessible(page, "a cause's report")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download (CSV)").click()
    assert download.value.suggested_filename.endswith(".csv")
    owner.close()
    assert Contribution.objects.filter(cause=cause, amount__lt=0).exists()
    assert ledger.drift() == []
