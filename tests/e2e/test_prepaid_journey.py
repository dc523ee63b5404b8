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


@pytest.mark.django_db(transaction=True)
def test_a_member_renews_early_at_todays_price_before_a_price_rise(
    live_server, page, phone_page, screenshot, assert_accessible
):
    """The owner announced the Coffee club's new price (the demo's NT$550 from ten days on). Staff
    sell it to a regular at today's price and renew it early in one tap: the new month starts when
    the first ends. A second till with the same member open cannot renew it twice; it shows why. The
    card says until when it runs, and the owner's results page lists the early renewal."""
    call_command("demo")
    wei = Member.objects.get(email="member1@demo.example")
    club = MembershipPlan.objects.get(shop=wei.shop, name="Coffee club")
    change = club.price_changes.get(applied_at__isnull=True, cancelled_at__isnull=True)
    assert (club.price, change.new_price) == (490, 550)

    log_in(page, live_server, "staff@demo.example")
    counter = f"{live_server.url}/s/{wei.shop.slug}/counter/"
    page.goto(counter)
    page.locator("#counter-q").fill(member_qr_payload(wei))
    page.locator("#counter-q").press("Enter")
    expect(page.get_by_role("heading", name=wei.name)).to_be_visible()

    sale = page.locator("details.plan-sell")
    sale.locator("summary").click()
    label = sale.locator("label", has_text="Coffee club")
    expect(label).to_contain_text("NT$490")
    expect(label).to_contain_text("NT$550 from")
    label.get_by_role("radio").check()
    tap(page, sale.get_by_role("button", name="Sell", exact=True))
    expect(page.locator("#outcome .confirm")).to_contain_text("Sold: Coffee club, NT$490 (Cash).")
    # The month's free drip coffee is on the member's vouchers at once.
    expect(page.get_by_text("A free drip coffee").first).to_be_visible()
    renew = page.locator("#memberships").get_by_role("button", name="Renew · NT$490")
    expect(renew).to_be_visible()
    expect(page.locator("#memberships")).to_contain_text("NT$550 from")

    # Another till has the same member open, from before the renewal.
    other = page.context.new_page()
    other.goto(counter)
    other.locator("#counter-q").fill(member_qr_payload(wei))
    other.locator("#counter-q").press("Enter")
    expect(other.locator("#memberships").get_by_role("button", name="Renew · NT$490")).to_be_visible()

    tap(page, renew)
    expect(page.locator("#outcome .confirm")).to_contain_text("Renewed: Coffee club runs until")
    expect(page.locator("#outcome .confirm")).to_contain_text("NT$490 (Cash)")
    expect(page.locator("#memberships")).to_contain_text("Renewed: runs on until")
    expect(page.locator("#memberships").get_by_role("button", name=re.compile("^Renew"))).to_have_count(0)
    screenshot(page, "renew-early-counter")
    assert_accessible(page, "counter after an early renewal")

    tap(other, other.locator("#memberships").get_by_role("button", name="Renew · NT$490"))
    expect(other.locator("#outcome")).to_contain_text("Already renewed: it runs on until")
    screenshot(other, "renew-twice-refused")
    other.close()

    first, renewal = Membership.objects.filter(member=wei, plan=club).order_by("created_at", "pk")
    assert renewal.renews_id == first.pk and renewal.starts_at == first.ends_at
    assert (first.price_paid, renewal.price_paid) == (490, 490)

    # Wei's card, in Traditional Chinese: the club, and that it is renewed.
    phone_page.goto(f"{live_server.url}/c/{card_token(wei)}/")
    memberships = phone_page.locator(".card-memberships")
    expect(memberships).to_contain_text("Coffee club")
    expect(memberships).to_contain_text("已續訂")
    screenshot(phone_page, "renew-early-card")
    assert_accessible(phone_page, "card with a renewed membership")

    # The owner's results page of the price change lists Wei among the early renewals.
    owner = page.context.browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    owner_page = owner.new_page()
    log_in(owner_page, live_server, "owner@demo.example")
    owner_page.goto(f"{live_server.url}/s/{wei.shop.slug}/plans/")
    owner_page.get_by_role("link", name="Who renewed Coffee club").click()
    expect(owner_page.get_by_role("row").filter(has_text=wei.name)).to_contain_text("NT$490")
    screenshot(owner_page, "renew-early-results")
    assert_accessible(owner_page, "price change results")
    owner.close()
    assert ledger.drift() == []
