"""Journey on the demo café: a customer joins on a phone while the welcome campaign is on and sees
the welcome stamp on the card; staff find them at the counter by e-mail, see the gift (made by no
staff member) and give +1 stamp, which the customer then sees too. No answer is a server error."""

import re

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign
from loyalty_site.demo import DEMO_PASSWORD
from members.models import Member, Shop, User
from rewards import ledger
from rewards.models import StampProgram

EMAIL = "lena.park@example.com"
NAME = "Lena Park"


def reference(response):
    """The request's reference, to find its lines (and a traceback) in the live server's log."""
    return f"X-Request-ID {response.headers.get('x-request-id', '?')}"


def card_of(page, selector, program):
    """One stamp card on the page, by its program's name."""
    return page.locator(selector).filter(has=page.get_by_role("heading", name=program.name, exact=True))


def expect_stamps(card, have, need):
    """The stamp slots of one card: the label screen readers hear, and the filled slots one sees."""
    slots = card.locator(f'ol.stamps[aria-label="{have} of {need} stamps"]')
    expect(slots).to_be_visible()
    expect(slots.locator("li.filled")).to_have_count(have)


@pytest.mark.django_db(transaction=True)
def test_join_with_a_welcome_bonus_then_get_stamped(live_server, settings, page, phone_page, screenshot,
                                                     assert_accessible):  # fmt: skip
    settings.SITE_URL = live_server.url
    call_command("demo")
    shop = Shop.objects.get(slug="demo-cafe")
    welcome = Campaign.objects.get(shop=shop, kind=Campaign.Kind.WELCOME, name="Welcome stamps")
    assert (welcome.gift, welcome.gift_stamps, welcome.holdout_percent) == (Campaign.Gift.STAMPS, 1, 0)
    if not welcome.is_running(timezone.now()):  # the demo runs it; if a change stops it, run it here
        Campaign.objects.filter(pk=welcome.pk).update(is_active=True, starts_at=None, ends_at=None)
        welcome.refresh_from_db()
    assert welcome.is_running(timezone.now())
    program = welcome.gift_program or StampProgram.objects.filter(shop=shop, is_active=True).get()
    need = program.stamps_needed
    assert not Member.objects.filter(shop=shop, email__iexact=EMAIL).exists()

    server_errors = []

    def on_response(response):
        if response.status >= 500:
            server_errors.append(f"{response.status} {response.request.method} {response.url} {reference(response)}")

    for p in (page, phone_page):
        p.on("response", on_response)
        p.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])

    # The customer joins on a phone and lands on the card with the welcome stamp on it.
    phone_page.goto(f"{live_server.url}/j/{shop.slug}/")
    phone_page.get_by_label("Your name").fill(NAME)
    phone_page.get_by_label("E-mail").fill(EMAIL)
    phone_page.get_by_label(re.compile("send me news and offers")).check()
    # A refused join (e.g. the per-IP rate limit, shared through Redis in CI) is named here, not later.
    with phone_page.expect_response(lambda r: r.request.method == "POST") as joined:
        phone_page.get_by_role("button", name="Join and show my card").click()
    assert joined.value.status == 302, f"the join answered {joined.value.status}"
    expect(phone_page.get_by_role("heading", name=f"Hello, {NAME}")).to_be_visible()
    card_url = phone_page.url
    assert "/j/" not in card_url
    card = card_of(phone_page, "section.stamp-card", program)
    expect_stamps(card, 1, need)
    expect(card.locator("p.progress")).to_contain_text(f"{need - 1} more stamp")
    card_gift = phone_page.locator('section[aria-labelledby="history-title"] li', has_text=welcome.name)
    expect(card_gift).to_have_count(1)
    expect(card_gift).to_contain_text("Campaign +1")
    screenshot(phone_page, "join-welcome-card")

    member = Member.objects.get(shop=shop, email__iexact=EMAIL)
    assert member.marketing_consent
    assert member.last_visit_at is None  # the welcome gift is not a visit

    # Staff find the new member by e-mail: the panel shows the gift, made by no staff member.
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_login").fill("staff@demo.example")
    page.locator("#id_password").fill(DEMO_PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as logged_in:
        page.locator("main form button[type=submit]").click()
    assert logged_in.value.status == 302, f"the log-in answered {logged_in.value.status}"
    page.goto(f"{live_server.url}/s/{shop.slug}/counter/")
    page.locator("#counter-q").fill(EMAIL)
    with page.expect_response(lambda r: "q=" in r.url) as found:
        page.locator("#counter-q").press("Enter")
    assert found.value.status == 200, f"the look-up answered {found.value.status}, {reference(found.value)}"
    panel = page.locator("#result section.panel")
    expect(panel.get_by_role("heading", name=NAME, exact=True)).to_be_visible()
    expect(panel.locator(".panel-head")).not_to_contain_text("Last visit")
    counter_card = card_of(page, "#result div.stamp-card", program)
    expect_stamps(counter_card, 1, need)
    # Recent activity opens below the panel on demand.
    panel.locator("details.history summary").click()
    gift_row = panel.locator("table.history tbody tr", has_text=welcome.name)
    expect(gift_row).to_have_count(1)
    gift_cells = gift_row.locator("td")
    expect(gift_cells.nth(1)).to_contain_text("Campaign")
    expect(gift_cells.nth(2)).to_have_text("+1")
    expect(gift_cells.nth(4)).to_have_text("Automatic")
    screenshot(page, "join-welcome-counter-panel")
    assert_accessible(page, "counter panel with a welcome gift")

    # +1 stamp: the welcome gift was no visit, so the minimum time between visits does not refuse it.
    with page.expect_response(lambda r: r.request.method == "POST") as stamped:
        counter_card.get_by_role("button", name="+1 stamp", exact=True).click()
    assert stamped.value.status < 500, f"+1 stamp answered {stamped.value.status}, {reference(stamped.value)}"
    expect(page.locator("#result .outcome, #result .confirm[role=status]").first).to_be_visible()
    refused = page.locator("#result .outcome")
    assert refused.count() == 0, f"+1 stamp refused ({stamped.value.status}): {refused.inner_text()}"
    expect(panel.locator(".confirm[role=status]")).to_contain_text("+1 stamp added")
    expect_stamps(counter_card, 2, need)
    visit_row = panel.locator("table.history tbody tr", has_text="Visit")
    expect(visit_row).to_have_count(1)
    expect(visit_row.locator("td").nth(4)).to_have_text(User.objects.get(email="staff@demo.example").get_full_name())
    screenshot(page, "join-welcome-counter-stamped")
    assert_accessible(page, "counter panel after +1 stamp")

    # The customer reloads the card and sees both stamps.
    phone_page.reload()
    expect_stamps(card, 2, need)
    expect(phone_page.locator('section[aria-labelledby="history-title"] li')).to_have_count(2)
    screenshot(phone_page, "join-welcome-card-stamped")

    member.refresh_from_db()
    assert member.last_visit_at is not None
    assert sorted(member.ledger.values_list("reason", "stamps")) == [("campaign", 1), ("visit", 1)]
    assert ledger.drift() == []
    assert not server_errors, server_errors
