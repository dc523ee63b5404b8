"""Journey: at the demo café's counter, staff sell a regular the bundle of lattes from the folded
"Sell a plan" control, hand over two lattes in one tap each, and the counter and the customer's card
on their phone both say how many are left; a manager sees the refund it would give on the member
page. Screenshots and axe at each stop."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from members.models import Member
from members.tokens import card_token, member_qr_payload
from rewards import ledger
from rewards.models import Membership, MembershipPlan

from .test_insights_journey import log_in


def tap(page, button):
    """One tap, and wait for the counter's answer."""
    with page.expect_response(lambda response: response.request.method == "POST"):
        button.click()


@pytest.mark.django_db(transaction=True)
def test_staff_sell_a_bundle_and_hand_over_two_drinks(live_server, page, phone_page, screenshot, assert_accessible):
    call_command("demo")
    wei = Member.objects.get(email="member1@demo.example")
    bundle = MembershipPlan.objects.get(shop=wei.shop, kind=MembershipPlan.Kind.BUNDLE)
    assert not wei.memberships.exists(), "the demo's regular holds no plan yet"
    left = bundle.items - 2

    log_in(page, live_server, "staff@demo.example")
    page.goto(f"{live_server.url}/s/{wei.shop.slug}/counter/")
    # The customer shows their card's QR code; the scanner types it into the scan field.
    page.locator("#counter-q").fill(member_qr_payload(wei))
    page.locator("#counter-q").press("Enter")
    expect(page.get_by_role("heading", name=wei.name)).to_be_visible()

    sale = page.locator("details.plan-sell")
    expect(sale).not_to_have_attribute("open", "")
    sale.locator("summary").click()
    sale.get_by_label(re.compile(re.escape(bundle.name))).check()
    expect(sale.get_by_label("Paid by")).to_have_value("cash")
    sale.get_by_label("Receipt number (optional)").fill("A-2046")
    screenshot(page, "prepaid-sell")
    assert_accessible(page, "counter selling a plan")
    tap(page, sale.get_by_role("button", name="Sell", exact=True))
    expect(page.locator("#outcome .confirm")).to_contain_text(f"Sold: {bundle.name}")
    expect(page.locator("#outcome").get_by_role("button", name="Undo")).to_be_visible()
    expect(page.locator("#memberships")).to_contain_text(f"Latte: {bundle.items} of {bundle.items} left")
    expect(page.locator("details.plan-sell")).not_to_have_attribute("open", "")
    expect(page.locator("#counter-q")).to_be_focused()

    for used in (1, 2):
        tap(page, page.locator("#memberships").get_by_role("button", name="Use one"))
        expect(page.locator("#outcome .confirm")).to_contain_text(
            f"One latte used: {bundle.items - used} of {bundle.items} left."
        )
    expect(page.locator("#memberships")).to_contain_text(f"Latte: {left} of {bundle.items} left")
    expect(page.locator("#counter-q")).to_be_focused()
    screenshot(page, "prepaid-counter")
    assert_accessible(page, "counter after two drinks")
    held = Membership.objects.get(member=wei)
    assert (held.items_left, held.receipt, held.payment_method) == (left, "A-2046", "cash")

    # Wei reads the card in Traditional Chinese, the language he joined in.
    assert wei.language == "zh-hant"
    phone_page.goto(f"{live_server.url}/c/{card_token(wei)}/")
    expect(phone_page.get_by_role("heading", name="會員方案")).to_be_visible()
    expect(phone_page.get_by_text(f"Latte：剩 {left} / {bundle.items}")).to_be_visible()
    screenshot(phone_page, "prepaid-card")
    assert_accessible(phone_page, "card with prepaid drinks")

    # A manager sees the sale on the member page, with the refund it would give on the button.
    manager = page.context.browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    manager_page = manager.new_page()
    log_in(manager_page, live_server, "manager@demo.example")
    manager_page.goto(f"{live_server.url}/s/{wei.shop.slug}/members/{wei.public_id}/")
    row = manager_page.get_by_role("row").filter(has_text=bundle.name)
    expect(row).to_contain_text(f"{left} of {bundle.items}")
    refund = bundle.price * left / bundle.items
    expect(row.get_by_role("button", name=f"Refund NT${refund:,.0f}")).to_be_visible()
    screenshot(manager_page, "prepaid-member-page")
    assert_accessible(manager_page, "member page with a membership")
    manager.close()
    assert ledger.drift() == []
