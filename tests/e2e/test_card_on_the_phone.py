"""The card in a customer's hand, on the demo café: joined with a phone number only, the customer lands
on the card open on its QR code, is told how to keep it (and nothing about an e-mail), can install it,
and still sees the last balances when the phone goes offline."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from members.models import Member, Shop


def above_the_fold(page, locator):
    box = locator.bounding_box()
    assert box is not None and box["y"] + box["height"] <= page.viewport_size["height"], box


@pytest.mark.django_db(transaction=True)
def test_join_with_a_phone_then_keep_the_card_offline(live_server, phone_page, screenshot, assert_accessible):
    call_command("demo")
    shop = Shop.objects.get(slug="demo-cafe")
    Shop.objects.filter(pk=shop.pk).update(join_asks_first=Shop.JoinFirst.PHONE)
    page = phone_page
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])

    page.goto(f"{live_server.url}/j/{shop.slug}/")
    # The shop asks for a phone first; the e-mail is optional.
    fields = page.locator("form input:not([type=hidden])")
    expect(fields.nth(1)).to_have_attribute("name", "phone")
    expect(page.get_by_label("E-mail (optional)")).to_be_visible()
    page.get_by_label("Your name").fill("Phone Only")
    page.get_by_label("Mobile phone").fill("0912 888 001")
    with page.expect_response(lambda r: r.request.method == "POST") as joined:
        page.get_by_role("button", name="Join and show my card").click()
    assert joined.value.status == 302

    # The card opens on the QR code, above the fold, with how to keep it; no word of an e-mail.
    expect(page.get_by_role("heading", name="Hello, Phone Only")).to_be_visible()
    qr = page.locator("#qr svg")
    expect(qr).to_be_visible()
    above_the_fold(page, qr)
    keep = page.locator("details.keep-card")
    expect(keep).to_have_attribute("open", "")
    expect(keep).to_contain_text("Add to Home Screen")
    assert "e-mail" not in page.locator("main").inner_text().lower()
    screenshot(page, "card-after-joining-390x844")
    assert_accessible(page, "the card after joining")

    # Installable: the manifest opens this card, in the shop's colours.
    manifest_url = page.locator('link[rel="manifest"]').get_attribute("href")
    manifest = page.request.get(live_server.url + manifest_url).json()
    card_path = re.sub(r"\?.*$", "", page.url.replace(live_server.url, ""))
    assert manifest["start_url"] == card_path and manifest["display"] == "standalone"
    assert manifest["theme_color"].lower() == shop.brand_colour.lower() and manifest["icons"]

    # Offline: the worker kept the card; the page says it is the last copy, with the member code.
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    page.reload()  # now controlled by the worker, which keeps this copy
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    try:
        page.goto(live_server.url + card_path)
        expect(page.get_by_role("heading", name="Hello, Phone Only")).to_be_visible()
        expect(page.locator("#offline-note")).to_be_visible()
        member = Member.objects.get(shop=shop, phone="+886912888001")
        expect(page.locator(".member-code")).to_have_text(member.code)
        expect(page.locator("section.stamp-card").first).to_be_visible()
        screenshot(page, "card-offline-390x844")
    finally:
        page.context.set_offline(False)
