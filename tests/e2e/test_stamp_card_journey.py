"""Journey: poster -> join on a phone -> ten stamps at the counter -> free drink -> redeemed."""

import io
import re
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from members import services as shop_services
from rewards import ledger
from rewards.models import Voucher

from ..factories import PASSWORD, UserFactory


def decode(png: bytes) -> str:
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert codes, "no QR code found"
    return codes[0].text


def log_in(page, base, email):
    page.goto(base + "/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("heading", name="My shops")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_join_by_poster_stamp_ten_times_and_redeem(
    live_server, settings, page, phone_page, screenshot, assert_accessible
):
    settings.SITE_URL = live_server.url
    owner = UserFactory(email="owner@sunrise.example")
    shop = shop_services.shop_create(
        owner=owner, name="Sunrise Coffee", slug="sunrise", currency="TWD", time_zone="Asia/Taipei", language="en"
    )

    # The owner downloads the poster; its QR code leads to the join page.
    log_in(page, live_server.url, owner.email)
    page.goto(f"{live_server.url}/s/{shop.slug}/")
    with page.expect_download() as download:
        page.get_by_role("link", name="A4 poster (PNG)").click()
    join_url = decode(Path(download.value.path()).read_bytes())
    assert join_url == f"{live_server.url}/j/{shop.slug}/"

    # The default card allows a visit every 30 minutes; for this test, every minute is fine.
    page.get_by_role("navigation", name="Shop").get_by_role("link", name="Stamp cards").click()
    page.get_by_role("link", name="Coffee card").click()
    page.get_by_label("Least minutes between two visits").fill("0")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Card saved.")).to_be_visible()

    # A customer joins on a phone.
    phone_page.goto(join_url)
    phone_page.get_by_label("Your name").fill("Mia Chen")
    phone_page.get_by_label("E-mail").fill("mia@example.com")
    phone_page.get_by_label("Mobile phone").fill("0912 345 678")
    phone_page.get_by_label(re.compile("send me news and offers")).check()
    screenshot(phone_page, "journey-join")
    assert_accessible(phone_page, "join page")
    phone_page.get_by_role("button", name="Join and show my card").click()
    expect(phone_page.get_by_role("heading", name="Hello, Mia Chen")).to_be_visible()
    expect(phone_page.get_by_text("10 more stamps to your Free drink")).to_be_visible()
    screenshot(phone_page, "journey-card")
    assert_accessible(phone_page, "member card")
    card_url = phone_page.url

    # Staff scan the QR code on the phone (a scanner types it into the search field).
    payload = decode(phone_page.locator("#qr").screenshot())
    page.get_by_role("navigation", name="Shop").get_by_role("link", name="Counter").click()
    page.locator("#counter-q").fill(payload)
    page.locator("#counter-q").press("Enter")
    expect(page.get_by_role("heading", name="Mia Chen")).to_be_visible()
    for n in range(1, 11):
        page.get_by_role("button", name="+1 stamp").click()
        if n < 10:
            expect(page.locator(f'ol.stamps[aria-label="{n} of 10 stamps"]')).to_be_visible()
    expect(page.get_by_text("Card complete!")).to_be_visible()
    screenshot(page, "journey-counter")
    assert_accessible(page, "counter")

    # The free drink is on the customer's card.
    phone_page.goto(card_url)
    ready = phone_page.get_by_role("region", name="Ready to use")
    expect(ready.get_by_text("Free drink")).to_be_visible()
    voucher = Voucher.objects.get(member__shop=shop)
    expect(ready.get_by_text(voucher.code)).to_be_visible()

    # Staff redeem it in one tap; the card shows it used.
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_text("Redeemed: Free drink")).to_be_visible()
    phone_page.reload()
    expect(phone_page.get_by_role("region", name="Ready to use")).to_have_count(0)
    expect(phone_page.get_by_text(re.compile(r"Redeemed · Free drink"))).to_be_visible()
    screenshot(phone_page, "journey-card-redeemed")

    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.REDEEMED
    assert ledger.drift() == []
