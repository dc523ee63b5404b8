"""Journey: the demo café and its neighbour Crumb Bakery. The café's owner accepts the bakery's
proposal; a café member sees the bakery's offer on their phone; at the bakery's counter the baker
scans the member's card, sees only that it is a café card and its offer, gives it, and is refused a
second time; the member's card and both owners' pages then show the use. Screenshots and axe at
each stop."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from loyalty_site.demo import persona_member
from members.models import Shop
from members.tokens import card_token, member_qr_payload
from rewards.models import PartnerOffer, PartnerRedemption

from .test_insights_journey import log_in
from .test_prepaid_journey import tap


@pytest.mark.django_db(transaction=True)
def test_two_shops_agree_an_offer_and_the_partner_counter_gives_it_once(
    live_server, page, phone_page, screenshot, assert_accessible
):
    call_command("demo")
    cafe = Shop.objects.get(slug="demo-cafe")
    noah = persona_member(cafe, "trial")  # a café member who has not been to the bakery

    # The café's owner finds the bakery's proposal waiting, and accepts it.
    log_in(page, live_server, "owner@demo.example")
    page.goto(f"{live_server.url}/s/{cafe.slug}/partners/")
    waiting = page.locator("article.partner-offer").filter(has_text="NT$20 off a pour-over")
    expect(waiting).to_contain_text("Members of Crumb Bakery, at our counter")
    running = page.locator("tr").filter(has_text="10% off any pastry")
    expect(running).to_contain_text("Our members, at Crumb Bakery")
    used_before = PartnerRedemption.objects.filter(offer__title="10% off any pastry").count()
    expect(running).to_contain_text(f"Used {used_before} times")
    screenshot(page, "partners-owner")
    assert_accessible(page, "partners page")
    waiting.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("Accepted: the offer runs from now.")).to_be_visible()
    expect(page.locator("tr").filter(has_text="NT$20 off a pour-over")).to_contain_text("Used 0 times")
    assert PartnerOffer.objects.get(title="NT$20 off a pour-over").status == PartnerOffer.Status.ACTIVE

    # Noah's card shows the bakery's offer and where to use it.
    phone_page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    card_url = f"{live_server.url}/c/{card_token(noah)}/"
    phone_page.goto(card_url)
    partners = phone_page.locator(".card-partners")
    expect(partners.get_by_role("heading", name="At our partners")).to_be_visible()
    expect(partners).to_contain_text("10% off any pastry · at Crumb Bakery")
    expect(partners).to_contain_text("Show the QR code above at their counter.")
    screenshot(phone_page, "partners-card")
    assert_accessible(phone_page, "card with a partner offer")

    # At the bakery: the baker scans Noah's card and sees a café card, not Noah.
    page.context.clear_cookies()
    log_in(page, live_server, "baker@demo.example")
    page.goto(f"{live_server.url}/s/crumb-bakery/counter/")
    page.locator("#counter-q").fill(member_qr_payload(noah))
    page.locator("#counter-q").press("Enter")
    panel = page.locator(".partner-panel")
    expect(panel.get_by_role("heading", name="A member of Demo Café")).to_be_visible()
    expect(panel).to_contain_text("10% off any pastry")
    expect(page.locator("#result")).not_to_contain_text(noah.name)
    expect(page.locator("#result")).not_to_contain_text(noah.code)
    screenshot(page, "partners-counter")
    assert_accessible(page, "partner card at the counter")
    tap(page, panel.get_by_role("button", name="Give this offer"))
    expect(page.locator(".partner-panel [role=status]")).to_contain_text("Given: 10% off any pastry.")
    expect(page.locator(".partner-panel")).to_contain_text("Already used this period.")
    assert PartnerRedemption.objects.filter(member=noah, undone_at__isnull=True).count() == 1

    # A second scan the same week: the counter says why not, and gives nothing.
    page.locator("#counter-q").fill(member_qr_payload(noah))
    page.locator("#counter-q").press("Enter")
    expect(page.locator(".partner-panel")).to_contain_text("Already used this period. It can be used again from")
    expect(page.locator(".partner-panel").get_by_role("button", name="Give this offer")).to_have_count(0)
    screenshot(page, "partners-counter-used")

    # Noah's card and both owners' pages show the use.
    phone_page.goto(card_url)
    expect(phone_page.locator(".card-partners")).to_contain_text("Used this period; again from")
    page.goto(f"{live_server.url}/s/crumb-bakery/partners/")
    expect(page.locator("tr").filter(has_text="10% off any pastry")).to_contain_text(f"Used {used_before + 1} times")
    expect(page.locator("tr").filter(has_text="10% off any pastry")).to_contain_text("of their members")
    assert_accessible(page, "partners page of the partner")
