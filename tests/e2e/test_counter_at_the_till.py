"""The counter at a busy till, on the demo café: at a counter laptop's and a tablet's size, everything
staff act on is on screen after a look-up without scrolling, the scan field keeps the focus after every
action, each action has its keyboard shortcut, and every target is big enough for a thumb."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from loyalty_site.demo import DEMO_PASSWORD
from members.models import Member
from rewards import ledger
from rewards.models import Voucher

SIZES = [(1366, 768), (1024, 768), (768, 1024)]


def sign_in(page, base_url, email):
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base_url}])
    page.goto(base_url + "/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/s/.*|.*/$"))


def find(page, query, name):
    with page.expect_response(re.compile(r".*/counter/\?q=.*")):
        page.locator("#counter-q").fill(query)
        page.locator("#counter-q").press("Enter")
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def on_screen(page, locator, what):
    """Wholly inside the viewport as the page is, without scrolling."""
    box = locator.bounding_box()
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    assert box is not None, f"{what} is not shown"
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, f"{what} is below the fold: {box} in {height}px"
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{what} is off to the side: {box} in {width}px"


def scan_field_has_focus(page):
    expect(page.locator("#counter-q")).to_be_focused()


def press_shortcut(page, keys):
    """Once the key's button shows it (htmx has taken the answer in), press it and wait for the answer."""
    expect(page.locator(f'[aria-keyshortcuts="{keys}"]')).to_have_count(1)
    with page.expect_response(lambda response: response.request.method == "POST"):
        page.keyboard.press(keys)


@pytest.mark.django_db(transaction=True)
def test_the_counter_at_a_till(live_server, browser, screenshot, assert_accessible):
    call_command("demo")
    wei = Member.objects.get(email="member1@demo.example")
    voucher = Voucher.objects.filter(member=wei, status=Voucher.Status.ISSUED).first()
    assert voucher is not None, "the demo gives Wei a voucher ready to redeem"

    for width, height in SIZES:
        context = browser.new_context(locale="en-US", viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        page = context.new_page()
        sign_in(page, live_server.url, "staff@demo.example")
        page.goto(f"{live_server.url}/s/demo-cafe/counter/")
        scan_field_has_focus(page)
        find(page, "member1@demo.example", wei.name)
        scan_field_has_focus(page)

        screenshot(page, f"counter-{width}x{height}")
        # The name, the stamp button, the purchase, the voucher ready: all above the fold.
        on_screen(page, page.get_by_role("heading", name=wei.name), "the member's name")
        on_screen(page, page.get_by_role("button", name="+1 stamp").first, "+1 stamp")
        on_screen(page, page.locator("#purchase-amount"), "the purchase amount")
        on_screen(page, page.get_by_role("button", name="Record purchase"), "Record purchase")
        on_screen(page, page.locator(f"#voucher-{voucher.public_id}").get_by_role("button", name="Redeem"), "Redeem")
        expect(page.locator("details.history")).not_to_have_attribute("open", "")

        # Every target in the panel is at least 44 px each way.
        for button in page.locator("#result button:visible, #result summary:visible").all():
            box = button.bounding_box()
            assert box["height"] >= 44 and box["width"] >= 44, f"{button.inner_text()!r} is {box}"
        assert_accessible(page, f"counter at {width}x{height}")
        context.close()

    # The shortcuts, at the laptop's size: each is shown on its button and works from the scan field.
    context = browser.new_context(locale="en-US", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    sign_in(page, live_server.url, "staff@demo.example")
    page.goto(f"{live_server.url}/s/demo-cafe/counter/")
    find(page, "member1@demo.example", wei.name)
    stamp_button = page.get_by_role("button", name="+1 stamp").first
    expect(stamp_button).to_have_attribute("aria-keyshortcuts", "Alt+S")
    expect(stamp_button.locator("kbd")).to_have_text("Alt+S")
    card = page.locator(".panel-main .stamp-card").first
    before = card.locator(".stamps li.filled").count()

    press_shortcut(page, "Alt+S")
    expect(page.locator("#outcome .confirm")).to_contain_text("+1 stamp added")
    expect(card.locator(".stamps li.filled")).to_have_count(before + 1)
    scan_field_has_focus(page)

    press_shortcut(page, "Alt+U")
    expect(page.locator("#outcome .confirm")).to_contain_text("Undone.")
    expect(card.locator(".stamps li.filled")).to_have_count(before)
    scan_field_has_focus(page)

    # Every action in the panel has a key of its own, shown on it: +2 is Alt+T on the first card, and
    # the rest (later cards, +3, later vouchers and rewards, Record purchase) take spare letters.
    keys = page.locator("[data-shortcut-on]").evaluate_all("all => all.map(e => e.getAttribute('aria-keyshortcuts'))")
    assert len(keys) == len(set(keys)), keys
    for button in page.locator("#result button:visible:enabled").all():
        key = button.get_attribute("aria-keyshortcuts")
        assert key, f"{button.inner_text()!r} has no shortcut"
        expect(button.locator("kbd")).to_have_text(key)
    expect(card.get_by_role("button", name="+2")).to_have_attribute("aria-keyshortcuts", "Alt+T")
    press_shortcut(page, "Alt+T")
    expect(page.locator("#outcome .confirm")).to_contain_text("+2 stamps added")
    press_shortcut(page, "Alt+U")
    expect(page.locator("#outcome .confirm")).to_contain_text("Undone.")
    expect(card.locator(".stamps li.filled")).to_have_count(before)

    # Redeem needs the person checked (found by e-mail): the shortcut stops at the box, then works.
    row = page.locator(f"#voucher-{voucher.public_id}")
    expect(row.get_by_role("button", name="Redeem")).to_have_attribute("aria-keyshortcuts", "Alt+R")
    page.keyboard.press("Alt+R")
    expect(row).to_be_visible()
    row.get_by_label(re.compile("I checked")).check()
    press_shortcut(page, "Alt+R")
    expect(page.locator("#outcome .confirm")).to_contain_text(f"Redeemed: {voucher.title}")
    expect(row).to_have_count(0)
    scan_field_has_focus(page)

    # Alt+P goes to the purchase amount; Escape goes back to the scan field.
    page.keyboard.press("Alt+P")
    expect(page.locator("#purchase-amount")).to_be_focused()
    page.keyboard.press("Escape")
    scan_field_has_focus(page)
    # Alt+H opens the recent activity, which shows the redemption.
    page.keyboard.press("Alt+H")
    expect(page.locator("details.history .history-rows")).to_contain_text(voucher.title)

    # A spare letter works like a fixed one: the amount, then Record purchase's key.
    page.keyboard.press("Alt+P")
    page.keyboard.type("120")
    record = page.get_by_role("button", name="Record purchase")
    press_shortcut(page, record.get_attribute("aria-keyshortcuts"))
    expect(page.locator("#outcome .confirm")).to_contain_text("points")
    scan_field_has_focus(page)

    # A new customer: no match for their number, Alt+N opens the form with it, one tap enrols and stamps.
    with page.expect_response(re.compile(r".*/counter/\?q=.*")):
        page.locator("#counter-q").fill("0912 777 001")
        page.locator("#counter-q").press("Enter")
    expect(page.locator("#result")).to_contain_text("No member matches")
    with page.expect_response(re.compile(r".*/counter/enrol/.*")):
        page.keyboard.press("Alt+N")
    expect(page.get_by_label("Mobile phone")).to_have_value("0912 777 001")
    page.locator("#id_name").fill("Walk-in Wu")
    page.get_by_label(re.compile("Asked aloud")).check()
    assert_accessible(page, "the enrol form")
    with page.expect_response(lambda response: response.request.method == "POST"):
        page.get_by_role("button", name=re.compile("Enrol and \\+1 stamp")).click()
    expect(page.get_by_role("heading", name="Walk-in Wu")).to_be_visible()
    expect(page.locator("#outcome")).to_contain_text("+1 stamp added")
    expect(page.locator("#outcome")).to_contain_text("Show them their card")
    expect(page.locator(".card-qr-figure svg")).to_be_visible()
    wu = Member.objects.get(phone="+886912777001")
    # The visit's stamp, and the demo's welcome gift if it gives stamps: the card shows what the ledger holds.
    stamps = wu.cards.get().stamps
    assert wu.ledger.filter(reason="visit", stamps=1, found_by="enrolled").count() == 1
    expect(page.locator(".panel-main .stamp-card").first.locator(".stamps li.filled")).to_have_count(stamps)
    scan_field_has_focus(page)
    screenshot(page, "counter-enrolled")
    assert wu.consent_method == "aloud" and wu.enrolled_by.email == "staff@demo.example"
    context.close()

    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.REDEEMED
    assert ledger.drift() == []
