"""Journey on the demo café: a customer joins while the welcome campaign is on, sees the welcome
stamp, and staff find and stamp them at the counter; nothing answers a server error."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from campaigns.models import Campaign
from members.management.commands.demo import DEMO_PASSWORD
from members.models import Member
from rewards.services import ledger_drift


@pytest.mark.django_db(transaction=True)
def test_join_with_a_welcome_bonus_then_get_stamped(live_server, settings, page, phone_page, screenshot,
                                                     assert_accessible):  # fmt: skip
    settings.SITE_URL = live_server.url
    call_command("demo")
    welcome = Campaign.objects.get(shop__slug="demo-cafe", kind=Campaign.Kind.WELCOME)
    assert welcome.is_active and welcome.gift_stamps == 1
    failures = []
    for p in (page, phone_page):
        p.on("response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 500 else None)
        p.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])

    # The customer joins on a phone and sees the welcome stamp on the card.
    phone_page.goto(f"{live_server.url}/j/demo-cafe/")
    phone_page.get_by_label("Your name").fill("Lena Park")
    phone_page.get_by_label("E-mail").fill("lena@example.com")
    phone_page.get_by_label(re.compile("send me news and offers")).check()
    phone_page.get_by_role("button", name="Join and show my card").click()
    expect(phone_page.get_by_role("heading", name="Hello, Lena Park")).to_be_visible()
    expect(phone_page.locator('ol.stamps[aria-label="1 of 10 stamps"]')).to_be_visible()
    expect(phone_page.get_by_text("Welcome stamps")).to_be_visible()
    screenshot(phone_page, "welcome-card")
    card_url = phone_page.url

    # Staff find the new member by e-mail: the panel shows the gift, made by no staff member.
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_login").fill("staff@demo.example")
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{live_server.url}/s/demo-cafe/counter/")
    page.locator("#counter-q").fill("lena@example.com")
    page.locator("#counter-q").press("Enter")
    expect(page.get_by_role("heading", name="Lena Park")).to_be_visible()
    expect(page.locator('ol.stamps[aria-label="1 of 10 stamps"]')).to_be_visible()
    gift = page.locator("table.history tr", has_text="Welcome stamps")
    expect(gift).to_contain_text("Automatic")
    assert_accessible(page, "counter panel with a campaign gift")

    # +1 stamp: staff see it, and so does the customer.
    page.get_by_role("button", name="+1 stamp").click()
    expect(page.get_by_text("+1 stamp added")).to_be_visible()
    expect(page.locator('ol.stamps[aria-label="2 of 10 stamps"]')).to_be_visible()
    screenshot(page, "welcome-counter")
    phone_page.goto(card_url)
    expect(phone_page.locator('ol.stamps[aria-label="2 of 10 stamps"]')).to_be_visible()

    assert Member.objects.get(email="lena@example.com").ledger.count() == 2
    assert ledger_drift() == []
    assert not failures, failures
