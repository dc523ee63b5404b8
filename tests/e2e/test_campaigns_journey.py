"""Journey: the demo café's owner reads the win-back's results, sets up one campaign of each kind in
the browser with a preview on the way, and staff see the member day at the counter."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from campaigns.models import Campaign
from loyalty_site.demo import DEMO_PASSWORD
from members.models import Member, Shop

Kind = Campaign.Kind


def log_in(page, live_server, email):
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()


@pytest.mark.django_db(transaction=True)
def test_owner_sets_up_every_campaign_and_sees_results(live_server, page, screenshot, assert_accessible):
    call_command("demo")
    shop = Shop.objects.get(slug="demo-cafe")
    Campaign.objects.filter(shop=shop).exclude(kind=Kind.WINBACK).delete()
    base = f"{live_server.url}/s/{shop.slug}/campaigns/"
    log_in(page, live_server, "owner@demo.example")

    page.goto(base)
    assert_accessible(page, "campaign list")
    page.get_by_role("link", name="We miss you").click()
    expect(page.get_by_role("heading", name="Results")).to_be_visible()
    # The demo holds back a handful of members: too few to claim anything, and the page says so.
    expect(page.get_by_text("Too few members to tell yet")).to_be_visible()
    screenshot(page, "campaign-results")
    assert_accessible(page, "campaign results")

    # What each kind needs beyond its name: (field, value); a select gets select_option.
    steps = {
        Kind.WELCOME: [("#id_gift", "stamps"), ("#id_gift_stamps", "1")],
        Kind.BIRTHDAY: [("#id_gift", "voucher"), ("#id_voucher_title", "Slice of cake")],
        Kind.BOOST: [("#id_multiplier", "2")],
        Kind.WINBACK: [("#id_days_away", "60"), ("#id_gift", "points"), ("#id_gift_points", "50")],
        Kind.REFERRAL: [("#id_gift", "stamps"), ("#id_gift_stamps", "2")],
        Kind.ANNOUNCEMENT: [("#id_subject", "Autumn menu"), ("#id_body", "Chestnut latte from Monday.")],
        Kind.ANNIVERSARY: [("#id_gift", "points"), ("#id_gift_points", "20")],
    }
    for kind, fields in steps.items():
        page.goto(f"{base}new/{kind}/")
        page.get_by_label("Name").fill(f"Journey {kind}")
        for selector, value in fields:
            field = page.locator(selector)
            field.select_option(value) if selector == "#id_gift" else field.fill(value)
        # The preview follows the form before it is saved, without leaving the page.
        with page.expect_response(lambda r: r.request.method == "POST") as preview:
            page.get_by_role("button", name="Preview").click()
        assert preview.value.status == 200
        expect(page.locator("#preview")).to_contain_text("member")
        if kind == Kind.ANNOUNCEMENT:
            screenshot(page, "announcement-preview")
            assert_accessible(page, "announcement form")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Campaign saved.")).to_be_visible()
        expect(page.get_by_role("heading", name="Who it would reach now")).to_be_visible()
    assert set(Campaign.objects.filter(shop=shop).values_list("kind", flat=True)) == set(Kind.values)

    # The member day runs every day, so staff see it on the next member they serve.
    page.context.clear_cookies()
    log_in(page, live_server, "staff@demo.example")
    member = Member.objects.filter(shop=shop).order_by("pk").first()
    page.goto(f"{live_server.url}/s/{shop.slug}/counter/")
    page.locator("#counter-q").fill(member.code)
    page.locator("#counter-q").press("Enter")
    expect(page.get_by_text("×2 now: Journey boost")).to_be_visible()
    screenshot(page, "counter-member-day")
