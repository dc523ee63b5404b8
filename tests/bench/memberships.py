"""The memberships' hourly round at a real shop's size, run by hand (never in CI):

    DATABASE_URL=postgres://... .venv/bin/python tests/bench/memberships.py [--members 100000]

Makes a new shop (Asia/Taipei, TWD) in the database DATABASE_URL names (migrated first; use a
throwaway one) with three tiers, a tier policy by visits, a monthly coffee club (a free drink each
month, the middle tier while it runs, the top tier after six months in a row) and a prepaid bundle
of ten lattes valid 180 days. ``--members`` members then hold one each, written in bulk as
``plan_sell`` would have written them (a service call per sale would take most of an hour):

- 90% the club: this month's membership, started in the last month (so about 1/30 of them start a
  new month on any day), its first month's voucher issued, and for 90% of them the next month's
  renewal bought ahead (its voucher due when it starts, at the end of this one); 40% have
  renewed for 1 to 11 months before, so VIPs exist and some become VIP during the run;
- 10% the bundle, bought in the last 180 days (some expire each day), 0 to 10 lattes used, each
  use a visit (five visits are the lowest tier);
- each member's tier as the sale and the visits set it, with its tier changes, and one PLAN_SOLD
  ledger row per membership (and the rows of the allowances and lattes), so ``drift`` is empty.

Then it times what the worker does, moving time with ``now=`` (midnight in Taipei today is T): a
first round at T (the reminders of the past week), a typical hourly round (T+1h), a whole day's
round (the daily peak), a round after the worker was down a week, the same round again (nothing
due), the nightly ``tiers_review``, and ``price_change_invite`` for a new price of the club (every
holder invited once), run twice. Each part of the round (``memberships_run`` calls five) is timed
too. SQL queries are counted with a database execute wrapper, with the query shapes that took the
most time. Afterwards it checks the invariants: no membership's month has two vouchers, each
membership started by the end has exactly one, ``drift`` is empty, and the run again changed
nothing. Messages go to an in-memory Celery broker (``CELERY_BROKER_URL=memory://``), so nothing
is written to var/. It prints Markdown for docs/benchmarks.md. Peak memory is the process's maximum
resident size.
"""

import argparse
import collections
import os
import platform
import random
import re
import resource
import sys
import time
import uuid
import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 5_000  # members written per transaction during the setup


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Meter:
    """SQL queries and their time while active, by the shape of the statement."""

    def __init__(self):
        self.queries = 0
        self.commits = 0
        self.commit_s = 0.0
        self.shapes: dict[str, list] = collections.defaultdict(lambda: [0, 0.0])


class Meters:
    """One execute wrapper for the whole run; every meter on the stack counts each query."""

    def __init__(self):
        self.stack: list[Meter] = []

    def watch_commits(self, wrapper) -> None:
        """COMMIT does not pass through the execute wrapper: count it, and the time it waits."""
        commit = wrapper._commit

        def timed_commit():
            started = time.perf_counter()
            try:
                return commit()
            finally:
                took = time.perf_counter() - started
                for meter in self.stack:
                    meter.commits += 1
                    meter.commit_s += took

        wrapper._commit = timed_commit

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - started
            shape = shape_of(sql)
            for meter in self.stack:
                meter.queries += 1
                meter.shapes[shape][0] += 1
                meter.shapes[shape][1] += took


def shape_of(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql)
    sql = re.sub(r"\((?:%s, )+%s\)", "(…)", sql)
    if sql.startswith("SELECT"):
        where = sql.find(" WHERE ")
        table = re.search(r' FROM "(\w+)"', sql)
        head = f"SELECT … FROM {table.group(1) if table else '?'}"  # noqa: S608 - a label, never run
        return head + (" WHERE " + sql[where + 7 : where + 7 + 110] if where > 0 else "")
    return sql[:130]


class Steps:
    def __init__(self, meters: Meters):
        self.meters = meters
        self.rows: list[dict] = []

    def run(self, name: str, function, *, rows=None, due="", part=False, **kwargs):
        meter = Meter()
        # Listed before the parts it calls, which are timed inside it.
        row = {"name": name, "due": due, "meter": meter, "part": part}
        self.rows.append(row)
        self.meters.stack.append(meter)
        started = time.perf_counter()
        try:
            result = function(**kwargs)
        finally:
            row["seconds"] = time.perf_counter() - started
            self.meters.stack.remove(meter)
        row.update(rows=rows(result) if rows else result, queries=meter.queries, mb=peak_mb())
        if not part:
            print(f"{name}: {row['seconds']:.1f} s, {meter.queries:,} queries", file=sys.stderr, flush=True)
        return result


def machine(connection) -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            ram = int(line.split()[1]) // 2**20  # whole GiB, as free -g shows
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
    return f"{cpu}, {os.cpu_count()} cores, {ram} GiB; Python {platform.python_version()}; {version}"


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-for-production-7c1e9a3f5b2d8e4a")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
    # The messages' send tasks go to a broker in this process's memory: none is written to var/.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


class Shop:
    """The benchmark shop, its tiers and plans, and its members written in bulk."""

    def __init__(self, members: int, seed: int, t0: datetime):
        from members.config import config_changed
        from members.models import User
        from members.services import shop_create
        from rewards.models import MembershipPlan, Tier, TierPolicy

        self.rng = random.Random(seed)  # noqa: S311 - reproducible sample data
        self.t0 = t0
        self.stamp = format(int(time.time()), "x")
        self.owner = User.objects.create_user(email=f"owner-{self.stamp}@bench.example", password=None)
        self.shop = shop_create(
            owner=self.owner,
            name=f"Memberships bench {self.stamp}",
            slug=f"plans-{self.stamp}",
            language="zh-hant",
            currency="TWD",
            time_zone="Asia/Taipei",
        )
        self.tz = self.shop.tz
        shop = self.shop
        TierPolicy.objects.create(shop=shop, basis=TierPolicy.Basis.VISITS, window_months=6, grace_days=30)
        self.bronze = Tier.objects.create(shop=shop, name="Bronze", threshold=5, multiplier=Decimal("1.10"))
        self.silver = Tier.objects.create(shop=shop, name="Silver", threshold=15, multiplier=Decimal("1.25"))
        self.gold = Tier.objects.create(shop=shop, name="Gold", threshold=40, multiplier=Decimal("1.50"))
        self.club = MembershipPlan.objects.create(
            shop=shop,
            name="Coffee club",
            kind=MembershipPlan.Kind.PERIOD,
            price=Decimal(490),
            period_months=1,
            allowance_title="A free drip coffee",
            tier=self.silver,
            vip_after_months=6,
            vip_tier=self.gold,
            discount_percent=10,
            created_at=t0 - timedelta(days=400),
        )
        self.bundle = MembershipPlan.objects.create(
            shop=shop,
            name="10 lattes for the price of 8",
            kind=MembershipPlan.Kind.BUNDLE,
            price=Decimal(1040),
            items=10,
            item_name="latte",
            valid_days=180,
            created_at=t0 - timedelta(days=400),
        )
        config_changed(shop.pk)
        self.codes: set[str] = set()
        self.written = collections.Counter()
        for start in range(0, members, CHUNK):
            self.chunk(start, min(start + CHUNK, members))

    def code(self) -> str:
        from members.models import random_code

        while (code := random_code()) in self.codes:
            pass
        self.codes.add(code)
        return code

    def moment(self, earliest: datetime, latest: datetime) -> datetime:
        span = (latest - earliest).total_seconds()
        return (earliest + timedelta(seconds=self.rng.uniform(0, span))).replace(microsecond=0)

    def chunk(self, start: int, end: int) -> None:
        """Members ``start`` to ``end`` and everything they hold, in one transaction."""
        from django.db import transaction

        from members.emails import canonical_email
        from members.models import Member
        from rewards.ledger import Reason
        from rewards.models import LedgerEntry, Membership, TierChange, Voucher
        from rewards.services.tiers import months_in_a_row, period_end

        rng, tz, t0, shop = self.rng, self.tz, self.t0, self.shop
        month_ago = period_end(t0, -1, tz)
        family, given = "陳林黃張李王吳劉蔡楊許鄭謝洪郭邱曾廖賴徐", "美玲志明淑芬家豪怡君俊傑雅婷冠宇佳穎承翰"
        people = []
        for n in range(start, end):
            person = {"n": n, "club": rng.random() >= 0.10}
            if person["club"]:
                starts = self.moment(month_ago, t0)
                person["starts"] = starts
                person["chain"] = period_end(starts, -rng.randint(1, 11), tz) if rng.random() < 0.4 else starts
                person["renewed"] = rng.random() < 0.9
                person["renewed_at"] = self.moment(starts, t0)
                vip = months_in_a_row(person["chain"], t0, tz) >= self.club.vip_after_months
                person["tier"] = self.gold if vip else self.silver
                person["last_visit"] = max(starts, person["renewed_at"]) if person["renewed"] else starts
            else:
                starts = self.moment(t0 - timedelta(days=180), t0)
                used = sorted(self.moment(starts, t0) for _ in range(rng.randint(0, 10)))
                person.update(starts=starts, chain=starts, used=used, last_visit=used[-1] if used else starts)
                person["tier"] = self.bronze if len(used) >= self.bronze.threshold else None
            person["joined"] = person["chain"] - timedelta(days=rng.randint(0, 400))
            people.append(person)
        with transaction.atomic():
            members = Member.objects.bulk_create(
                [
                    Member(
                        shop=shop,
                        code=self.code(),
                        name=rng.choice(family) + rng.choice(given) + rng.choice(given),
                        email=(email := f"member{p['n']}@bench.example" if p["n"] % 5 else ""),
                        email_canonical=canonical_email(email),
                        phone=f"09{p['n']:08d}",
                        language="zh-hant",
                        joined_at=p["joined"],
                        last_visit_at=p["last_visit"],
                        tier=p["tier"],
                    )
                    for p in people
                ],
                batch_size=CHUNK,
            )
            for person, member in zip(people, members, strict=True):
                person["member"] = member
            firsts = Membership.objects.bulk_create(
                [self.membership(p, p["starts"], p["chain"]) for p in people], batch_size=CHUNK
            )
            for person, held in zip(people, firsts, strict=True):
                person["held"] = held
            club = [p for p in people if p["club"]]
            renewing = [p for p in club if p["renewed"]]
            renewals = Membership.objects.bulk_create(
                [self.membership(p, p["held"].ends_at, p["chain"], renews=p["held"]) for p in renewing],
                batch_size=CHUNK,
            )
            vouchers = Voucher.objects.bulk_create(
                [
                    Voucher(
                        shop=shop,
                        member=p["member"],
                        code=self.code(),
                        title=self.club.allowance_title,
                        issued_at=p["starts"],
                        expires_at=p["held"].ends_at,
                        membership=p["held"],
                        allowance_month=0,
                        **self.used_or_not(p["starts"]),
                    )
                    for p in club
                ],
                batch_size=CHUNK,
            )
            entries = []
            for person, voucher in zip(club, vouchers, strict=True):
                held = person["held"]
                entries += self.sold(person, held, held.created_at)
                entries.append(
                    LedgerEntry(
                        shop=shop,
                        member=person["member"],
                        reason=Reason.PLAN_ALLOWANCE,
                        voucher=voucher,
                        membership=held,
                        group=entries[-1].group,
                        created_at=held.starts_at,
                        note=self.club.name,
                    )
                )
            for person, renewal in zip(renewing, renewals, strict=True):
                entries += self.sold(person, renewal, renewal.created_at)
            for person in people:
                if not person["club"]:
                    held = person["held"]
                    entries += self.sold(person, held, held.created_at)
                    entries += [
                        LedgerEntry(
                            shop=shop,
                            member=person["member"],
                            reason=Reason.PLAN_ITEM,
                            membership=held,
                            items=-1,
                            idempotency_key=f"bench-{self.stamp}-latte-{person['n']}-{k}",
                            staff=self.owner,
                            created_at=at,
                            opens_visit=True,
                        )
                        for k, at in enumerate(person["used"])
                    ]
            LedgerEntry.objects.bulk_create(entries, batch_size=CHUNK)
            TierChange.objects.bulk_create(
                [change for p in people for change in self.tier_changes(p)], batch_size=CHUNK
            )
        self.written.update(
            members=len(members),
            memberships=len(firsts) + len(renewals),
            vouchers=len(vouchers),
            ledger=len(entries),
            club=len(club),
            renewals=len(renewals),
            bundles=len(people) - len(club),
        )

    def membership(self, person: dict, starts: datetime, chain: datetime, renews=None):
        """A membership as ``plan_sell`` writes it: sold at its start, or (a renewal) ahead of it."""
        from rewards.models import Membership
        from rewards.services.tiers import period_end

        if person["club"]:
            plan, ends, items = self.club, period_end(starts, self.club.period_months, self.tz), 0
            sold = person["renewed_at"] if renews else starts
            issued, following = (0, starts) if renews else (1, None)
        else:
            plan, ends, items = self.bundle, starts + timedelta(days=self.bundle.valid_days), self.bundle.items
            sold, issued, following = starts, 0, None
        return Membership(
            shop=self.shop,
            member=person["member"],
            plan=plan,
            kind=plan.kind,
            price_paid=plan.price,
            payment_method=self.rng.choice(Membership.PaymentMethod.values),
            items_total=items,
            items_left=items - len(person.get("used", ())),
            starts_at=starts,
            ends_at=ends,
            sold_by=self.owner,
            created_at=sold,
            refund_rule=plan.refund_rule,
            renews=renews,
            chain_started_at=chain,
            allowances_issued=issued,
            next_allowance_at=following,
        )

    def sold(self, person: dict, held, at: datetime) -> list:
        from rewards.ledger import Reason
        from rewards.models import LedgerEntry

        self.written["sales"] += 1
        return [
            LedgerEntry(
                shop=self.shop,
                member=person["member"],
                reason=Reason.PLAN_SOLD,
                membership=held,
                items=held.items_total,
                money_amount=held.price_paid,
                group=uuid.uuid4(),
                idempotency_key=f"bench-{self.stamp}-plan-{held.pk}",
                staff=self.owner,
                created_at=at,
            )
        ]

    def used_or_not(self, issued: datetime) -> dict:
        from rewards.models import Voucher

        if self.rng.random() < 0.7:
            return {"status": Voucher.Status.REDEEMED, "redeemed_at": self.moment(issued, self.t0)}
        return {}

    def tier_changes(self, person: dict) -> list:
        from rewards.models import TierChange
        from rewards.services.tiers import period_end

        member, Reason = person["member"], TierChange.Reason
        if person["tier"] is None:
            return []
        if not person["club"]:
            at = person["used"][self.bronze.threshold - 1]
            return [
                TierChange(shop=self.shop, member=member, to_tier=self.bronze, reason=Reason.QUALIFIED, created_at=at)
            ]
        changes = [
            TierChange(
                shop=self.shop, member=member, to_tier=self.silver, reason=Reason.PLAN, created_at=person["chain"]
            )
        ]
        if person["tier"] == self.gold:
            vip = period_end(person["chain"], self.club.vip_after_months, self.tz)
            changes.append(
                TierChange(
                    shop=self.shop,
                    member=member,
                    from_tier=self.silver,
                    to_tier=self.gold,
                    reason=Reason.PLAN,
                    created_at=vip,
                )
            )
        return changes


def snapshot(shop) -> dict:
    """What a round could change, to compare before and after."""
    from django.db.models import Count

    from members.models import Member, Message
    from rewards.models import LedgerEntry, Membership, TierChange, Voucher

    return {
        "ledger": LedgerEntry.objects.filter(shop=shop).count(),
        "vouchers": Voucher.objects.filter(shop=shop).count(),
        "messages": Message.objects.filter(shop=shop).count(),
        "tier changes": TierChange.objects.filter(shop=shop).count(),
        "memberships": dict(Membership.objects.filter(shop=shop).values_list("status").annotate(n=Count("pk"))),
        "tiers": dict(Member.objects.filter(shop=shop).values_list("tier__name").annotate(n=Count("pk"))),
        "allowances due": Membership.objects.filter(shop=shop, next_allowance_at__isnull=False).count(),
        "reminded": Membership.objects.filter(shop=shop, reminded_at__isnull=False).count(),
    }


def due(shop, now) -> tuple[int, int]:
    from rewards.models import Membership

    vouchers = Membership.objects.filter(shop=shop, next_allowance_at__lte=now).count()
    endings = Membership.objects.filter(shop=shop, status=Membership.Status.ACTIVE, ends_at__lte=now).count()
    return vouchers, endings


def check(shop, bench: Shop, end: datetime) -> list[str]:
    """The invariants after everything: what is wrong, or nothing."""
    from django.db.models import Count, Q

    from rewards import ledger
    from rewards.models import Membership, Voucher

    problems = []
    twice = (
        Voucher.objects.filter(shop=shop, membership__isnull=False)
        .values("membership", "allowance_month")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    if twice:
        problems.append(f"{twice} (membership, month) pairs with two vouchers or more")
    club = Membership.objects.filter(shop=shop, plan=bench.club).annotate(
        vouchers=Count("allowance_vouchers"),
        month0=Count("allowance_vouchers", filter=Q(allowance_vouchers__allowance_month=0)),
    )
    started = club.filter(starts_at__lte=end)
    if bad := started.exclude(vouchers=1, month0=1).count():
        problems.append(f"{bad} memberships started by the end without exactly one voucher, of their first month")
    if bad := started.exclude(allowances_issued=1, next_allowance_at__isnull=True).count():
        problems.append(f"{bad} memberships started by the end whose allowance is not marked issued")
    if bad := club.filter(starts_at__gt=end, vouchers__gt=0).count():
        problems.append(f"{bad} memberships not started yet with a voucher")
    if bad := Membership.objects.filter(shop=shop, status=Membership.Status.ACTIVE, ends_at__lte=end).count():
        problems.append(f"{bad} memberships past their end still active")
    drift = [d for d in ledger.drift() if getattr(d[0], "shop_id", None) == shop.pk]
    if drift:
        problems.append(f"ledger drift: {len(drift)} balances, e.g. {drift[:3]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("Set DATABASE_URL to a throwaway PostgreSQL database.", file=sys.stderr)
        return 2
    setup_django()
    from django.core.management import call_command
    from django.db import connection, connections
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from django.db.models import Count

    from members.models import Message
    from rewards import ledger
    from rewards.models import PlanPriceChange, TierChange
    from rewards.services import plans, tiers

    began = time.perf_counter()
    taipei = zoneinfo.ZoneInfo("Asia/Taipei")
    t0 = datetime.combine(timezone.localtime(timezone.now(), taipei).date(), datetime.min.time(), tzinfo=taipei)
    bench = Shop(args.members, args.seed, t0)
    shop = bench.shop
    with connection.cursor() as cursor:
        # As autovacuum would have by then in a shop that grew to this size.
        cursor.execute(
            'ANALYZE members_member, rewards_membership, rewards_ledgerentry, rewards_voucher, "rewards_tierchange"'
        )
    setup_s = time.perf_counter() - began
    drift_after_setup = [d for d in ledger.drift() if getattr(d[0], "shop_id", None) == shop.pk]
    assert not drift_after_setup, drift_after_setup[:5]
    setup_mb = peak_mb()
    print(f"setup: {setup_s:.0f} s, {bench.written['memberships']:,} memberships", file=sys.stderr, flush=True)

    meters = Meters()
    meters.watch_commits(connections["default"])
    steps = Steps(meters)
    parts = ("price_changes_apply", "memberships_end", "allowances_issue", "plan_tiers_settle", "membership_reminders")
    originals = {name: getattr(plans, name) for name in parts}

    def timed(name):
        def wrapper(**kwargs):
            return steps.run(f"· {name}", originals[name], part=True, **kwargs)

        return wrapper

    for name in parts:
        setattr(plans, name, timed(name))

    def round_at(label: str, now: datetime):
        vouchers, endings = due(shop, now)
        where = timezone.localtime(now, bench.tz).strftime("%d %b %H:%M")
        steps.run(f"{label} ({where})", plans.memberships_run, due=f"{vouchers:,} / {endings:,}", now=now)

    with connection.execute_wrapper(meters):
        round_at("first round after the setup", t0)
        hour = t0 + timedelta(hours=1)
        round_at("(a) a typical hour", hour)
        day = hour + timedelta(days=1)
        round_at("(b) a whole day's round", day)
        week = day + timedelta(days=7)
        round_at("(c) after the worker was down a week", week)
        before = snapshot(shop)
        round_at("(d) the same round again", week)
        after = snapshot(shop)
        steps.run(
            "(e) tiers_review (nightly)",
            tiers.tiers_review,
            now=week,
            due=f"{shop.members.filter(tier__isnull=False).count():,} with a tier",
        )
        change = plans.price_change_schedule(
            plan=bench.club, new_price=Decimal(550), from_day=(week + timedelta(days=14)).date(), staff=bench.owner
        )
        invite_at = week + timedelta(hours=1)
        holders = plans._holders(bench.club, invite_at).count()
        steps.run(
            "(f) price_change_invite",
            plans.price_change_invite,
            change_id=change.pk,
            now=invite_at,
            due=f"{holders:,} holders",
        )
        steps.run(
            "(f) price_change_invite again",
            plans.price_change_invite,
            change_id=change.pk,
            now=invite_at,
            due=f"{holders:,} holders",
        )
    for name in parts:
        setattr(plans, name, originals[name])

    problems = check(shop, bench, week)
    if before != after:
        problems.append(f"the round again changed something: {before} -> {after}")
    invited = Message.objects.filter(shop=shop, campaign=plans.PRICE_RISE).count()
    with_email = plans._holders(bench.club, invite_at).exclude(email="").count()
    if invited != with_email or PlanPriceChange.objects.get(pk=change.pk).invited != invited:
        problems.append(f"{invited} invited, {with_email} holders with an address")
    changes = TierChange.objects.filter(shop=shop, created_at__gt=t0).values_list("reason")
    moves = dict(changes.annotate(n=Count("pk")))

    written = bench.written
    print(f"\nMachine: {machine(connection)}.")
    print(f"Date: {timezone.now():%Y-%m-%d}; T = {t0:%Y-%m-%d %H:%M} in Asia/Taipei.")
    print(f"Command: DATABASE_URL=… .venv/bin/python tests/bench/memberships.py --members {args.members}")
    print(
        f"\nSetup: {written['members']:,} members, {written['memberships']:,} memberships "
        f"({written['club']:,} club, {written['renewals']:,} renewals bought ahead, {written['bundles']:,} bundles), "
        f"{written['vouchers']:,} vouchers, {written['ledger']:,} ledger rows in {setup_s:.0f} s; drift empty; "
        f"max RSS {setup_mb:.0f} MB."
    )
    print("\n| step | due: vouchers / endings | rows touched | seconds | SQL queries | commits | rows/s | max RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in steps.rows:
        rate = f"{row['rows'] / row['seconds']:,.0f}" if row["rows"] and row["seconds"] else ""
        name = f"&nbsp;&nbsp;{row['name']}" if row["part"] else row["name"]
        print(
            f"| {name} | {row['due']} | {row['rows']:,} | {row['seconds']:.2f} | {row['queries']:,} "
            f"| {row['meter'].commits:,} | {rate} | {row['mb']:.0f} |"
        )
    print(f"\nTier changes written by the run, by reason: {moves}")
    print(f"Invited to renew: {invited:,} of {holders:,} holders (the others have no e-mail address).")
    print(f"Peak memory (max RSS): {peak_mb():.0f} MB.")
    print("Invariants: " + ("all hold." if not problems else "; ".join(problems)))
    print("\nWhere the time went (the slowest steps and the round again; the query shapes that took longest):")
    slowest = sorted((r for r in steps.rows if not r["part"]), key=lambda r: -r["seconds"])[:4]
    again = [r for r in steps.rows if r["name"].startswith(("(d)", "(e)"))]
    for row in slowest + [r for r in again if r not in slowest]:
        meter = row["meter"]
        in_queries = sum(took for _count, took in meter.shapes.values())
        rest = row["seconds"] - in_queries - meter.commit_s
        print(
            f"\n{row['name']}: {row['seconds']:.2f} s; {in_queries:.2f} s in {row['queries']:,} queries, "
            f"{meter.commit_s:.2f} s in {meter.commits:,} commits, the rest ({rest:.2f} s) in Python"
        )
        top = sorted(meter.shapes.items(), key=lambda item: -item[1][1])[:6]
        for shape, (count, took) in top:
            print(f"    {count:>8,} × {took:7.2f} s  {shape}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
