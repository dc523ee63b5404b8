"""Apple Wallet's "this pass changed" pushes: written when a stamp changes a pass, sent by the worker
through APNs over HTTP/2 with the pass type certificate, never twice, retried when APNs is down or
slow, and the registration dropped when APNs says the wallet is gone. Against a fake APNs on
127.0.0.1 (tests/rewards/apns_fake.py) that requires the pass certificate from the client."""

import datetime
import io
import json
import time
import zipfile

import httpx
import pytest
from django.utils import timezone

from members import services as member_services
from rewards import apns, services, tasks, wallet_sync
from rewards.models import WalletDevice, WalletPass, WalletPush
from rewards.services import wallet, wallet_push

from ..conftest import key
from .apns_fake import FakeAPNs
from .apple_wallet import PASS_TYPE, configure, make_chain


@pytest.fixture
def fake(settings, tmp_path):
    chain = make_chain(tmp_path)
    configure(settings, chain)
    server = FakeAPNs(chain)
    settings.WALLET_APPLE_APNS_URL = server.url
    yield server
    server.close()


@pytest.fixture
def held(fake, member):
    return wallet.pass_issue(member=member, kind=WalletPass.Kind.APPLE)


def register(client, held, device: str, token: str) -> None:
    response = client.post(
        f"/passkit/v1/devices/{device}/registrations/{PASS_TYPE}/{held.serial}",
        {"pushToken": token},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"ApplePass {held.auth_token}",
    )
    assert response.status_code == 201


@pytest.fixture
def phone(client, held):
    register(client, held, "device-1", "a1" * 32)
    return WalletDevice.objects.get(device_library_id="device-1")


def stamp(world, member, program, capture):
    """A stamp at the counter (the service its view calls), with what it asks for after the commit."""
    with capture(execute=True):
        services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key())


def later(minutes: float) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(minutes=minutes)


def test_a_stamp_pushes_once_to_each_registered_device_over_http2(
    fake, client, held, world, member, program, django_capture_on_commit_callbacks
):
    register(client, held, "device-1", "a1" * 32)
    register(client, held, "device-2", "b2" * 32)
    stamp(world, member, program, django_capture_on_commit_callbacks)
    assert sorted(r.path for r in fake.requests) == [f"/3/device/{'a1' * 32}", f"/3/device/{'b2' * 32}"]
    for request in fake.requests:
        assert request.protocol == "h2"
        assert request.method == "POST"
        assert request.headers["apns-topic"] == PASS_TYPE
        assert request.headers["apns-push-type"] == "background"
        assert request.headers["apns-priority"] == "5"
        assert request.body == b"{}"
        assert request.client_certificate == fake.expected  # the pass type certificate
    pushes = WalletPush.objects.all()
    assert [p.status for p in pushes] == [WalletPush.Status.SENT] * 2
    assert {p.pass_version for p in pushes} == {WalletPass.objects.get(pk=held.pk).updated_at}
    assert all(p.attempts == 1 and p.sent_at for p in pushes)


def test_the_task_again_and_the_flush_after_it_send_nothing_twice(
    fake, phone, world, member, program, django_capture_on_commit_callbacks
):
    stamp(world, member, program, django_capture_on_commit_callbacks)
    push = WalletPush.objects.get()
    assert tasks.apple_wallet_push(push.pk) is False
    assert wallet_push.pushes_flush(now=later(60)) == 0
    assert len(fake.requests) == 1
    assert WalletPush.objects.get().status == WalletPush.Status.SENT


def test_apns_down_then_up_sends_once_after_the_backoff_by_the_flush(
    fake, phone, world, member, program, django_capture_on_commit_callbacks
):
    fake.answer(500, "InternalServerError")
    stamp(world, member, program, django_capture_on_commit_callbacks)
    push = WalletPush.objects.get()
    assert push.status == WalletPush.Status.FAILED and push.attempts == 1
    assert "500 InternalServerError" in push.last_error
    assert later(1.5) < push.next_attempt_at < later(2.5)  # 2**1 minutes
    assert wallet_push.pushes_flush(now=later(1)) == 0  # not due yet
    assert len(fake.requests) == 1
    assert wallet_push.pushes_flush(now=later(3)) == 1
    assert wallet_push.pushes_flush(now=later(60)) == 0
    assert len(fake.requests) == 2
    push.refresh_from_db()
    assert push.status == WalletPush.Status.SENT and push.attempts == 2 and push.last_error == ""


def test_too_many_requests_is_retried_and_given_up_after_five_tries(
    fake, phone, world, member, program, django_capture_on_commit_callbacks
):
    for _ in range(6):
        fake.answer(429, "TooManyRequests")
    stamp(world, member, program, django_capture_on_commit_callbacks)
    for hours in range(1, 8):
        wallet_push.pushes_flush(now=later(60 * hours))
    push = WalletPush.objects.get()
    assert push.status == WalletPush.Status.FAILED and push.attempts == 5
    assert len(fake.requests) == 5
    assert WalletDevice.objects.filter(pk=phone.pk).exists()  # APNs was busy; the wallet is still there


def test_a_timeout_is_retried(fake, phone, world, member, program, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(apns, "TIMEOUT", httpx.Timeout(0.5))
    fake.answer(200, delay=1.5)
    stamp(world, member, program, django_capture_on_commit_callbacks)
    push = WalletPush.objects.get()
    assert push.status == WalletPush.Status.FAILED and push.attempts == 1
    assert "Timeout" in push.last_error
    assert wallet_push.pushes_flush(now=later(3)) == 1
    assert WalletPush.objects.get().status == WalletPush.Status.SENT


def test_no_apns_at_all_is_retried(fake, phone, world, member, program, django_capture_on_commit_callbacks, settings):
    fake.close()
    stamp(world, member, program, django_capture_on_commit_callbacks)
    push = WalletPush.objects.get()
    assert push.status == WalletPush.Status.FAILED and push.attempts == 1
    assert "ConnectError" in push.last_error


def test_with_apns_down_the_flush_tries_one_and_leaves_the_rest_due(fake, client, held, member, monkeypatch):
    monkeypatch.setattr(wallet_sync, "enqueue", lambda *args: None)  # the broker is down too
    register(client, held, "device-1", "a1" * 32)
    register(client, held, "device-2", "b2" * 32)
    wallet_sync.passes_changed(member.pk)
    fake.close()
    assert wallet_push.pushes_flush() == 0
    assert sorted(WalletPush.objects.values_list("attempts", flat=True)) == [0, 1]


def test_apns_requires_the_pass_certificate(fake, phone, member, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(wallet_sync, "enqueue", lambda *args: None)
    wallet_sync.passes_changed(member.pk)
    (tmp_path / "other").mkdir()
    other = make_chain(tmp_path / "other")  # a certificate from another CA
    settings.WALLET_APPLE_CERT_FILE = other.path("pass.pem")
    settings.WALLET_APPLE_KEY_FILE = other.path("pass.key")
    assert wallet_push.pushes_flush() == 0
    deadline = time.monotonic() + 5
    while not fake.refused and time.monotonic() < deadline:  # the server's side of the handshake ends a moment later
        time.sleep(0.01)
    assert fake.requests == [] and fake.refused == 1
    assert WalletPush.objects.get().status == WalletPush.Status.FAILED


@pytest.mark.parametrize(("status", "reason"), [(410, "Unregistered"), (400, "BadDeviceToken")])
def test_a_wallet_apns_says_is_gone_loses_its_registration(
    fake, client, held, phone, world, member, program, django_capture_on_commit_callbacks, status, reason
):
    fake.answer(status, reason)
    stamp(world, member, program, django_capture_on_commit_callbacks)
    push = WalletPush.objects.get()
    assert push.status == WalletPush.Status.FAILED and push.attempts == 5  # never again
    assert reason in push.last_error and push.device is None and push.wallet_pass_id == held.pk
    assert not WalletDevice.objects.exists()
    assert client.get(f"/passkit/v1/devices/device-1/registrations/{PASS_TYPE}").status_code == 204
    stamp(world, member, program, django_capture_on_commit_callbacks)
    assert WalletPush.objects.count() == 1 and len(fake.requests) == 1
    assert wallet_push.pushes_flush(now=later(60)) == 0


def test_a_refused_request_is_not_retried_and_the_device_stays(
    fake, phone, world, member, program, django_capture_on_commit_callbacks
):
    fake.answer(403, "BadCertificate")
    stamp(world, member, program, django_capture_on_commit_callbacks)
    push = WalletPush.objects.get()
    assert push.status == WalletPush.Status.FAILED and push.attempts == 5
    assert "BadCertificate" in push.last_error
    assert WalletDevice.objects.filter(pk=phone.pk).exists()


def test_a_push_still_to_come_carries_the_next_change_too(
    fake, phone, world, member, program, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(wallet_sync, "enqueue", lambda *args: queued.append(args))  # the broker is down
    stamp(world, member, program, django_capture_on_commit_callbacks)
    stamp(world, member, program, django_capture_on_commit_callbacks)
    assert queued == [(wallet_sync.APPLE_PUSH_TASK, WalletPush.objects.get().pk)]
    assert wallet_push.pushes_flush() == 1
    assert len(fake.requests) == 1
    stamp(world, member, program, django_capture_on_commit_callbacks)  # after it went: a push again
    assert WalletPush.objects.filter(status=WalletPush.Status.PENDING).count() == 1


def test_one_push_per_device_and_version(fake, phone, world, member):
    version = timezone.now()
    first = WalletPush.objects.create(
        device=phone, wallet_pass=phone.wallet_pass, pass_version=version, status=WalletPush.Status.SENT
    )
    wallet_sync._push_to_devices(member.pk, version=version)  # a repeated call for the same version
    assert list(WalletPush.objects.all()) == [first]
    assert WalletPush.objects.get().status == WalletPush.Status.SENT


def test_a_send_stuck_for_half_an_hour_is_failed_not_resent(fake, phone, world, member, monkeypatch):
    monkeypatch.setattr(wallet_sync, "enqueue", lambda *args: None)
    wallet_sync.passes_changed(member.pk)
    push = WalletPush.objects.get()
    WalletPush.objects.filter(pk=push.pk).update(status=WalletPush.Status.SENDING, attempts=1)
    assert wallet_push.pushes_flush(now=later(29)) == 0
    assert WalletPush.objects.get().status == WalletPush.Status.SENDING
    assert wallet_push.pushes_flush(now=later(31)) == 0
    push.refresh_from_db()
    assert push.status == WalletPush.Status.FAILED and "Interrupted" in push.last_error
    assert wallet_push.pushes_flush(now=later(120)) == 0
    assert fake.requests == []


def test_a_device_that_unregistered_meanwhile_is_not_pushed(fake, client, held, phone, member, monkeypatch):
    monkeypatch.setattr(wallet_sync, "enqueue", lambda *args: None)
    wallet_sync.passes_changed(member.pk)
    client.delete(
        f"/passkit/v1/devices/device-1/registrations/{PASS_TYPE}/{held.serial}",
        HTTP_AUTHORIZATION=f"ApplePass {held.auth_token}",
    )
    assert wallet_push.pushes_flush() == 0
    assert fake.requests == []
    assert WalletPush.objects.get().status == WalletPush.Status.FAILED


def test_revoking_a_pass_pushes_once_and_later_stamps_push_nothing(
    fake, client, held, phone, world, member, program, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        wallet.pass_revoke(member=member, wallet_pass=held)
    assert [r.path for r in fake.requests] == [f"/3/device/{'a1' * 32}"]  # the phone fetches it, void
    stamp(world, member, program, django_capture_on_commit_callbacks)
    assert WalletPush.objects.count() == 1 and len(fake.requests) == 1
    # what the phone then fetches is the voided pass
    response = client.get(
        f"/passkit/v1/passes/{PASS_TYPE}/{held.serial}", HTTP_AUTHORIZATION=f"ApplePass {held.auth_token}"
    )
    assert response.status_code == 200
    assert json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("pass.json"))["voided"] is True


def test_erasing_the_member_pushes_their_pass_void(
    fake, held, phone, world, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        member_services.member_erase(member=member, by=world.alice)
    assert [r.path for r in fake.requests] == [f"/3/device/{'a1' * 32}"]
    assert WalletPass.objects.get(pk=held.pk).revoked_at is not None


def test_without_apple_wallet_no_rows_and_no_queries(
    world, member, program, django_capture_on_commit_callbacks, django_assert_num_queries
):
    held = WalletPass.objects.create(shop=world.shop, member=member, kind=WalletPass.Kind.APPLE)
    WalletDevice.objects.create(device_library_id="device-1", push_token="t" * 64, wallet_pass=held)
    with django_capture_on_commit_callbacks() as callbacks:
        services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key())
    assert callbacks == []
    with django_assert_num_queries(0):
        assert wallet_push.pushes_flush() == 0
        assert tasks.flush_wallet_pushes() == 0
    assert not WalletPush.objects.exists()


def test_pushes_are_written_in_two_queries_for_all_devices(
    fake, client, held, member, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(wallet_sync, "enqueue", lambda *args: None)
    for n in range(3):
        register(client, held, f"device-{n}", f"{n}" * 64)
    # The passes' UPDATE, the devices, one INSERT for all of them.
    with django_assert_num_queries(3):
        wallet_sync.passes_changed(member.pk)
    assert WalletPush.objects.count() == 3


def test_the_beat_flushes_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["flush-wallet-pushes"]
    assert entry == {"task": "rewards.tasks.flush_wallet_pushes", "schedule": 60}
