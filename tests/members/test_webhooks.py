"""Webhooks per shop: signed deliveries to a receiver on 127.0.0.1, retried, logged and replayed."""

import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from members import services as member_services
from members import tasks as member_tasks
from members import webhooks
from members.models import WebhookDelivery, WebhookEndpoint
from rewards import services
from rewards.models import PointsRule, Voucher

from ..conftest import key
from ..factories import MemberFactory, StampProgramFactory, TierFactory, TierPolicyFactory
from ..webhook_receiver import Receiver

pytestmark = pytest.mark.usefixtures("ledger_reconciles")


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What docs/webhooks.md tells integrators to do, line for line."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(parts["t"])) <= tolerance
    return hmac.compare_digest(expected, parts["v1"]) and fresh


@pytest.fixture(autouse=True)
def _private_allowed(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def endpoint_for(world, receiver):
    def make(events, shop=None, path="/hook"):
        return webhooks.endpoint_save(
            shop=shop or world.shop, by=world.alice, url=receiver.url + path, events=events, description="Till"
        )

    return make


@pytest.fixture
def now_commits(django_capture_on_commit_callbacks):
    """Run what waits for the commit (the eager send task) as the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def events(receiver) -> list[str]:
    return [request.headers["Loyalty-Event"] for request in receiver.requests]


def body(request) -> dict:
    return json.loads(request.body)


def stamp(world, member, program, commit):
    with commit():
        return services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key())


# Events


def test_a_stamp_at_the_counter_delivers_one_signed_visit_event(
    world, program, member, receiver, endpoint_for, now_commits
):
    endpoint = endpoint_for(["visit"])
    carol = world.client(world.carol)
    url = reverse("rewards:counter_stamp", args=[world.shop.slug, member.public_id])
    with now_commits():
        response = carol.post(url, {"program": program.public_id, "count": 1, "key": key()}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Loyalty-Event"] == "visit"
    assert verify(endpoint.secret, request.headers["Loyalty-Signature"], request.body)
    assert not verify("whsec_wrong", request.headers["Loyalty-Signature"], request.body)
    payload = body(request)
    assert payload["type"] == "visit" and payload["shop"] == world.shop.slug
    assert request.headers["Loyalty-Delivery"] == payload["id"]
    data = payload["data"]
    assert data["member"] == {"id": str(member.public_id), "code": member.code, "points": 0, "tier": None}
    assert data["stamps"] == 1 and data["card"]["stamps"] == 1 and data["card"]["stamps_needed"] == 10
    # Only the member's public id and code: no name or contact in a visit.
    assert member.name not in request.body.decode() and member.email not in request.body.decode()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 1, 200)
    assert [a.status_code for a in delivery.attempt_log.all()] == [200]


def test_joining_on_the_join_page_sends_member_joined_with_the_contact(world, program, receiver, endpoint_for, client,
                                                                        now_commits):  # fmt: skip
    endpoint = endpoint_for(["member.joined"])
    with now_commits():
        response = client.post(
            reverse("members:join", args=[world.shop.slug]),
            {"name": "Mia Chen", "email": "mia@example.com", "phone": "", "birthday": "", "marketing_consent": "on"},
        )
    assert response.status_code == 302
    [request] = receiver.requests
    assert verify(endpoint.secret, request.headers["Loyalty-Signature"], request.body)
    member = body(request)["data"]["member"]
    assert (member["name"], member["email"], member["marketing_consent"]) == ("Mia Chen", "mia@example.com", True)


def test_vouchers_issued_and_redeemed(world, member, receiver, endpoint_for, now_commits):
    endpoint_for(["voucher.issued", "voucher.redeemed"])
    program = StampProgramFactory(shop=world.shop, stamps_needed=1, min_minutes_between_visits=0)
    stamp(world, member, program, now_commits)
    voucher = Voucher.objects.get(member=member)
    with now_commits():
        services.voucher_redeem(shop=world.shop, voucher_id=voucher.pk, staff=world.carol, idempotency_key=key())
    assert events(receiver) == ["voucher.issued", "voucher.redeemed"]
    issued, redeemed = (body(r)["data"]["voucher"] for r in receiver.requests)
    assert issued["id"] == redeemed["id"] == str(voucher.public_id)
    assert (issued["status"], redeemed["status"], redeemed["code"]) == ("issued", "redeemed", voucher.code)


def test_a_purchase_and_its_refund(world, member, receiver, endpoint_for, now_commits):
    endpoint_for(["purchase", "refund"])
    PointsRule.objects.create(shop=world.shop, is_active=True, step_amount=10)
    with now_commits():
        result = services.purchase_record(member=member, amount=Decimal(120), staff=world.carol, idempotency_key=key())
    with now_commits():
        services.purchase_refund(
            shop=world.shop, purchase_id=result.purchase.pk, amount=Decimal(120), staff=world.alice,
            idempotency_key=key(),
        )  # fmt: skip
    assert events(receiver) == ["purchase", "refund"]
    bought, refunded = (body(r)["data"] for r in receiver.requests)
    assert bought["purchase"]["id"] == refunded["purchase"]["id"] == str(result.purchase.public_id)
    assert bought["purchase"]["amount"] == "120" and bought["member"]["points"] == result.purchase.points_earned
    assert refunded["amount"] == "120" and refunded["purchase"]["refunded_amount"] == "120"
    assert refunded["points"] == -result.purchase.points_earned and refunded["member"]["points"] == 0


def test_a_tier_change(world, program, member, receiver, endpoint_for, now_commits):
    endpoint_for(["tier.changed"])
    TierPolicyFactory(shop=world.shop)
    gold = TierFactory(shop=world.shop, name="Gold", threshold=1)
    stamp(world, member, program, now_commits)
    [request] = receiver.requests
    data = body(request)["data"]
    assert data["from"] is None and data["to"] == {"id": str(gold.public_id), "name": "Gold"}
    assert data["member"]["tier"] == "Gold"


def test_an_erased_member_is_announced_and_leaves_no_contact_in_the_log(world, receiver, endpoint_for, now_commits):
    endpoint_for(["member.joined", "member.erased"])
    with now_commits():
        member, _created = member_services.member_join(
            shop=world.shop, name="Mia Chen", email="mia@example.com", phone="", birthday=None,
            marketing_consent=False, language="en",
        )  # fmt: skip
    with now_commits():
        member_services.member_erase(member=member, by=world.alice)
    assert events(receiver) == ["member.joined", "member.erased"]
    assert body(receiver.requests[1])["data"]["member"] == {"id": str(member.public_id), "code": member.code}
    # A replay of the join would not send the erased member's name or address again.
    joined = WebhookDelivery.objects.get(event="member.joined")
    assert "mia" not in json.dumps(joined.payload).lower()


# Who gets what


def test_an_endpoint_gets_only_its_own_shops_events(world, receiver, endpoint_for, now_commits):
    endpoint_for(["visit"], path="/alice")
    endpoint_for(["visit"], shop=world.other_shop, path="/dave")
    theirs = StampProgramFactory(shop=world.other_shop, min_minutes_between_visits=0)
    stamp(world, MemberFactory(shop=world.other_shop), theirs, now_commits)
    assert [request.path for request in receiver.requests] == ["/dave"]


def test_an_endpoint_not_subscribed_to_an_event_gets_nothing(world, program, member, receiver, endpoint_for,
                                                              now_commits):  # fmt: skip
    endpoint_for(["purchase"])
    inactive = endpoint_for(["visit"], path="/off")
    webhooks.endpoint_save(shop=world.shop, by=world.alice, url=inactive.url, events=["visit"], active=False,
                           endpoint=inactive)  # fmt: skip
    stamp(world, member, program, now_commits)
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_a_shop_without_endpoints_asks_nothing(world, program, member, django_assert_num_queries):
    assert webhooks.emit(world.shop, "visit", dict) is None  # its settings read once per change
    with django_assert_num_queries(0):
        assert webhooks.emit(world.shop, "visit", dict) is None
    # An endpoint added changes the shop's settings key: the next event finds it.
    webhooks.endpoint_save(shop=world.shop, by=world.alice, url="https://hooks.example.com/", events=["visit"])
    world.shop.refresh_from_db()
    assert webhooks.emit(world.shop, "visit", dict) is not None


# Failures, retries and replay


def test_a_500_is_retried_after_the_backoff_and_delivered_once(world, program, member, receiver, endpoint_for,
                                                                 now_commits):  # fmt: skip
    endpoint_for(["visit"])
    receiver.answers = [500]
    stamp(world, member, program, now_commits)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 500)
    assert delivery.last_response == "Internal trouble"
    assert timedelta(minutes=1) < delivery.next_attempt_at - timezone.now() <= timedelta(minutes=2)
    assert webhooks.webhooks_flush() == 0  # not due yet
    assert webhooks.webhooks_flush(now=timezone.now() + timedelta(minutes=3)) == 1
    assert webhooks.webhooks_flush(now=timezone.now() + timedelta(hours=1)) == 0  # sent once
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 2, 200)
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 200]
    first, second = receiver.requests
    assert first.body == second.body and first.headers["Loyalty-Delivery"] == second.headers["Loyalty-Delivery"]


def test_the_beat_flushes_webhooks_every_minute(world, program, member, receiver, endpoint_for, settings):
    assert settings.CELERY_BEAT_SCHEDULE["flush-webhooks"] == {"task": "members.tasks.flush_webhooks", "schedule": 60}
    endpoint_for(["visit"])
    # The broker was down when the stamp committed (no task ran): the beat's flush sends it.
    services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key())
    assert receiver.requests == []
    assert member_tasks.flush_webhooks.apply().get() == 1
    assert events(receiver) == ["visit"]


def test_a_timeout_is_retried(world, program, member, receiver, endpoint_for, now_commits, monkeypatch):
    monkeypatch.setattr(webhooks, "TIMEOUT", httpx.Timeout(0.3))
    endpoint_for(["visit"])
    receiver.answers = ["slow"]
    stamp(world, member, program, now_commits)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("failed", None)
    assert delivery.attempt_log.get().error == "No answer in time."
    assert webhooks.webhooks_flush(now=timezone.now() + timedelta(minutes=3)) == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent" and len(receiver.requests) == 2


def test_a_redirect_is_not_followed(world, program, member, receiver, endpoint_for, now_commits):
    endpoint_for(["visit"])
    receiver.answers = ["redirect"]
    stamp(world, member, program, now_commits)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("failed", 302)
    assert len(receiver.requests) == 1


def test_after_eight_attempts_it_gives_up(world, program, member, receiver, endpoint_for, now_commits):
    endpoint_for(["visit"])
    receiver.answers = [500] * 10
    stamp(world, member, program, now_commits)
    later = timezone.now()
    for _ in range(10):
        later += timedelta(days=1)
        webhooks.webhooks_flush(now=later)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", webhooks.MAX_ATTEMPTS)
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS


def test_a_claimed_delivery_is_not_sent_twice(world, program, member, receiver, endpoint_for, now_commits):
    endpoint_for(["visit"])
    stamp(world, member, program, now_commits)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.delivery_send(delivery.pk) is False  # sent already
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="sending", attempts=1)
    assert webhooks.delivery_send(delivery.pk) is False  # another worker holds it
    # A worker that died mid-send: failed after 30 minutes, then tried again.
    webhooks.webhooks_flush(now=timezone.now() + timedelta(minutes=31))
    delivery.refresh_from_db()
    assert delivery.status == "sent" and len(receiver.requests) == 2


def test_a_replay_from_the_owners_log_sends_the_same_event_with_a_new_signature(
    world, program, member, receiver, endpoint_for, now_commits
):
    endpoint = endpoint_for(["visit"])
    stamp(world, member, program, now_commits)
    delivery = WebhookDelivery.objects.get()
    webhooks.secret_roll(endpoint=endpoint)  # the old secret signs nothing any more
    endpoint.refresh_from_db()
    owner = world.client(world.alice)
    url = reverse("members:webhook_replay", args=[world.shop.slug, endpoint.public_id, delivery.public_id])
    with now_commits():
        response = owner.post(url)
    assert response.status_code == 302
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["Loyalty-Delivery"] == second.headers["Loyalty-Delivery"] == str(delivery.event_id)
    assert verify(endpoint.secret, second.headers["Loyalty-Signature"], second.body)
    assert not verify(endpoint.secret, first.headers["Loyalty-Signature"], first.body)
    assert WebhookDelivery.objects.count() == 1
    log = owner.get(reverse("members:webhook_detail", args=[world.shop.slug, endpoint.public_id])).content.decode()
    assert str(delivery.event_id) in log and log.count(": 200 ·") == 2, log[log.find('id="webhook-log"') :]


# The address rule


def test_private_addresses_are_refused_by_the_form_and_at_send_time(world, program, member, receiver, settings,
                                                                      now_commits):  # fmt: skip
    endpoint = webhooks.endpoint_save(shop=world.shop, by=world.alice, url=receiver.url + "/hook", events=["visit"])
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    owner = world.client(world.alice)
    add = reverse("members:webhook_add", args=[world.shop.slug])
    for url, error in (
        (receiver.url + "/hook", "must start with https://"),
        ("https://127.0.0.1/hook", "private or local network"),
        ("https://169.254.169.254/latest/meta-data/", "private or local network"),
        ("https://[::1]/hook", "private or local network"),
        ("https://10.0.0.7/hook", "private or local network"),
    ):
        response = owner.post(add, {"url": url, "events": ["visit"], "description": ""})
        assert response.status_code == 400 and error in response.content.decode(), url
    assert WebhookEndpoint.objects.count() == 1
    assert webhooks.address_problem("https://localhost/hook")
    # The endpoint saved while private addresses were allowed: refused when it is time to send.
    stamp(world, member, program, now_commits)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == "failed" and "must start with https://" in delivery.attempt_log.get().error
    assert receiver.requests == []


# The owner's pages


def test_the_owner_adds_an_endpoint_sees_its_secret_pings_it_and_deletes_it(world, receiver, now_commits):
    owner = world.client(world.alice)
    add = reverse("members:webhook_add", args=[world.shop.slug])
    assert "A voucher redeemed" in owner.get(add).content.decode()
    response = owner.post(add, {"url": receiver.url + "/hook", "events": ["visit", "refund"], "active": "on"})
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302 and endpoint.events == ["visit", "refund"]
    assert endpoint.created_by == world.alice and endpoint.secret.startswith("whsec_")
    page = owner.get(response["Location"]).content.decode()
    assert endpoint.secret in page and "Roll secret" in page
    old = endpoint.secret
    owner.post(reverse("members:webhook_secret_roll", args=[world.shop.slug, endpoint.public_id]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    with now_commits():
        owner.post(reverse("members:webhook_ping", args=[world.shop.slug, endpoint.public_id]))
    [request] = receiver.requests
    assert request.headers["Loyalty-Event"] == "ping"
    assert verify(endpoint.secret, request.headers["Loyalty-Signature"], request.body)
    listing = owner.get(reverse("members:webhook_list", args=[world.shop.slug])).content.decode()
    assert endpoint.url in listing
    owner.post(reverse("members:webhook_delete", args=[world.shop.slug, endpoint.public_id]))
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def test_the_form_refuses_unknown_events(world):
    owner = world.client(world.alice)
    add = reverse("members:webhook_add", args=[world.shop.slug])
    response = owner.post(add, {"url": "https://hooks.example.com/", "events": ["everything"]})
    assert response.status_code == 400 and not WebhookEndpoint.objects.exists()


def test_the_log_reads_in_a_fixed_number_of_queries(world, receiver, django_assert_num_queries):
    endpoint = webhooks.endpoint_save(shop=world.shop, by=world.alice, url=receiver.url, events=["visit"])
    for _ in range(5):
        webhooks.ping_send(endpoint=endpoint)
    owner = world.client(world.alice)
    url = reverse("members:webhook_detail", args=[world.shop.slug, endpoint.public_id])
    owner.get(url)
    # the user with their role, the endpoint, the deliveries, their attempts; the shop switcher
    with django_assert_num_queries(5):
        owner.get(url)
    assert uuid.UUID(str(endpoint.public_id))


def test_adding_rolling_and_deleting_an_endpoint_are_in_the_audit_trail(world, alice_client):
    endpoint = webhooks.endpoint_save(
        shop=world.shop, by=world.alice, url="https://hooks.example.com/loyalty?token=abc", events=["visit"]
    )
    webhooks.secret_roll(endpoint=endpoint, by=world.alice)
    webhooks.endpoint_delete(endpoint=endpoint, by=world.alice)
    body = alice_client.get(reverse("members:audit_list", args=[world.shop.slug])).content.decode()
    for text in ("Added a webhook endpoint", "Rolled a webhook endpoint", "Deleted a webhook endpoint"):
        assert text in body
    assert "hooks.example.com" in body and "token=abc" not in body
