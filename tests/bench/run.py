"""The benchmark, run by hand (never in CI): python3 dev.py bench [--members N] [--seconds S].

1. Makes the benchmark shops if they are missing (``manage.py generate_shop``: N members, default
   1,000,000, and a 1,000-member shop beside it) in the database DATABASE_URL names, which should
   be PostgreSQL and should not be one you care about: the benchmark stamps, redeems and joins.
2. Starts gunicorn on loopback with production settings and drives it with wrk, one request kind
   after another, the bare view first: req/s, p50 and p99, and SQL queries per request.
3. Times every staff and owner page in the big shop against the small one, in this process
   (server time, median of a few requests, with its SQL query count), and the beat tasks on the
   big shop (time and peak Python memory).

It prints Markdown for docs/benchmarks.md. Everything binds to 127.0.0.1 and stops by itself.
"""

import argparse
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[2]
# Keys and addresses of this run: a second run must not replay the first one's idempotency keys.
RUN = format(int(time.time()), "x")
SECRET = "benchmark-only-secret-key-not-for-production-7c1e9a3f5b2d8e4a"
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": SECRET,
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
    "SECURE_HSTS_SECONDS": "0",
    "LOG_LEVEL": "WARNING",
    "JOINS_PER_IP_PER_HOUR": "1000000",
    "JOINS_PER_SHOP_PER_HOUR": "1000000",
}


def setup_django(static_root: str) -> None:
    os.environ.update(PRODUCTION, STATIC_ROOT=static_root)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    # Production serves hashed static files (whitenoise's manifest); collect them as a deploy would.
    call_command("collectstatic", interactive=False, verbosity=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Shops:
    """The two shops, their staff sessions and the members, vouchers and links the requests use."""

    def __init__(self, slug: str, members: int, seed: int):
        from django.core.management import call_command
        from django.test import Client

        from members.models import Shop

        if not Shop.objects.filter(slug=slug).exists():
            call_command("generate_shop", members=members, slug=slug, seed=seed)
        self.big = Shop.objects.get(slug=slug)
        self.small = Shop.objects.get(slug=f"{slug}-1k")
        self.rolled_up = {}
        for shop in (self.big, self.small):
            self.rolled_up[shop.slug] = roll_up(shop)
        self.clients = {}
        self.cookies = {}
        for shop in (self.big, self.small):
            owner = shop.staff.select_related("user").get(role="owner").user
            client = Client(SERVER_NAME="127.0.0.1")
            client.force_login(owner)
            self.clients[shop.slug] = client
            self.cookies[shop.slug] = client.cookies["sessionid"].value

    def sample(self, shop, count: int = 2000, offset: int = 0):
        """Members spread over the shop, by id, each with what the requests need; another ``offset``
        picks others (a run half an hour after the last must not stamp the same members too soon)."""
        from members.models import Member

        step = max(shop.members.count() // count, 1)
        ids = list(Member.objects.filter(shop=shop).values_list("pk", flat=True)[offset % step :: step])
        return list(Member.objects.filter(pk__in=ids[:count]).order_by("pk"))


def wrk(url: str, *, seconds: int, connections: int, cookie: str, script: str | None, csrf: str) -> dict:
    headers = ["-H", f"Cookie: sessionid={cookie}; csrftoken={csrf}", "-H", f"X-CSRFToken: {csrf}"]
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *headers]
    if script:
        command += ["-s", script]
    output = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))

    def percentile(p):
        found = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        value, unit = float(found.group(1)), found.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    total = int(re.search(r"(\d+) requests in", output).group(1))
    errors = int(non_2xx.group(1)) if non_2xx else 0
    return {"rate": rate, "p50": percentile(50), "p99": percentile(99), "errors": errors, "total": total}


def lua(requests: list[tuple[str, str, str]], directory: Path, name: str) -> str:
    """A wrk script that sends each (method, path, body) in turn; '{n}' in a body becomes a number
    no other request of the run uses (idempotency keys, e-mail addresses)."""
    rows = ",\n".join(f'{{"{m}", "{p}", "{b}"}}' for m, p, b in requests)
    path = directory / f"{name}.lua"
    path.write_text(
        f"""
local requests = {{
{rows}
}}
local counter = 0
local thread_id = 0
local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end
function request()
  counter = counter + 1
  local item = requests[(counter * 7 + thread_id) % #requests + 1]
  local body = string.gsub(item[3], "{{n}}", thread_id .. "x" .. counter)
  -- wrk.format takes the headers given here instead of -H's: start from those (cookies, CSRF).
  local headers = {{}}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["HX-Request"] = "true"
  if item[1] == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return wrk.format("POST", item[2], headers, body)
  end
  return wrk.format("GET", item[2], headers, nil)
end
"""
    )
    return str(path)


def queries_of(client, warm_up: tuple[str, str, str], measured: tuple[str, str, str]) -> int:
    """SQL queries of one request, counted after another request of the kind (as in a running
    server, whose processes hold the shop's settings after their first request)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def send(method: str, path: str, body: str) -> None:
        if method == "POST":
            body = body.replace("{n}", f"q{time.monotonic_ns()}")
            client.post(path, body, content_type="application/x-www-form-urlencoded", HTTP_HX_REQUEST="true")
        else:
            client.get(path, HTTP_HX_REQUEST="true")

    send(*warm_up)
    with CaptureQueriesContext(connection) as captured:
        send(*measured)
    return len(captured)


def counter_requests(shops: Shops) -> dict[str, list[tuple[str, str, str]]]:
    from urllib.parse import quote

    from members.tokens import card_token, member_qr_payload
    from rewards.models import PointsRule, StampProgram, Voucher

    shop = shops.big
    base = f"/s/{shop.slug}"
    members = shops.sample(shop, offset=int(RUN, 16) // 60)  # another set of members each minute
    program = StampProgram.objects.for_shop(shop).first()
    rule = PointsRule.objects.get(shop=shop)
    vouchers = list(
        Voucher.objects.filter(shop=shop, status=Voucher.Status.ISSUED, expires_at__gt=shop_now())
        .select_related("member")
        .order_by("pk")[:3000]
    )
    rich = [m for m in members if m.points >= 2 * rule.bill_points][:1500] or members
    counter = f"{base}/counter/"
    return {
        "look-up by QR payload": [("GET", f"{counter}?q={quote(member_qr_payload(m))}", "") for m in members],
        "look-up by member code": [("GET", f"{counter}?q={m.code}", "") for m in members],
        "look-up by phone": [("GET", f"{counter}?q={quote(m.phone)}", "") for m in members],
        "look-up by e-mail": [("GET", f"{counter}?q={quote(m.email)}", "") for m in members],
        "look-up by part of a name": [("GET", f"{counter}?q={quote(m.name.split()[-1][:4])}", "") for m in members],
        "+1 stamp": [
            ("POST", f"{counter}m/{m.public_id}/stamp/", f"program={program.public_id}&count=1&key=b{RUN}{{n}}")
            for m in members
        ],
        "voucher redeem": [
            ("POST", f"{counter}m/{v.member.public_id}/redeem/", f"voucher={v.public_id}&confirmed=1&key=b{RUN}{{n}}")
            for v in vouchers
        ],
        "purchase paying with points": [
            (
                "POST",
                f"{counter}m/{m.public_id}/purchase/",
                f"amount=300&pay_points={rule.bill_points}&confirmed=1&key=b{RUN}{{n}}",
            )
            for m in rich
        ],
        "card page": [("GET", f"/c/{card_token(m)}/", "") for m in members[:500]],
        "join page": [("GET", f"/j/{shop.slug}/", "")],
        "join (POST)": [("POST", f"/j/{shop.slug}/", f"name=Bench+Joiner&email=join{RUN}{{n}}%40bench.example")],
    }


def roll_up(shop) -> float | None:
    """The insights' days of the last 200 days, counted once (seconds taken; None: already there)."""
    from datetime import timedelta

    from campaigns.insights import rollup
    from campaigns.models import ShopDay

    if ShopDay.objects.filter(shop=shop).exists():
        return None
    started = time.perf_counter()
    rollup.backfill(shop, first=rollup.local_day(shop, shop_now()) - timedelta(days=200))
    return time.perf_counter() - started


def page_requests(shop, members) -> dict[str, str]:
    from campaigns.models import Campaign

    base = f"/s/{shop.slug}"
    pages = {
        "shop home": f"{base}/",
        "members list": f"{base}/members/",
        "members search": f"{base}/members/?q=Chen",
        "member page": f"{base}/members/{members[len(members) // 2].public_id}/",
        "counter look-up by name": f"{base}/counter/?q=Park",
        "campaign list": f"{base}/campaigns/",
        "message list": f"{base}/messages/",
        "stamp cards": f"{base}/cards/",
        "points settings": f"{base}/points/",
        "tier settings": f"{base}/tiers/",
        "reward catalogue": f"{base}/rewards/",
        "staff": f"{base}/staff/",
        "insights overview": f"{base}/insights/",
        "insights overview, 90 days": f"{base}/insights/?period=90",
        "insights by month": f"{base}/insights/?by=month",
        "insights customers": f"{base}/insights/customers/",
        "insights at-risk list": f"{base}/insights/customers/at_risk/",
        "insights programme": f"{base}/insights/programme/",
        "insights staff and flags": f"{base}/insights/staff/",
    }
    for campaign in Campaign.objects.filter(shop=shop).order_by("kind"):
        pages[f"campaign: {campaign.get_kind_display().lower()}"] = f"{base}/campaigns/{campaign.public_id}/"
    return pages


def shop_now():
    from django.utils import timezone

    return timezone.now()


def server_time(client, path: str, repeat: int = 5) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    status = 0
    with CaptureQueriesContext(connection) as captured:
        for _ in range(repeat):
            started = time.perf_counter()
            status = client.get(path).status_code
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), len(captured) // repeat, status


def daytime(shop):
    """The latest moment, not after now, in the shop's daytime (birthdays and win-back send only from
    9:00 to 21:00 there): now, or 20:30 of the shop's day before."""
    from datetime import datetime, time, timedelta

    from django.utils import timezone

    now = timezone.now()
    local = timezone.localtime(now, shop.tz)
    if 9 <= local.hour < 21:
        return now
    day = local.date() - timedelta(days=1 if local.hour < 9 else 0)
    return datetime.combine(day, time(20, 30), tzinfo=shop.tz)


def beat_tasks(shop) -> list[tuple[str, float, float]]:
    from campaigns import services as campaigns
    from campaigns.insights import rollup
    from rewards import services as rewards

    at = daytime(shop)
    tasks = [
        ("voucher expiry", rewards.vouchers_expire),
        ("tier review", rewards.tiers_review),
        ("trial reminders", lambda: rewards.trial_reminders(now=shop_now())),
        ("points expiry", rewards.points_expire),
        ("birthdays", lambda: campaigns.birthdays_run(now=at)),
        ("win-back", lambda: campaigns.winback_run(now=at)),
        ("voucher reminders", campaigns.voucher_reminders_run),
        ("campaign figures", campaigns.figures_refresh_due),
        ("insights nightly run", lambda: rollup.roll_up(shop)),
    ]
    results = []
    for name, task in tasks:
        tracemalloc.start()
        started = time.perf_counter()
        task()
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        results.append((name, elapsed, peak))
    return results


def machine() -> str:
    from django.db import connection

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version") if connection.vendor == "postgresql" else cursor.execute("SELECT 1")
        database = f"PostgreSQL {cursor.fetchone()[0]}" if connection.vendor == "postgresql" else connection.vendor
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // 2**20
    return f"{cpu}, {os.cpu_count()} cores, {memory} GiB; Python {platform.python_version()}; {database}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--slug", default="bench")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--seconds", type=int, default=10, help="per request kind")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--skip-tasks", action="store_true", help="do not run the beat tasks on the big shop")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    static_root = tempfile.mkdtemp(prefix="bench-static-")
    setup_django(static_root)
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print("Point DATABASE_URL at a PostgreSQL database made for the benchmark.", file=sys.stderr)
        return 2
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    shops = Shops(options.slug, options.members, options.seed)
    print(f"# Benchmark, {time.strftime('%Y-%m-%d')}\n\nMachine: {machine()}.")
    for slug, seconds in shops.rolled_up.items():
        if seconds is not None:
            print(f"Insights backfill of 200 days for {slug}: {seconds:.1f} s.")
    print(f"Shops: {shops.big.members.count():,} members ({shops.big.ledger.count():,} ledger rows) and "
          f"{shops.small.members.count():,}. gunicorn -w {options.workers} (sync), wrk -t2 -c{options.connections} "
          f"-d{options.seconds}s, on one machine.\n")  # fmt: skip

    port = free_port()
    env = {**os.environ, **PRODUCTION, "STATIC_ROOT": static_root, "SITE_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "loyalty_site.wsgi", "-b", f"127.0.0.1:{port}",
         "-w", str(options.workers), "--access-logfile", "-", "--access-logformat", "", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                urlopen(f"http://127.0.0.1:{port}/health/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        csrf = "b" * 32
        cookie = shops.cookies[shops.big.slug]
        client = shops.clients[shops.big.slug]
        client.cookies["csrftoken"] = csrf
        url = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory() as directory:
            rows = []
            bare = wrk(f"{url}/health/", seconds=options.seconds, connections=options.connections, cookie=cookie,
                       script=None, csrf=csrf)  # fmt: skip
            rows.append(('bare view ("ok")', bare, 0))
            for name, requests in counter_requests(shops).items():
                # Counted first, on two requests wrk then leaves alone (a member stamped twice
                # within the card's minimum time would count the refusal instead).
                # (A kind of one request, such as a join, makes a new one each time from {n}.)
                counted, rest = (requests[:2], requests[2:]) if len(requests) > 2 else (requests * 2, requests)
                queries = queries_of(client, *counted)
                script = lua(rest, Path(directory), re.sub(r"\W+", "_", name))
                result = wrk(url, seconds=options.seconds, connections=options.connections, cookie=cookie,
                             script=script, csrf=csrf)  # fmt: skip
                rows.append((name, result, queries))
        print("## Requests through gunicorn\n")
        print("| request | req/s | × bare | p50 ms | p99 ms | refused or failed | SQL queries |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, result, queries in rows:
            ratio = result["rate"] / bare["rate"]
            print(f"| {name} | {result['rate']:,.0f} | {ratio:.3f} | {result['p50']:.1f} | {result['p99']:.1f} | "
                  f"{result['errors']:,} of {result['total']:,} | {queries} |")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(static_root, ignore_errors=True)

    print("\n## Server time of staff and owner pages, big shop against small\n")
    print(f"| page | {shops.small.members.count():,} members ms | {shops.big.members.count():,} members ms | ratio | "
          "SQL queries (small / big) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    small_pages = page_requests(shops.small, shops.sample(shops.small, 50))
    for name, path in page_requests(shops.big, shops.sample(shops.big, 50)).items():
        small_ms, small_q, _ = server_time(shops.clients[shops.small.slug], small_pages[name])
        big_ms, big_q, status = server_time(shops.clients[shops.big.slug], path)
        flag = "" if status == 200 else f" (status {status})"
        print(f"| {name}{flag} | {small_ms:.1f} | {big_ms:.1f} | {big_ms / small_ms:.1f} | {small_q} / {big_q} |")
    if not options.skip_tasks:
        print("\n## Beat tasks over every shop (the big one included)\n")
        print("| task | seconds | peak Python memory MiB |")
        print("|---|---:|---:|")
        for name, seconds, peak in beat_tasks(shops.big):
            print(f"| {name} | {seconds:.1f} | {peak:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
