"""Journey: the demo café's owner opens insights from the shop's home, switches the period, opens
the customers at risk, downloads the list, and starts a win-back for exactly them; each step seen
in the browser, with screenshots and axe."""

import csv
import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from campaigns.audience import audience
from campaigns.models import Campaign, MemberActivity
from loyalty_site.demo import DEMO_PASSWORD
from members.models import Shop


def log_in(page, live_server, email):
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/s/.*|.*/$"))


@pytest.mark.django_db(transaction=True)
def test_owner_reads_insights_and_wins_back_those_at_risk(live_server, page, screenshot, assert_accessible):
    call_command("demo")
    shop = Shop.objects.get(slug="demo-cafe")
    at_risk = set(MemberActivity.objects.filter(shop=shop, segment="at_risk").values_list("member_id", flat=True))
    assert at_risk, "the demo has members at risk"
    log_in(page, live_server, "owner@demo.example")

    page.goto(f"{live_server.url}/s/{shop.slug}/")
    page.get_by_role("link", name="Insights").first.click()
    expect(page.get_by_role("heading", name="Insights", exact=True)).to_be_visible()
    expect(page.locator(".figures")).to_contain_text("Visits")
    expect(page.locator("svg.chart").first).to_be_visible()
    screenshot(page, "insights-overview-30")
    assert_accessible(page, "insights overview")

    # Another period: the comparison follows, and the choice is marked.
    page.get_by_role("link", name="Last 90 days").click()
    expect(page.get_by_role("link", name="Last 90 days")).to_have_attribute("aria-current", "true")
    expect(page.locator("#trend-title")).to_be_visible()
    expect(page.get_by_role("link", name="By week")).to_have_attribute("aria-current", "true")
    screenshot(page, "insights-overview-90")

    page.get_by_role("link", name="Customers").click()
    expect(page.get_by_role("heading", name="Who your customers are")).to_be_visible()
    expect(page.locator("table.cohorts tbody tr").first).to_be_visible()
    screenshot(page, "insights-customers")
    assert_accessible(page, "insights customers")

    page.get_by_role("link", name="At risk").click()
    expect(page.get_by_role("heading", name="At risk")).to_be_visible()
    expect(page.locator("table.list tbody tr")).to_have_count(len(at_risk))
    screenshot(page, "insights-at-risk")
    assert_accessible(page, "insights at risk")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the list as CSV").click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "Name" and len(rows) == len(at_risk) + 1

    page.get_by_role("link", name=re.compile("Start a campaign for them: Win-back")).click()
    expect(page.get_by_label("Audience")).to_have_value("segment")
    expect(page.get_by_label("Customers")).to_have_value("at_risk")
    page.get_by_label("Name").fill("Come back, we miss you")
    page.locator("#id_days_away").fill("30")
    page.locator("#id_gift").select_option("points")
    page.locator("#id_gift_points").fill("30")
    screenshot(page, "insights-winback-form")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Campaign saved.")).to_be_visible()
    campaign = Campaign.objects.get(shop=shop, name="Come back, we miss you")
    assert campaign.audience_segment == "at_risk"
    assert {member.pk for member in audience(campaign)} == at_risk

    # A manager sees the operational part: visits and the staff page, no money and no lists.
    page.context.clear_cookies()
    log_in(page, live_server, "manager@demo.example")
    page.goto(f"{live_server.url}/s/{shop.slug}/insights/")
    expect(page.locator(".figures")).to_contain_text("Visits")
    expect(page.locator(".figures")).not_to_contain_text("Spending recorded")
    expect(page.get_by_role("link", name="Customers")).to_have_count(0)
    page.get_by_role("link", name="Staff and flags").click()
    expect(page.locator(".flags")).to_contain_text("usually closed")
    screenshot(page, "insights-staff-flags")
    assert_accessible(page, "insights staff")
    page.locator(".flags a").first.click()
    expect(page.get_by_role("heading", name="The rows behind a flag")).to_be_visible()
