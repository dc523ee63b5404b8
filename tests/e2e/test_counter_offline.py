"""The café's connection drops at a busy till: the counter says so, keeps giving stamps to the
members it saw today, and sends them when the connection is back, each once.

A staff member looks three members up online, the network goes, they stamp each one (by member
code and by a scanned card QR code), see the stamps waiting and what needs the connection; the
network comes back, each stamp is accepted, the ledger holds one new row per member and their cards
show it; the same queue sent again adds nothing."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from members import services as shop_services
from members.roles import Role
from members.tokens import card_token, member_qr_payload
from rewards import services
from rewards.models import LedgerEntry, StampProgram

from ..factories import PASSWORD, MemberFactory, PointsRuleFactory, StaffFactory, UserFactory


def find_online(page, query, name):
    with page.expect_response(re.compile(r".*/counter/\?q=.*")):
        page.locator("#counter-q").fill(query)
        page.locator("#counter-q").press("Enter")
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def find_offline(page, query):
    page.locator("#counter-q").fill(query)
    page.locator("#counter-q").press("Enter")


@pytest.mark.django_db(transaction=True)
def test_the_counter_keeps_stamping_offline_and_sends_each_stamp_once(
    live_server, browser, screenshot, assert_accessible
):
    owner = UserFactory(email="owner@offline.example")
    shop = shop_services.shop_create(owner=owner, name="Offline Café", slug="offline", language="en")
    staff = StaffFactory(shop=shop, role=Role.STAFF, user__email="barista@offline.example")
    program = StampProgram.objects.get(shop=shop)
    PointsRuleFactory(shop=shop, is_active=True)  # the shop gives points: purchases need the connection
    people = [
        MemberFactory(shop=shop, name="Mia Chen"),
        MemberFactory(shop=shop, name="Noah Lin"),
        MemberFactory(shop=shop, name="Ava Wu"),
    ]
    stranger = MemberFactory(shop=shop, name="Not Seen Today")
    two_days_ago = timezone.now() - timedelta(days=2)
    for person in people:
        services.stamp_add(
            member=person, program=program, count=2, staff=owner, idempotency_key=f"old-{person.code}", at=two_days_ago
        )
    before = LedgerEntry.objects.count()

    context = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_login").fill(staff.user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/s/.*|.*/$"))
    page.goto(f"{live_server.url}/s/{shop.slug}/counter/")
    # The counter's worker is installed and keeps the page's shell.
    assert page.evaluate("() => navigator.serviceWorker.ready.then((r) => r.scope)").endswith("/s/offline/counter/")

    # Online: three look-ups, so the device has seen them today.
    for person in people:
        find_online(page, person.code, person.name)
        expect(page.locator(f"#card-{program.public_id} ol.stamps")).to_have_attribute(
            "aria-label", f"2 of {program.stamps_needed} stamps"
        )
    expect(page.locator("#offline-banner")).to_be_empty()
    screenshot(page, "counter-offline-1-online")
    assert_accessible(page, "the counter online")

    # The connection drops: the counter says so, and the panel on screen keeps only what works offline.
    context.set_offline(True)
    banner = page.get_by_role("status").filter(has_text="No connection")
    expect(banner).to_be_visible()
    expect(page.locator("#result [data-offline-panel]")).to_be_visible()

    # Mia by her member code, Noah by his card's QR code (a scanner types it), Ava by a code typed loosely.
    mia, noah, ava = people
    find_offline(page, mia.code)
    expect(page.get_by_role("heading", name=mia.name)).to_be_visible()
    expect(page.locator("#result")).to_contain_text(f"2 of {program.stamps_needed} stamps when last seen")
    page.get_by_role("button", name="+1 stamp").click()
    expect(page.locator("#result")).to_contain_text(f"Queued: +1 stamp for {mia.name}")
    expect(page.locator("#result")).to_contain_text("1 waiting to be sent")

    find_offline(page, member_qr_payload(noah))
    expect(page.get_by_role("heading", name=noah.name)).to_be_visible()
    page.get_by_role("button", name="+1 stamp").click()
    expect(page.locator("#result")).to_contain_text(f"Queued: +1 stamp for {noah.name}")

    find_offline(page, ava.code.lower()[:3] + " " + ava.code.lower()[3:])
    expect(page.get_by_role("heading", name=ava.name)).to_be_visible()
    page.get_by_role("button", name="+1 stamp").click()
    expect(page.locator("#result")).to_contain_text(f"Queued: +1 stamp for {ava.name}")

    # Spending needs the server: the buttons are there, switched off, with the reason beside them.
    redeem = page.get_by_role("button", name="Redeem")
    expect(redeem).to_be_disabled()
    expect(redeem).to_have_accessible_description(re.compile("Needs the connection"))
    expect(page.locator("#result")).to_contain_text("Needs the connection: redeeming vouchers and rewards")
    expect(page.get_by_role("button", name="Record purchase")).to_be_disabled()

    queue = page.locator("#offline-queue-list li")
    expect(queue).to_have_count(3)
    for item, person in zip(queue.all(), people, strict=True):
        expect(item).to_contain_text(f"{person.name} ({person.code}): +1 stamp on the {program.name}")
    screenshot(page, "counter-offline-2-queued")
    assert_accessible(page, "the counter offline with stamps waiting")

    # A card this device has not seen today cannot be matched offline: it says so.
    find_offline(page, member_qr_payload(stranger))
    expect(page.get_by_role("alert")).to_contain_text("has not been seen")
    # Nothing has reached the server.
    assert LedgerEntry.objects.count() == before

    # Reloaded while offline, the kept shell still shows the queue.
    page.reload()
    expect(page.locator("#offline-queue-list li")).to_have_count(3)
    expect(banner).to_be_visible()

    key = f"counter:{shop.slug}:{staff.public_id}:queue"
    kept = page.evaluate("(key) => localStorage.getItem(key)", key)
    assert len(json.loads(kept)) == 3

    # Back online: the queue goes out in order, each result listed.
    context.set_offline(False)
    accepted = page.locator("#offline-results-list li.sent-accepted")
    expect(accepted).to_have_count(3)
    for item, person in zip(accepted.all(), people, strict=True):
        expect(item).to_contain_text(f"Accepted: {person.name} ({person.code}), {program.name}: +1 stamp added")
    expect(page.locator("#offline-queue")).to_be_hidden()
    expect(page.locator("#offline-banner")).to_be_empty()
    screenshot(page, "counter-offline-3-sent")
    assert_accessible(page, "the counter after sending the queue")

    # One new stamp row for each, in the staff member's name, and their cards show it.
    def new_rows(person):
        return list(
            LedgerEntry.objects.filter(member=person, created_at__gt=two_days_ago + timedelta(hours=1)).values_list(
                "reason", "stamps", "staff_id"
            )
        )

    for person in people:
        assert new_rows(person) == [("visit", 1, staff.user_id)], person.name
        page.goto(f"{live_server.url}/c/{card_token(person)}/")
        expect(page.locator("ol.stamps.big")).to_have_attribute("aria-label", f"3 of {program.stamps_needed} stamps")
    after = LedgerEntry.objects.count()
    assert after == before + 3

    # The same queue again (an answer lost on the way): sent with the same keys, nothing is added.
    page.goto(f"{live_server.url}/s/{shop.slug}/counter/")
    page.evaluate("([key, kept]) => localStorage.setItem(key, kept)", [key, kept])
    page.reload()
    again = page.locator("#offline-results-list li.sent-already_done")
    expect(again).to_have_count(3)
    expect(again.first).to_contain_text("Already done:")
    expect(page.locator("#offline-queue")).to_be_hidden()
    assert LedgerEntry.objects.count() == after
    for person in people:
        assert len(new_rows(person)) == 1

    # A new day forgets the members seen yesterday.
    seen = f"counter:{shop.slug}:seen"
    assert page.evaluate("(key) => localStorage.getItem(key)", seen) is not None
    page.evaluate(
        "(key) => { const kept = JSON.parse(localStorage.getItem(key));"
        " kept.day = '2000-1-1'; localStorage.setItem(key, JSON.stringify(kept)); }",
        seen,
    )
    page.reload()
    assert page.evaluate("(key) => localStorage.getItem(key)", seen) is None

    # Signing out forgets them too, with the counter's kept pages.
    find_online(page, mia.code, mia.name)
    assert mia.code in page.evaluate("(key) => localStorage.getItem(key)", seen)
    page.locator("summary", has_text=staff.user.email).click()
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    assert page.evaluate("(key) => localStorage.getItem(key)", seen) is None
    assert not [name for name in page.evaluate("() => caches.keys()") if name.startswith("counter-")]
    context.close()
