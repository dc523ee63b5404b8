"""axe-core finds no WCAG 2.1 A/AA violation on any page of the demo café: one page of each URL pattern
of ours (each kind of member card, the counter after a look-up) in a real browser, as the owner and as a
customer with nothing but the card link, at a counter laptop's size and a phone's."""

import pytest
from playwright.sync_api import Error

from loyalty_site.demo import DEMO_PASSWORD
from members.roles import Role

from ..site.test_crawl import OURS, Cafe, demo_cafe


def opened(page, url) -> bool:
    """Open a page; False for what is no page (an action that only takes POST answers 405 and nothing,
    a fragment is part of a page)."""
    try:
        response = page.goto(url)
    except Error:
        return False
    if response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
        return False
    # Fragments that only htmx asks for (a card's history, its QR code) are parts of a page, checked there.
    return response.text().lstrip().lower().startswith("<!doctype html>")


def pages_of(cafe: Cafe, *, public: bool) -> list[str]:
    """One URL of each of our patterns (every card), staff pages or public ones; no PDFs or images."""
    urls, seen = [], set()
    for target in cafe.targets:
        if not target.name.startswith(OURS) or (target.permission is None) != public:
            continue
        if target.name in ("members:poster", "rewards:card_manifest", "rewards:card_service_worker"):
            continue
        key = target.url if target.name == "rewards:card" else target.name
        if key not in seen:
            seen.add(key)
            urls.append(target.url)
    return urls


@pytest.mark.django_db(transaction=True)
def test_every_page_passes_axe(live_server, browser, assert_accessible):
    cafe = demo_cafe()
    users = cafe.users

    owner = browser.new_context(locale="en-US", viewport={"width": 1366, "height": 768})
    page = owner.new_page()
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_login").fill(users[Role.OWNER].email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    checked = 0
    for url in pages_of(cafe, public=False):
        if not opened(page, live_server.url + url):
            continue
        assert_accessible(page, url)
        checked += 1
    owner.close()

    phone = browser.new_context(locale="zh-TW", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    for url in pages_of(cafe, public=True):
        if not opened(page, live_server.url + url):
            continue
        assert_accessible(page, url)
        checked += 1
    phone.close()
    assert checked > 20, f"only {checked} pages were checked"
