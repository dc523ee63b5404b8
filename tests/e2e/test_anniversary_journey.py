"""Journey: the demo café thanks a member on the day they joined, two years on. The owner sees the
anniversary campaign among the café's campaigns; the hourly run gives the member twice the yearly
points and writes to them once, however often it runs; their phone shows the points and the rules
page says how the gift grows. Screenshots and axe at each stop."""

from datetime import datetime, time, timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from campaigns import services as campaign_services
from campaigns.models import Campaign, Reach
from loyalty_site.demo import persona_member
from members.models import Member, Shop
from members.tokens import card_token
from rewards.models import LedgerEntry

from .test_insights_journey import log_in


def last_noon(shop: Shop) -> datetime:
    """The latest noon of the shop's calendar that has passed: daytime, when campaigns write."""
    now = timezone.localtime(timezone.now(), shop.tz)
    noon = datetime.combine(now.date(), time(12), tzinfo=shop.tz)
    return noon if noon <= now else noon - timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_two_years_on_the_member_is_thanked_once(live_server, page, phone_page, screenshot, assert_accessible):
    call_command("demo")
    shop = Shop.objects.get(slug="demo-cafe")
    campaign = Campaign.objects.get(shop=shop, kind=Campaign.Kind.ANNIVERSARY)
    tom = persona_member(shop, "expiring")  # reads English

    # The owner's campaigns: the anniversary thank-you is on.
    log_in(page, live_server, "owner@demo.example")
    page.goto(f"{live_server.url}/s/{shop.slug}/campaigns/")
    row = page.locator("li.card").filter(has_text=campaign.name)
    expect(row).to_be_visible()
    screenshot(page, "anniversary-campaigns")
    assert_accessible(page, "campaigns with an anniversary")

    # Tom joined two years ago today, in the morning of the café's day.
    noon = last_noon(shop)
    joined = datetime.combine(noon.date().replace(year=noon.year - 2), time(9, 30), tzinfo=shop.tz)
    Member.objects.filter(pk=tom.pk).update(joined_at=joined)
    points_before = Member.objects.get(pk=tom.pk).points
    mail.outbox.clear()

    campaign_services.anniversaries_run(now=noon)
    campaign_services.anniversaries_run(now=noon + timedelta(hours=1))  # the next hour's run: nothing twice
    gift = LedgerEntry.objects.get(member=tom, reason=LedgerEntry.Reason.CAMPAIGN, points__gt=0, created_at=noon)
    assert gift.points == 2 * campaign.gift_points
    assert Reach.objects.filter(campaign=campaign, member=tom).count() == 1
    [letter] = [message for message in mail.outbox if message.to == [tom.email]]
    assert letter.subject == "Happy anniversary from Demo Café!"
    assert "It is 2 years today since you joined us." in letter.body

    # On Tom's phone: the points, and the gift in his history.
    phone_page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    phone_page.goto(f"{live_server.url}/c/{card_token(tom)}/")
    expect(phone_page.locator(".points-balance").first).to_have_text(str(points_before + gift.points))
    recent = phone_page.get_by_role("region", name="Recent activity")
    expect(recent).to_contain_text(f"Campaign · {gift.points} points · {campaign.name}")
    screenshot(phone_page, "anniversary-card")
    assert_accessible(phone_page, "card after an anniversary")

    # The rules page says what the day brings and that it grows.
    phone_page.get_by_role("link", name="How our loyalty card works").click()
    expect(phone_page.get_by_text("Every year on the day you joined:")).to_be_visible()
    expect(phone_page.get_by_text("It grows with every year you have been with us, up to ten years.")).to_be_visible()
