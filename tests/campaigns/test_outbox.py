from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from members.models import Member, Message
from members.outbox import message_queue, message_send, outbox_flush
from members.tokens import unsubscribe_token

from ..factories import MemberFactory


@pytest.fixture
def subscriber(world):
    return MemberFactory(shop=world.shop, email="mia@example.com", marketing_consent=True, language="zh-hant")


def queue(member, kind=Message.Kind.MARKETING, occasion="2026-11", on_commit=None):
    return message_queue(
        member=member, campaign="news", occasion=occasion, template="campaigns/email/test", kind=kind,
        context={"text": "Hello"},
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _template(settings, tmp_path):
    # A tiny template for these tests, beside the real ones.
    folder = tmp_path / "templates" / "campaigns" / "email"
    folder.mkdir(parents=True)
    (folder / "test_subject.txt").write_text("News from {{ shop.name }}")
    (folder / "test_body.txt").write_text("{{ text }} {{ unsubscribe_url|default:'' }}")
    (folder / "test_body.html").write_text("<p>{{ text }}</p>")
    # A new TEMPLATES value (not an edit in place) so Django resets its template engines.
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**engine, "DIRS": [tmp_path / "templates", *engine["DIRS"]]}]


def test_written_with_the_event_and_sent_after_commit(world, subscriber, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(subscriber)
        assert not mail.outbox  # nothing leaves inside the transaction
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    [sent] = mail.outbox
    assert sent.to == ["mia@example.com"]
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/u/" in sent.extra_headers["List-Unsubscribe"]


def test_at_most_one_per_campaign_member_and_occasion(world, subscriber):
    assert queue(subscriber) is not None
    assert queue(subscriber) is None
    assert queue(subscriber, occasion="2026-12") is not None
    assert Message.objects.count() == 2


def test_marketing_only_with_consent_transactional_always(world, subscriber):
    Member.objects.filter(pk=subscriber.pk).update(marketing_consent=False)
    subscriber.refresh_from_db()
    assert queue(subscriber) is None
    assert queue(subscriber, kind=Message.Kind.TRANSACTIONAL) is not None


def test_sending_twice_sends_once(world, subscriber):
    message = queue(subscriber)
    assert message_send(message.pk) is True
    assert message_send(message.pk) is False
    assert len(mail.outbox) == 1


def test_broker_down_the_event_succeeds_and_the_flush_sends_later(
    world, subscriber, django_capture_on_commit_callbacks
):
    broker_down = mock.patch("members.tasks.send_message.delay", side_effect=ConnectionError("broker down"))
    with broker_down, django_capture_on_commit_callbacks(execute=True):
        message = queue(subscriber)
    message.refresh_from_db()
    assert message.status == Message.Status.PENDING and not mail.outbox
    assert outbox_flush() == 1
    assert outbox_flush() == 0
    assert len(mail.outbox) == 1


def test_a_failure_is_recorded_and_retried_with_backoff(world, subscriber):
    message = queue(subscriber)
    with mock.patch("members.emails.EmailMultiAlternatives.send", side_effect=OSError("SMTP said no")):
        assert message_send(message.pk) is False
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (Message.Status.FAILED, 1, "SMTP said no")
    assert outbox_flush() == 0  # not due yet
    assert outbox_flush(now=timezone.now() + timedelta(minutes=3)) == 1
    message.refresh_from_db()
    assert message.status == Message.Status.SENT and message.last_error == ""


def test_a_send_interrupted_midway_is_not_resent(world, subscriber):
    message = queue(subscriber)
    Message.objects.filter(pk=message.pk).update(status=Message.Status.SENDING, next_attempt_at=timezone.now())
    assert outbox_flush(now=timezone.now() + timedelta(hours=1)) == 0
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED and "not resent" in message.last_error
    assert not mail.outbox


def test_unsubscribe_without_logging_in_by_one_click_post(world, subscriber):
    client = Client(enforce_csrf_checks=True)
    url = reverse("members:unsubscribe", args=[unsubscribe_token(subscriber)])
    page = client.get(url)
    assert page.status_code == 200 and "Alice" in page.content.decode()
    response = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert not Member.objects.get(pk=subscriber.pk).marketing_consent
    assert queue(Member.objects.get(pk=subscriber.pk), occasion="later") is None


@pytest.mark.parametrize("token", ["garbage", "altered"])
def test_a_forged_unsubscribe_link_is_404(world, subscriber, client, token):
    if token == "altered":
        token = unsubscribe_token(subscriber)[:-2] + "xx"
    assert client.post(reverse("members:unsubscribe", args=[token])).status_code == 404
    assert Member.objects.get(pk=subscriber.pk).marketing_consent


def test_a_message_that_cannot_be_rendered_records_why(world, subscriber):
    message = message_queue(
        member=subscriber, campaign="news", occasion="broken", template="campaigns/email/missing", kind="marketing"
    )
    assert message_send(message.pk) is False
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED and "missing" in message.last_error
