"""The broker is down: customers still join and staff still stamp, through the
same pages they use; what should be e-mailed waits in the outbox and goes out
once, when the flush runs after the broker is back.

Nothing is mocked on the way to the broker: eager mode is off and Celery
really tries to publish to a port where nothing listens (127.0.0.1:1).
"""

import logging
import time

import pytest
from django.core import mail
from django.urls import reverse

from loyalty_site.celery import app
from members.models import Member, Message
from members.outbox import outbox_flush
from rewards.models import LedgerEntry, MemberCard

DEAD_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture
def broker_down(monkeypatch):
    """Eager mode off and a broker that refuses connections, failing fast.

    The app caches its broker connection pool and producer pool (another test
    in this process may already have published to the real broker), so fresh
    ones are made for the dead URL and the cached ones come back afterwards.
    """
    # The project's own publish retry policy (settings) is what keeps this fast.
    dead = {"task_always_eager": False, "broker_url": DEAD_BROKER}
    saved = {name: app.conf[name] for name in dead}
    app.conf.update(dead)
    # Celery reads the broker URL from this variable before its own setting.
    monkeypatch.setenv("CELERY_BROKER_URL", DEAD_BROKER)
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    try:
        yield
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.update(saved)


def test_join_and_stamp_work_while_the_broker_is_down_and_the_flush_sends_once(
    world, program, client, broker_down, django_capture_on_commit_callbacks, caplog
):
    assert app.conf.broker_url == DEAD_BROKER and not app.conf.task_always_eager
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="members.outbox"):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = client.post(
                reverse("members:join", args=[world.shop.slug]),
                {"name": "Mia Chen", "email": "mia@example.com", "marketing_consent": "on"},
            )
        assert response.status_code == 302
        member = Member.objects.get(shop=world.shop, email="mia@example.com")
        card_link = Message.objects.get(member=member, campaign="card_link")
        assert card_link.status == Message.Status.PENDING and card_link.attempts == 0
        # The on-commit enqueue really ran, hit the dead broker, and was caught.
        assert callbacks
        warning = f"Broker unavailable; members.tasks.send_message({card_link.pk}) not queued, the beat will catch up"
        assert warning in caplog.messages

        carol = world.client(world.carol)
        with django_capture_on_commit_callbacks(execute=True):
            response = carol.post(
                reverse("rewards:counter_stamp", args=[world.shop.slug, member.public_id]),
                {"program": program.public_id, "count": 1, "key": "broker-down-1"},
                headers={"HX-Request": "true"},
            )
        assert response.status_code == 200
        assert "+1 stamp added" in response.content.decode()
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"publishing to a dead broker took {elapsed:.1f} s"
    assert MemberCard.objects.get(member=member, program=program).stamps == 1
    assert LedgerEntry.objects.filter(member=member).count() == 1

    pending = Message.objects.filter(status=Message.Status.PENDING)
    assert card_link.pk in set(pending.values_list("pk", flat=True))
    waiting = pending.count()
    assert not mail.outbox

    # The broker is back (for the outbox it is enough that beat runs the flush).
    assert outbox_flush() == waiting
    assert len(mail.outbox) == waiting
    assert "mia@example.com" in [to for sent in mail.outbox for to in sent.to]
    assert not Message.objects.exclude(status=Message.Status.SENT).exists()
    assert outbox_flush() == 0
    assert len(mail.outbox) == waiting


def test_inviting_staff_works_while_the_broker_is_down(world, broker_down, django_capture_on_commit_callbacks):
    from members.models import Invitation

    with django_capture_on_commit_callbacks(execute=True):
        response = world.client(world.alice).post(
            reverse("members:staff_invite", args=[world.shop.slug]), {"email": "new@example.com", "role": "staff"}
        )
    assert response.status_code == 302
    assert Invitation.objects.filter(shop=world.shop, email="new@example.com").exists()
