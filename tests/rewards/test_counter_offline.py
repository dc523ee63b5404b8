"""The counter as an offline-capable web app, on the server's side: the stamp endpoint's JSON answer
that the offline queue reads (static/js/counter-offline.js), the time limit on stamps queued long
ago, and the app's manifest and service worker."""

import json
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from rewards.models import FoundBy, LedgerEntry, MemberCard

from ..factories import MemberCardFactory, MemberFactory, StampProgramFactory

JSON = {"Accept": "application/json"}


@pytest.fixture
def carol(world):
    return world.client(world.carol)


@pytest.fixture
def card(world):
    """Three stamps at most per visit, half an hour between visits."""
    return StampProgramFactory(
        shop=world.shop, name="Coffee card", reward="Free latte", stamps_needed=10, max_stamps_per_visit=3,
        min_minutes_between_visits=30,
    )  # fmt: skip


def queued(client, shop, member, program, *, key=None, count=1, queued_at=None, **extra):
    data = {"program": program.public_id, "count": count, "key": key or str(uuid.uuid4()), **extra}
    data["queued_at"] = (queued_at or timezone.now()).isoformat()
    url = reverse("rewards:counter_stamp", args=[shop.slug, member.public_id])
    return client.post(url, data, headers=JSON)


def rows(member):
    return list(LedgerEntry.objects.filter(member=member).values_list("reason", "stamps", "staff__email"))


def test_a_queued_stamp_is_accepted_with_the_cards_new_count(world, member, card, carol):
    response = queued(carol, world.shop, member, card)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"result": "accepted", "message": "+1 stamp added", "stamps": 1, "code": ""}
    # The ledger row is the counter's own: a visit's stamp, by the staff member who sent it,
    # found offline (the fraud checks read how a member was found).
    assert rows(member) == [("visit", 1, "carol@example.com")]
    assert LedgerEntry.objects.get(member=member).found_by == FoundBy.OFFLINE


def test_a_client_made_key_sent_twice_is_already_done(world, member, card, carol):
    key = str(uuid.uuid4())  # crypto.randomUUID(): 36 characters, with hyphens
    assert queued(carol, world.shop, member, card, key=key).json()["result"] == "accepted"
    again = queued(carol, world.shop, member, card, key=key)
    assert again.status_code == 200
    assert again.json()["result"] == "already_done"
    assert again.json()["stamps"] == 1
    assert len(rows(member)) == 1


def test_the_per_visit_limit_refuses_with_its_reason(world, member, card, carol):
    response = queued(carol, world.shop, member, card, count=4)
    assert response.status_code == 409
    answer = response.json()
    assert answer["result"] == "refused" and answer["code"] == "too_many"
    assert answer["message"] == "At most 3 stamps per visit."
    assert answer["stamps"] == 0
    assert rows(member) == []


def test_the_interval_limit_refuses_the_second_visit(world, member, card, carol):
    assert queued(carol, world.shop, member, card).status_code == 200
    response = queued(carol, world.shop, member, card)
    assert response.status_code == 409
    assert response.json()["result"] == "refused" and response.json()["code"] == "too_soon"
    assert response.json()["stamps"] == 1
    assert len(rows(member)) == 1


def test_a_stamp_queued_more_than_12_hours_ago_is_refused_and_changes_nothing(world, member, card, carol):
    long_ago = timezone.now() - timedelta(hours=12, minutes=5)
    response = queued(carol, world.shop, member, card, queued_at=long_ago)
    assert response.status_code == 409
    answer = response.json()
    assert answer["result"] == "refused" and answer["code"] == "queued_too_long"
    assert "more than 12 hours ago: not added" in answer["message"]
    assert rows(member) == []
    # Queued eleven hours ago: still given.
    response = queued(carol, world.shop, member, card, queued_at=timezone.now() - timedelta(hours=11))
    assert response.json()["result"] == "accepted"


def test_a_stamp_already_recorded_stays_already_done_however_late_its_answer_is_asked_again(world, member, card, carol):
    """Sent just in time, its answer lost, sent again after the limit: it was added, and says so."""
    key = str(uuid.uuid4())
    nearly = timezone.now() - timedelta(hours=11, minutes=59)
    assert queued(carol, world.shop, member, card, key=key, queued_at=nearly).json()["result"] == "accepted"
    late = timezone.now() - timedelta(hours=12, minutes=1)
    response = queued(carol, world.shop, member, card, key=key, queued_at=late)
    assert response.status_code == 200 and response.json()["result"] == "already_done"
    assert len(rows(member)) == 1


def test_a_stamp_queued_long_ago_is_refused_on_the_panel_too(world, member, card, carol):
    url = reverse("rewards:counter_stamp", args=[world.shop.slug, member.public_id])
    long_ago = (timezone.now() - timedelta(days=1)).isoformat()
    response = carol.post(
        url, {"program": card.public_id, "key": "k1", "queued_at": long_ago}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert "Not done:" in response.text and "not added" in response.text
    assert rows(member) == []


@pytest.mark.parametrize(
    "data",
    [
        {"program": "not-a-card"},
        {"count": "0"},
        {"count": "x"},
        {"queued_at": "yesterday"},
        {"queued_at": "2026-13-45T10:00:00Z"},
        {"queued_at": "2026-01-01T10:00:00"},  # no time zone: which day was it?
    ],
    ids=["card", "zero", "not-a-number", "words", "no-such-day", "naive"],
)
def test_bad_input_is_422_with_a_message_and_changes_nothing(world, member, card, carol, data):
    url = reverse("rewards:counter_stamp", args=[world.shop.slug, member.public_id])
    body = {"program": card.public_id, "count": 1, "key": str(uuid.uuid4()), "queued_at": timezone.now().isoformat()}
    response = carol.post(url, {**body, **data}, headers=JSON)
    assert response.status_code == 422
    assert response.json()["result"] == "refused" and response.json()["message"]
    assert rows(member) == [] and not MemberCard.objects.filter(member=member).exists()


def test_a_bad_key_is_refused_with_its_reason(world, member, card, carol):
    response = queued(carol, world.shop, member, card, key="not a key!")
    assert response.status_code == 409
    assert response.json()["code"] == "bad_key"
    assert rows(member) == []


def test_an_unknown_member_is_404(world, card, carol):
    url = reverse("rewards:counter_stamp", args=[world.shop.slug, uuid.uuid4()])
    response = carol.post(url, {"program": card.public_id, "key": str(uuid.uuid4())}, headers=JSON)
    assert response.status_code == 404
    assert not LedgerEntry.objects.exists()


def test_another_shops_member_is_404_and_changes_nothing(world, card, carol):
    theirs = MemberFactory(shop=world.other_shop, name="Dave's regular")
    their_card = StampProgramFactory(shop=world.other_shop, name="Bread card", min_minutes_between_visits=0)
    # Through Alice's café, with Alice's card or theirs.
    for program in (card, their_card):
        assert queued(carol, world.shop, theirs, program).status_code == 404
    # Through Dave's bakery, where Carol has no role.
    assert queued(carol, world.other_shop, theirs, their_card).status_code == 404
    assert not LedgerEntry.objects.exists()


def test_the_html_answer_is_unchanged_without_the_json_header(world, member, card, carol):
    url = reverse("rewards:counter_stamp", args=[world.shop.slug, member.public_id])
    response = carol.post(url, {"program": card.public_id, "key": "k1"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "text/html" in response["Content-Type"] and "+1 stamp added" in response.text


def test_the_queued_stamp_costs_no_more_queries_than_a_tap(world, member, card, carol, django_assert_num_queries):
    """The user with their role, the member; BEGIN, the lock (with the key's replay), the card (with its
    last visit), the row, the card's and the member's balance, the member's visit, COMMIT: as online."""
    queued(carol, world.shop, member, card)
    other = MemberFactory(shop=world.shop, name="Ken Wu")
    MemberCardFactory(member=other, program=card)  # a first stamp also makes the card: one more
    with django_assert_num_queries(9):
        response = queued(carol, world.shop, other, card)
    assert response.json()["result"] == "accepted"


def test_the_manifest_opens_the_shops_counter(world, carol, django_assert_num_queries):
    url = reverse("rewards:counter_manifest", args=[world.shop.slug])
    with django_assert_num_queries(1):
        response = carol.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    assert "no-store" in response["Cache-Control"]
    manifest = json.loads(response.content)
    counter = reverse("rewards:counter", args=[world.shop.slug])
    assert manifest["start_url"] == manifest["scope"] == manifest["id"] == counter
    assert manifest["name"] == "Alice's Café counter"
    assert manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}


def test_the_service_worker_is_scoped_to_the_shops_counter(world, carol):
    url = reverse("rewards:counter_service_worker", args=[world.shop.slug])
    response = carol.get(url)
    counter = reverse("rewards:counter", args=[world.shop.slug])
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == counter
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    assert 'var CACHE = "counter\\u002Dalices\\u002Dcafe\\u002Dv1";' in body
    assert url.startswith(counter)  # its default scope is the counter, nothing wider


@pytest.mark.parametrize("name", ["rewards:counter_manifest", "rewards:counter_service_worker"])
def test_the_app_is_for_the_shops_staff_only(world, name):
    url = reverse(name, args=[world.shop.slug])
    assert world.client(world.dave).get(url).status_code == 404
    stranger = world.client(None).get(url)
    assert stranger.status_code == 302 and stranger["Location"].startswith(reverse("account_login"))
    assert world.client(world.dave).post(url).status_code == 404


def test_the_counter_page_links_the_app_and_keeps_its_csp(world, member, card, carol, django_assert_num_queries):
    url = reverse("rewards:counter", args=[world.shop.slug])
    carol.get(url, {"q": member.code})
    # the user with their role at the shop, the member, their cards, their vouchers: as before
    with django_assert_num_queries(4):
        fragment = carol.get(url, {"q": member.code}, headers={"HX-Request": "true"})
    assert f'data-member="{member.public_id}"' in fragment.text
    assert f'data-program="{card.public_id}" data-stamps="0" data-needed="10"' in fragment.text
    page = carol.get(url)
    body = page.text
    manifest = reverse("rewards:counter_manifest", args=[world.shop.slug])
    assert f'<link rel="manifest" href="{manifest}" crossorigin="use-credentials">' in body
    assert 'data-worker="' + reverse("rewards:counter_service_worker", args=[world.shop.slug]) in body
    assert "js/counter-offline.js" in body and 'id="offline-banner"' in body
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    # No script is written into the page: every one is a file.
    assert "<script>" not in body and "<script " + "nonce" not in body
