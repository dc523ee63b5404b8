"""What staff see at the counter is what happened: every refusal of every action shows its reason in
place of the last success, a lost connection and a server error say so, and the counter stays usable.

On the demo café, as its staff member (no override rights), in a real browser."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from loyalty_site.demo import DEMO_PASSWORD
from members.models import Member, User
from rewards import ledger, services
from rewards.models import CatalogueReward, LedgerEntry, StampProgram, Voucher


def find(page, query):
    """Look a member up and wait for their panel (not the previous one) to be on screen."""
    name = Member.objects.get(email=query).name
    with page.expect_response(re.compile(r".*/counter/\?q=.*")):
        page.locator("#counter-q").fill(query)
        page.locator("#counter-q").press("Enter")
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def tap(page, name):
    """Press a counter button and wait for its answer, so the next step sees the panel it left."""
    with page.expect_response(lambda response: response.request.method == "POST"):
        page.get_by_role("button", name=name).first.click()


def refused(page, text):
    """The refusal and its reason are on screen, announced; no success message is left over."""
    alert = page.locator("#result .outcome[role=alert]")
    expect(alert).to_contain_text(text)
    expect(page.locator("#result .confirm")).to_have_count(0)


@pytest.mark.django_db(transaction=True)
def test_every_counter_outcome_is_visible(live_server, page, screenshot, assert_accessible):
    call_command("demo")
    staff = User.objects.get(email="staff@demo.example")
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_login").fill(staff.email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{live_server.url}/s/demo-cafe/counter/")

    # Undo: staff stamp, another till undoes it first; Undo here says it is already done.
    member = Member.objects.get(email="member2@demo.example")
    find(page, "member2@demo.example")
    tap(page, "+1 stamp")
    expect(page.locator("#result .confirm")).to_contain_text("+1 stamp added")
    group = member.ledger.filter(reason="visit").first().group
    services.action_undo(shop=member.shop, group=group, staff=staff, idempotency_key="other-till-undo")
    tap(page, "Undo")
    refused(page, "Already done: This was already undone.")

    # Stamp: a success, then the same again too soon.
    find(page, "member2@demo.example")
    tap(page, "+1 stamp")
    expect(page.locator("#result .confirm")).to_contain_text("+1 stamp added")
    tap(page, "+1 stamp")
    refused(page, "Not done: Last stamp was less than 30 minutes ago")
    screenshot(page, "counter-refused-too-soon")
    assert_accessible(page, "counter with a refusal")

    # Stamp: the card was paused while the panel was open.
    find(page, "regular@demo.example")
    StampProgram.objects.filter(shop__slug="demo-cafe", name="Coffee card").update(is_active=False)
    page.get_by_role("button", name="+1 stamp").click()
    refused(page, "Not done: The Coffee card is paused.")
    StampProgram.objects.filter(shop__slug="demo-cafe", name="Coffee card").update(is_active=True)

    # Voucher: redeemed at another till a moment ago.
    find(page, "member1@demo.example")
    voucher = Voucher.objects.get(member__email="member1@demo.example", status="issued")
    services.voucher_redeem(shop=voucher.shop, voucher_id=voucher.pk, staff=staff, idempotency_key="other-till")
    row = page.locator("li", has_text=voucher.code)
    # Found by e-mail, not by a fresh QR code: staff confirm the person before a spend.
    expect(row).to_contain_text("I checked: this is Wei Chang (••• 003)")
    row.get_by_label(re.compile("I checked")).check()
    row.get_by_role("button", name="Redeem").click()
    refused(page, "Already done: This voucher was already redeemed")

    # Reward: the points were spent elsewhere since the panel opened.
    find(page, "referrer@demo.example")
    amy = Member.objects.get(email="referrer@demo.example")
    cookie = CatalogueReward.objects.get(shop=amy.shop, name="Butter cookie")
    while Member.objects.get(pk=amy.pk).points >= cookie.cost_points:
        services.reward_redeem(member=amy, reward_id=cookie.pk, staff=staff, idempotency_key=f"spend-{amy.points}")
        amy.refresh_from_db()
    cookie_row = page.locator("li", has_text="Butter cookie")
    cookie_row.get_by_label(re.compile("I checked")).check()
    cookie_row.get_by_role("button", name="Redeem").click()
    refused(page, "Not done:")

    # Purchase: amounts that are no amount.
    for amount, reason in (("-5", "Amount"), ("abc", "Amount"), ("120000", "more than this shop's largest purchase")):
        page.locator("#purchase-amount").fill(amount)
        with page.expect_response(re.compile(r".*/purchase/$")):
            page.get_by_role("button", name="Record purchase").click()
        refused(page, reason)

    # No connection, then a server error: the panel stays, and a message says the action did not happen.
    rows = LedgerEntry.objects.count()
    page.route(re.compile(r".*/stamp/$"), lambda route: route.abort())
    page.get_by_role("button", name="+1 stamp").click()
    expect(page.locator("#counter-problem")).to_contain_text("No connection")
    page.unroute(re.compile(r".*/stamp/$"))
    page.route(
        re.compile(r".*/stamp/$"),
        lambda route: route.fulfill(status=500, body="boom", headers={"X-Request-ID": "ref-123"}),
    )
    page.get_by_role("button", name="+1 stamp").click()
    expect(page.locator("#counter-problem")).to_contain_text("could not finish")
    expect(page.locator("#counter-problem")).to_contain_text("ref-123")
    page.unroute(re.compile(r".*/stamp/$"))
    assert LedgerEntry.objects.count() == rows
    screenshot(page, "counter-server-error")

    # Still usable: the next customer is found and stamped, and the problem message goes away.
    find(page, "wonback@demo.example")
    expect(page.locator("#counter-problem")).to_be_hidden()
    page.get_by_role("button", name="+1 stamp").click()
    expect(page.locator("#result .confirm")).to_contain_text("+1 stamp added")
    assert ledger.drift() == []
