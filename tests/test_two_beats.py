"""A second beat started by mistake sends every task twice, and still nothing is given or sent twice.

Two real ``celery beat`` processes send the real birthday, win-back and outbox tasks every second or
two (tests/beat_settings.py) to two real workers, on the test database and a Redis database of
their own. Every member due a birthday gift or a win-back gets it once, with one reach and at most
one message, and every message is e-mailed once: what the campaigns did is found in the database,
not remembered by a process, so running a task again (or twice at once) does nothing.

PostgreSQL and Redis only (as in CI): other processes must see the data this test commits.
"""

import contextlib
import os
import re
import secrets
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import pytest
from django.db import connection, transaction
from django.utils import timezone

from campaigns.audience import next_birthday
from campaigns.models import Campaign, Reach
from members.models import Member, Message
from rewards.models import Voucher

from . import worker
from .factories import CampaignFactory, MemberFactory, ShopFactory
from .test_production import ROOT

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="several processes on one database: PostgreSQL"),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="a broker shared by several processes: REDIS_URL"),
    pytest.mark.usefixtures("ledger_reconciles"),
]

# The Redis database of these processes' broker and cache: apart from the ones this test process uses.
BROKER_DB = 9
CROWD = 30
BIRTHDAY_TASK = "campaigns.tasks.run_birthdays"
WINBACK_TASK = "campaigns.tasks.run_winback"
# Cities first, so the shop looks like one; any zone will do.
CITIES = ["Asia/Taipei", "Europe/London", "America/New_York", "Asia/Kolkata", "America/Los_Angeles", "Pacific/Auckland"]


def daytime_zone() -> ZoneInfo:
    """A time zone where it is now between 10:00 and 19:59: inside the campaigns' daytime (9 to 21)
    for the whole test, whenever it runs."""
    now = datetime.now(UTC)
    for name in [*CITIES, *sorted(available_timezones())]:
        if 10 <= now.astimezone(ZoneInfo(name)).hour <= 19:
            return ZoneInfo(name)
    raise AssertionError("no time zone is in its daytime now")


def born(day: date) -> date:
    """A birthday on ``day``'s month and day (1992 is a leap year: 29 February exists)."""
    return date(1992, day.month, day.day)


def sends(log: Path, entry: str) -> int:
    """How many times a beat's log says it sent the schedule entry."""
    return log.read_text(errors="replace").count(f"Sending due task {entry} (")


def runs(logs: list[Path], task: str) -> list[int]:
    """What each run of ``task`` the workers finished returned, from their logs."""
    pattern = re.compile(rf"Task {re.escape(task)}\[[^\]]+\] succeeded in [0-9.e-]+s: (\d+)")
    return [int(n) for log in logs for n in pattern.findall(log.read_text(errors="replace"))]


def in_flight(log: Path, task: str) -> int:
    """How many runs of ``task`` the worker has taken and not finished, from its log."""
    text = log.read_text(errors="replace")
    taken = re.findall(rf"Task {re.escape(task)}\[[^\]]+\] received", text)
    finished = re.findall(rf"Task {re.escape(task)}\[[^\]]+\] (?:succeeded|failed|raised)", text)
    return len(taken) - len(finished)


def emails_to(mail_dir: Path) -> list[str]:
    """The recipient of every e-mail the file backend wrote (a file may hold several, one per line
    of dashes between them)."""
    recipients = []
    for path in mail_dir.glob("*.log"):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                recipients.append(message_from_bytes(chunk.strip())["To"])
    return recipients


def test_two_beats_give_each_birthday_and_win_back_once_and_send_each_message_once(tmp_path):
    tz = daytime_zone()
    shop = ShopFactory(time_zone=tz.key)
    today = timezone.localtime(timezone.now(), tz).date()
    birthday = CampaignFactory(
        shop=shop, kind=Campaign.Kind.BIRTHDAY, name="Birthday cake", gift="voucher", voucher_title="Birthday cake",
        days_before=7,
    )  # fmt: skip
    winback = CampaignFactory(
        shop=shop, kind=Campaign.Kind.WINBACK, name="We miss you", gift="points", gift_points=25, days_away=30
    )

    def member(name, birthday=None, *, consent=True, email=True, **fields):
        return MemberFactory(
            shop=shop, name=name, birthday=birthday, marketing_consent=consent,
            email=f"{name.lower()}@example.com" if email else "", **fields,
        )  # fmt: skip

    # Due a birthday gift: a birthday from today to a week ahead, in the shop's calendar.
    birthdays = [
        member("Ann", born(today)),
        member("Ben", born(today + timedelta(days=1))),
        member("Cleo", born(today + timedelta(days=3))),
        member("Dan", born(today + timedelta(days=7))),
        member("Eve", born(today + timedelta(days=2)), consent=False),  # a gift, but no news by e-mail
        member("Finn", born(today + timedelta(days=5)), email=False),  # a gift, and no address
        # A crowd for the two runs to race over.
        *(member(f"Guest{i}", born(today + timedelta(days=i % 8)), consent=False) for i in range(CROWD)),
    ]
    # Not due: the birthday was yesterday, or is weeks away.
    not_due = [member("Gus", born(today - timedelta(days=1))), member("Hana", born(today + timedelta(days=20)))]
    # Lapsed: no visit for six weeks.
    away = timezone.now() - timedelta(days=45)
    lapsed = [member("Ivy", joined_at=away, last_visit_at=away), member("Jo", joined_at=away - timedelta(days=9))]
    written_to = {m.email for m in [*birthdays, *lapsed] if m.email and m.marketing_consent}

    base_url = os.environ["REDIS_URL"]
    in_use = {worker.redis_db(base_url), worker.redis_db(os.environ.get("CELERY_BROKER_URL") or base_url)}
    assert BROKER_DB not in in_use, f"Redis database {BROKER_DB} is this run's own"
    broker_url = worker.redis_url(base_url, BROKER_DB)
    worker.flush_redis(broker_url)
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    unwanted = {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "EMAIL_URL", "SENTRY_DSN"}
    env = {k: v for k, v in os.environ.items() if k not in unwanted}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.beat_settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=worker.test_database_url(),
        CELERY_BROKER_URL=broker_url,
        REDIS_URL=broker_url,
        TEST_EMAIL_DIR=str(mail_dir),
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    celery = [sys.executable, "-m", "celery", "-A", "loyalty_site"]
    commands = {
        f"worker-{n}": [*celery, "worker", "--pool", "solo", "-n", f"twobeats{n}@%h", "--without-gossip",
                        "--without-mingle", "--without-heartbeat", "-l", "info"]
        for n in (1, 2)
    }  # fmt: skip
    for name in ("beat-a", "beat-b"):
        commands[name] = [*celery, "beat", "--schedule", str(tmp_path / f"{name}-schedule"), "--max-interval", "1",
                          "-l", "info"]  # fmt: skip
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    worker_logs = [logs["worker-1"], logs["worker-2"]]
    processes = {}

    def wait_for(condition, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if dead := {name: p.returncode for name, p in processes.items() if p.poll() is not None}:
                raise AssertionError(f"{dead} exited while waiting for {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s")
            time.sleep(0.2)

    def stop(names) -> None:
        for name in names:
            processes[name].terminate()
        for name in names:
            try:
                processes[name].wait(timeout=20)
            except subprocess.TimeoutExpired:
                processes[name].kill()
                processes[name].wait(timeout=5)

    try:
        # The rows of the members due a birthday are held: each worker's first birthday run waits on
        # them, until both runs (one from each beat) are in flight at once; let go, they race member by
        # member.
        with transaction.atomic():
            held = Member.objects.select_for_update().filter(pk__in=[m.pk for m in birthdays])
            assert len(held) == len(birthdays)
            for name, command in commands.items():
                with open(logs[name], "w") as log:
                    processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            wait_for(lambda: all(in_flight(log, BIRTHDAY_TASK) for log in worker_logs), "a birthday run in each worker")

        def all_given():
            given = Reach.objects.filter(member__in=[*birthdays, *lapsed]).values("member").distinct().count()
            waiting = Message.objects.exclude(status=Message.Status.SENT).exists()
            return given == len(birthdays) + len(lapsed) and not waiting

        wait_for(all_given, "gift and message for everyone due")
        # Then more runs, from both beats, that find everything done.
        done_at = len(runs(worker_logs, BIRTHDAY_TASK))
        wait_for(
            lambda: (
                min(sends(logs["beat-a"], "birthday-gifts"), sends(logs["beat-b"], "birthday-gifts")) >= 3
                and len(runs(worker_logs, BIRTHDAY_TASK)) >= done_at + 4
                and len(runs(worker_logs, WINBACK_TASK)) >= 4
            ),
            "three birthday sends by each beat and more runs after the gifts",
        )
        stop(["beat-a", "beat-b"])
        sent = {name: sends(logs[name], "birthday-gifts") for name in ("beat-a", "beat-b")}
        # What the beats sent is run before the workers stop (a beat stopped mid-send may lose one).
        with contextlib.suppress(AssertionError):
            wait_for(lambda: len(runs(worker_logs, BIRTHDAY_TASK)) >= sum(sent.values()), "queue drained", 20)
        stop(["worker-1", "worker-2"])
    finally:
        stop([name for name, process in processes.items() if process.poll() is None])
        worker.flush_redis(broker_url)
        for name, log in logs.items():
            if log.exists():
                # Shown by pytest when the test fails.
                print(f"--- {name} ---\n{log.read_text(errors='replace')}")

    # Both beats sent the birthday task several times, and the workers ran what each sent.
    birthday_runs = runs(worker_logs, BIRTHDAY_TASK)
    assert min(sent.values()) >= 3, sent
    assert len(birthday_runs) >= sum(sent.values()) - 2 > max(sent.values()), (sent, len(birthday_runs))
    # Many runs, and together they reached each member due once: later runs found it done.
    assert sum(birthday_runs) == len(birthdays), birthday_runs
    assert sum(runs(worker_logs, WINBACK_TASK)) == len(lapsed)
    for log in worker_logs:
        assert "raised unexpected" not in log.read_text(errors="replace")
    for name in ("beat-a", "beat-b"):
        assert "Message Error" not in logs[name].read_text(errors="replace")

    for m in birthdays:
        occasion = str(next_birthday(m.birthday, today).year)
        reach = Reach.objects.get(member=m, campaign=birthday)  # exactly one
        assert reach.occasion == occasion and reach.voucher is not None, m.name
        assert Voucher.objects.filter(member=m).count() == 1, m.name
        messages = Message.objects.filter(member=m, campaign=str(birthday.public_id), occasion=occasion)
        assert messages.count() == (1 if m.email in written_to else 0), m.name
        assert Message.objects.filter(member=m).count() == messages.count(), m.name
    for m in lapsed:
        m.refresh_from_db()
        assert Reach.objects.filter(member=m, campaign=winback).count() == 1, m.name
        assert m.points == 25, m.name
        assert Message.objects.filter(member=m).count() == 1, m.name
    for m in not_due:
        assert not Reach.objects.filter(member=m).exists(), m.name
        assert not Voucher.objects.filter(member=m).exists(), m.name
    # Each message claimed once and e-mailed once.
    assert set(Message.objects.values_list("status", "attempts")) == {(Message.Status.SENT, 1)}
    recipients = emails_to(mail_dir)
    assert sorted(recipients) == sorted(written_to), recipients
