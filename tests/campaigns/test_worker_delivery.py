"""Real worker processes deliver queued e-mail through a real SMTP server, at most once.

The SMTP server is aiosmtpd on 127.0.0.1, started by the test; the worker
process finds it through EMAIL_URL, which it reads from the environment.
"""

import asyncio
import contextlib
import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.utils import timezone

from loyalty_site.celery import app
from members.models import Invitation, Message
from members.outbox import message_queue, outbox_flush
from members.tasks import flush_outbox, purge_expired_invitations, send_message

from ..factories import InvitationFactory, MemberFactory, ShopFactory
from ..worker import ROOT, celery_worker, wait_for
from ..worker import test_database_url as shared_database_url  # not named test_*: no test to collect

CAMPAIGN_CONTEXT = {"kind": "announcement", "subject": "News", "body": "Hello", "stamps": 0, "points": 0, "voucher": ""}
CAMPAIGN_EMAIL = {"template": "campaigns/email/campaign", "kind": Message.Kind.MARKETING, "context": CAMPAIGN_CONTEXT}


@dataclass(frozen=True)
class Received:
    to: tuple[str, ...]
    message_id: str
    subject: str


class Recorder:
    """An SMTP handler that keeps what arrived (DATA began) and what it accepted (answered 250)."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.lock = threading.Lock()
        self.arriving: list[Received] = []
        self.accepted: list[Received] = []
        self.arrival = threading.Condition(self.lock)

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content)
        received = Received(tuple(envelope.rcpt_tos), str(parsed["Message-ID"]), str(parsed["Subject"]))
        with self.arrival:
            self.arriving.append(received)
            self.arrival.notify_all()
        if self.delay:
            # Cancelled, and so never accepted, if the client goes away meanwhile.
            await asyncio.sleep(self.delay)
        with self.lock:
            self.accepted.append(received)
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        with self.lock:
            return [to for received in self.accepted for to in received.to]

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def smtp_server(monkeypatch, delay: float = 0.0):
    """An SMTP server on 127.0.0.1 that worker processes started from now on send to."""
    recorder = Recorder(delay)
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    # Read by the worker's settings at start-up; this process's settings are already loaded.
    monkeypatch.setenv("EMAIL_URL", f"smtp://127.0.0.1:{port}")
    try:
        yield recorder
    finally:
        controller.stop()


@contextlib.contextmanager
def worker_process(queue: str, log_dir):
    """Like tests.worker.celery_worker, on a given queue, yielding the process so a test can kill it."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": shared_database_url(),
        "CELERY_BROKER_URL": app.conf.broker_url,
    }
    log = open(log_dir / f"worker-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "loyalty_site", "worker", "--pool", "solo", "-Q", queue,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        yield process
    finally:
        app.conf.task_always_eager = eager
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.seek(0)
        output = log.read()
        log.close()
        print(f"--- worker on {queue}, exit {process.returncode} ---\n{output}")  # shown when the test fails


def queue_messages(shop, count: int) -> list[Message]:
    """Queue marketing messages as the campaigns do, holding back the after-commit
    enqueue (eager here: it would send in this process) so each test sends them its own way."""
    members = [MemberFactory(shop=shop, email=f"reader{i}@example.com", marketing_consent=True) for i in range(count)]
    with mock.patch("members.outbox.enqueue") as enqueue:
        messages = [
            message_queue(member=member, campaign="news", occasion="2026-05", **CAMPAIGN_EMAIL) for member in members
        ]
    assert all(messages) and enqueue.call_count == count
    return messages


def statuses() -> dict[str, str]:
    return dict(Message.objects.values_list("to_email", "status"))


@pytest.mark.django_db(transaction=True)
def test_each_message_sent_twice_to_a_worker_is_delivered_once(monkeypatch):
    shop = ShopFactory()
    messages = queue_messages(shop, 5)
    # Run last by the same one-at-a-time worker: once it is done, every send before it is too.
    InvitationFactory(shop=shop, email="sentinel@example.com", expires_at=timezone.now() - timedelta(days=1))

    with smtp_server(monkeypatch) as smtp, celery_worker() as queue:
        for _ in range(2):
            for message in messages:
                send_message.apply_async(args=[message.pk], queue=queue)
        time.sleep(0.01)  # the filesystem broker orders by the millisecond, then at random
        purge_expired_invitations.apply_async(queue=queue)
        done = wait_for(lambda: not Invitation.objects.exists(), timeout=30)

    assert done, "the worker did not run the tasks within 30 s"
    recipients = smtp.recipients()
    assert sorted(recipients) == sorted(message.to_email for message in messages)
    assert len(set(recipients)) == len(recipients) == smtp.count() == 5
    with smtp.lock:
        assert {received.subject for received in smtp.accepted} == {"News"}
        assert len({received.message_id for received in smtp.accepted}) == 5
    assert set(statuses().values()) == {Message.Status.SENT}
    # Only one of the two runs for each message claimed it.
    assert set(Message.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_leaves_no_duplicate(monkeypatch, tmp_path):
    shop = ShopFactory()
    messages = queue_messages(shop, 8)
    queue = f"test-killed-{os.getpid()}-{time.monotonic_ns()}"

    with smtp_server(monkeypatch, delay=0.5) as smtp:
        with worker_process(queue, tmp_path) as first:
            flush_outbox.apply_async(queue=queue)
            # Two delivered, and the third one in the middle of its DATA when the worker dies: the
            # server never answers 250, so it is not delivered. (Had the worker died after the 250 but
            # before marking the row sent, the message would be delivered and still end 'failed'.
            # Either way the row is never sent again: at most once, never a duplicate.)
            with smtp.arrival:
                in_flight = smtp.arrival.wait_for(lambda: len(smtp.arriving) >= 3, timeout=30)
                if in_flight:
                    first.send_signal(signal.SIGKILL)
            assert in_flight, "the first worker did not get to the third message within 30 s"
            first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
        with smtp.lock:
            [interrupted_to] = smtp.arriving[2].to
        assert smtp.count() == 2
        assert Message.objects.get(to_email=interrupted_to).status == Message.Status.SENDING

        with worker_process(queue, tmp_path):
            flush_outbox.apply_async(queue=queue)
            done = wait_for(lambda: Message.objects.filter(status=Message.Status.SENT).count() == 7, timeout=30)
        assert done, f"the second worker did not send the rest within 30 s: {statuses()}"
        time.sleep(0.2)  # anything late would reach the server now

    # An hour later the flush gives up on the interrupted send rather than risk a duplicate.
    assert outbox_flush(now=timezone.now() + timedelta(hours=1)) == 0
    assert outbox_flush(now=timezone.now() + timedelta(hours=2)) == 0
    assert not mail.outbox

    recipients = smtp.recipients()
    assert len(recipients) == len(set(recipients)) == 7, recipients
    assert interrupted_to not in recipients
    interrupted = Message.objects.get(to_email=interrupted_to)
    assert interrupted.status == Message.Status.FAILED
    assert interrupted.last_error.startswith("Interrupted while sending")
    sent = Message.objects.filter(status=Message.Status.SENT)
    assert set(sent.values_list("to_email", flat=True)) == set(recipients)
    assert Message.objects.count() == len(messages) == sent.count() + 1
