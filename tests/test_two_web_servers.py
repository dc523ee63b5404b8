"""Two real web servers behind one imaginary load balancer share everything a request leaves behind.

Two gunicorn processes run the production settings on the test database and one Redis; one browser
(one cookie jar) talks to both. Signed in on one, the session works on the other; the counter's
look-up limit is counted once for both; a burst of stamps for one member split between them gives
one stamp; a form sent to one and resent to the other is recorded once. Nothing a web process keeps
in its own memory decides any of it: web processes are stateless, so a shop can run several.

PostgreSQL and Redis only (as in CI): the servers must see the data this test commits, and SQLite
plus a per-process cache would prove nothing about several servers.
"""

import html
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.cookiejar import CookieJar
from urllib.parse import urlencode

import pytest
import redis
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.urls import reverse

from members.models import AuditEntry
from members.roles import Role
from rewards.models import LedgerEntry, MemberCard

from . import worker
from .factories import PASSWORD, MemberFactory, ShopFactory, StaffFactory, StampProgramFactory
from .test_production import ROOT, free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="several processes on one database: PostgreSQL"),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="a cache shared by several processes: REDIS_URL"),
    pytest.mark.usefixtures("ledger_reconciles"),
]

# Redis database numbers of the servers' cache and broker: apart from the ones this test process uses.
CACHE_DB, BROKER_DB = 7, 8
LOOKUPS_PER_MINUTE = 4
STAMP_RACE = 8
ALREADY_RECORDED = "Already recorded, nothing added twice"


def redis_keys(url: str, pattern: str) -> list[bytes]:
    client = redis.Redis.from_url(url)
    try:
        return client.keys(pattern)
    finally:
        client.close()


def server_env(tmp_path, cache_url: str, broker_url: str) -> dict[str, str]:
    """Production settings, as a deployment sets them, on this test's database and a Redis of their own."""
    unwanted = {"DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE", "EMAIL_URL", "SENTRY_DSN"}
    env = {k: v for k, v in os.environ.items() if k not in unwanted}
    env.update(
        DJANGO_SETTINGS_MODULE="loyalty_site.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        STATIC_ROOT=str(tmp_path / "static"),
        MEDIA_ROOT=str(tmp_path / "media"),
        DATABASE_URL=worker.test_database_url(),
        REDIS_URL=cache_url,
        # Tasks a request queues wait there unconsumed: no worker in this test.
        CELERY_BROKER_URL=broker_url,
        COUNTER_LOOKUPS_PER_MINUTE=str(LOOKUPS_PER_MINUTE),
    )
    return env


def wait_until_up(base: str, server: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "/health/", timeout=5) as answer:  # noqa: S310 - loopback only
                if answer.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None:
            raise AssertionError(f"the server at {base} exited with {server.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the server at {base} did not answer /health/ within {timeout} s")
        time.sleep(0.2)


class Browser:
    """One browser: one cookie jar, whichever server the balancer sends each request to."""

    def __init__(self):
        self.jar = CookieJar()

    def request(self, url: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, dict, str]:
        # An opener per request: threads share the jar (it has its own lock), not the opener.
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        body = urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, headers=headers or {})  # noqa: S310 - loopback only
        try:
            with opener.open(request, timeout=60) as answer:
                return answer.status, dict(answer.headers), answer.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), error.read().decode()

    def cookie(self, name: str) -> str:
        return next(cookie.value for cookie in self.jar if cookie.name == name)


def csrf_of(page: str) -> str:
    """The CSRF token htmx sends with every request from this page (base.html's hx-headers)."""
    headers = re.search(r"data-hx-headers='([^']*)'", page)
    return json.loads(html.unescape(headers.group(1)))["x-csrftoken"]


def hidden(page: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page).group(1))


def wait_for_a_fresh_minute(least_left: int = 12) -> None:
    """The look-up limit counts in fixed one-minute windows: start a burst with time to spare."""
    left = 60 - time.time() % 60
    if left < least_left:
        time.sleep(left + 0.5)


def test_two_web_servers_share_sessions_rate_limits_and_the_ledger(tmp_path):
    shop = ShopFactory()
    program = StampProgramFactory(
        shop=shop, name="Coffee card", stamps_needed=10, max_stamps_per_visit=1, min_minutes_between_visits=30
    )
    staff = StaffFactory(shop=shop, role=Role.STAFF, user__email="barista@example.com").user
    # The servers run the production password hasher (the tests' own is a fast MD5).
    hasher = PBKDF2PasswordHasher()
    staff.password = hasher.encode(PASSWORD, hasher.salt())
    staff.save(update_fields=["password"])
    assert staff.emailaddress_set.get().verified
    racer = MemberFactory(shop=shop, name="Mia Chen", email="mia@example.com")
    resent = MemberFactory(shop=shop, name="Leo Wang", email="leo@example.com")

    base_url = os.environ["REDIS_URL"]
    in_use = {worker.redis_db(base_url), worker.redis_db(os.environ.get("CELERY_BROKER_URL") or base_url)}
    assert not in_use & {CACHE_DB, BROKER_DB}, f"Redis databases {CACHE_DB} and {BROKER_DB} are this run's own"
    cache_url, broker_url = worker.redis_url(base_url, CACHE_DB), worker.redis_url(base_url, BROKER_DB)
    env = server_env(tmp_path, cache_url, broker_url)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT, env=env, check=True, timeout=120,
    )  # fmt: skip
    worker.flush_redis(cache_url)
    worker.flush_redis(broker_url)

    servers, logs, bases = [], [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = open(tmp_path / f"server-{name}.log", "w+")  # noqa: SIM115 - closed in finally
            logs.append(log)
            command = [sys.executable, "-m", "gunicorn", "loyalty_site.wsgi", "--bind", f"127.0.0.1:{port}",
                       "--workers", "1", "--threads", "2", "--graceful-timeout", "5"]  # fmt: skip
            servers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
            bases.append(f"http://127.0.0.1:{port}")
        for base, server in zip(bases, servers, strict=True):
            wait_until_up(base, server)
        a, b = bases
        browser = Browser()

        def panel_of(member):
            return reverse("rewards:counter_member", args=[shop.slug, member.public_id])

        # (a) Signed in on A, the counter opens on B: the session is in the shared cache and database.
        status, _headers, page = browser.request(a + reverse("account_login"))
        assert status == 200
        login = {"login": staff.email, "password": PASSWORD, "csrfmiddlewaretoken": hidden(page, "csrfmiddlewaretoken")}
        status, _headers, page = browser.request(a + reverse("account_login"), login)
        assert status == 200, page
        # cached_db: the session is in the database and in the Redis both servers read.
        assert redis_keys(cache_url, f"*{browser.cookie('sessionid')}"), "the session is not in the shared cache"
        status, _headers, page = browser.request(b + reverse("rewards:counter", args=[shop.slug]))
        assert status == 200, page
        assert 'id="counter-q"' in page, "B did not open the counter for the session made on A"

        # (b) The look-up limit is one count for the shop's staff member, whichever server answers.
        lookup = reverse("rewards:counter", args=[shop.slug]) + "?" + urlencode({"q": racer.email})
        wait_for_a_fresh_minute()
        for i in range(LOOKUPS_PER_MINUTE):
            status, _headers, page = browser.request(bases[i % 2] + lookup)
            assert status == 200, (i, status)
            assert racer.name in page
        for base in (a, b):
            status, headers, page = browser.request(base + lookup)
            assert status == 429, (base, status)
            assert 1 <= int(headers["Retry-After"]) <= 60
            assert "Too many look-ups" in page
        # The burst is written once in the audit trail, though both servers refused it.
        assert AuditEntry.objects.filter(shop=shop, action=AuditEntry.Action.LOOKUP_BURST).count() == 1

        # (c) Eight taps on "+1 stamp" at once, split between the servers: one visit, one stamp.
        status, _headers, panel = browser.request(a + panel_of(racer))
        assert status == 200
        csrf, found = csrf_of(panel), hidden(panel, "found")
        stamp_url = reverse("rewards:counter_stamp", args=[shop.slug, racer.public_id])
        htmx = {"HX-Request": "true", "X-CSRFToken": csrf}
        barrier = threading.Barrier(STAMP_RACE)
        results = [None] * STAMP_RACE

        def tap(i):
            form = {"program": program.public_id, "count": 1, "key": uuid.uuid4().hex, "found": found}
            barrier.wait(timeout=30)
            results[i] = browser.request(bases[i % 2] + stamp_url, form, htmx)

        threads = [threading.Thread(target=tap, args=(i,)) for i in range(STAMP_RACE)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
        statuses = sorted(result[0] for result in results if result)
        assert statuses == [200] + [409] * (STAMP_RACE - 1), statuses
        assert LedgerEntry.objects.filter(member=racer).count() == 1
        assert MemberCard.objects.get(member=racer, program=program).stamps == 1

        # (d) A form sent to A and sent again to B (a retry through the balancer) is recorded once.
        status, _headers, panel = browser.request(b + panel_of(resent))
        assert status == 200
        stamp_url = reverse("rewards:counter_stamp", args=[shop.slug, resent.public_id])
        form = {"program": program.public_id, "count": 1, "key": uuid.uuid4().hex, "found": hidden(panel, "found")}
        htmx = {"HX-Request": "true", "X-CSRFToken": csrf_of(panel)}
        first = browser.request(a + stamp_url, form, htmx)
        again = browser.request(b + stamp_url, form, htmx)
        assert (first[0], again[0]) == (200, 200)
        assert ALREADY_RECORDED not in first[2]
        assert ALREADY_RECORDED in again[2]
        assert LedgerEntry.objects.filter(member=resent, idempotency_key=form["key"]).count() == 1
        assert LedgerEntry.objects.filter(member=resent).count() == 1
        assert MemberCard.objects.get(member=resent, program=program).stamps == 1
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)
        for name, log in zip("ab", logs, strict=False):
            log.seek(0)
            # Shown by pytest when the test fails.
            print(f"--- server {name} ---\n{log.read()}")
            log.close()
        worker.flush_redis(cache_url)
        worker.flush_redis(broker_url)
