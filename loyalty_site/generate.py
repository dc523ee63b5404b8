"""A shop at scale, for benchmarks: N members with about twenty ledger rows each, in minutes.

The rows are what the services would have written over two years of a busy café (visits at
opening hours, purchases with points, refunds, full cards and their vouchers redeemed or
expired, tiers reached, member days, welcome, birthday, win-back, referral and announcement
campaigns with their reach, hold-out and messages), but written in bulk: COPY on PostgreSQL,
batched inserts on SQLite. Every balance is the sum of its rows, so ``ledger_verify`` passes.

Deterministic: the same seed, size and day (the shop's, from 6:00 its time) give the same shop. It
assumes nobody else writes to the database while it runs (ids are handed out from the current maximum).
"""

import hashlib
import json
import random
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Campaign, Reach
from members import services as member_services
from members.config import config_changed
from members.models import CODE_ALPHABET, Member, Message, Shop, StaffMember, User
from members.roles import Role
from rewards.models import (
    CatalogueReward,
    LedgerEntry,
    MemberCard,
    PointsRule,
    Purchase,
    StampProgram,
    Tier,
    TierChange,
    TierPolicy,
    Voucher,
)

Reason = LedgerEntry.Reason
Kind = Campaign.Kind
BATCH = 5_000
YEARS = 2
MORNING = time(6)  # the shop is generated up to 6:00 of its day
HOURS = range(7, 20)
AMOUNTS = [Decimal(n) for n in (65, 85, 120, 150, 180, 240, 320, 450)]
STAMPS_NEEDED = 10
VOUCHER_DAYS = 60
COOKIE_POINTS = 150
SILVER, GOLD = 300, 1_000  # lifetime points
FIRST = ["Mei", "Jun", "Wei", "Lena", "Ahmed", "Sofia", "Kenji", "Ana", "Tom", "Yu", "Hana", "Omar", "Li", "Sam"]
LAST = ["Lin", "Chen", "Wang", "Park", "Khan", "Rossi", "Sato", "Silva", "Brown", "Huang", "Kim", "Ali"]


def code_for(number: int, salt: int, length: int = 8) -> str:
    """A distinct code for every number (a bijection of the code space), so a million members
    never collide the way random codes would."""
    space = len(CODE_ALPHABET) ** length
    value = (number * 2_654_435_761 + salt) % space  # the multiplier is coprime with 28**8
    letters = []
    for _ in range(length):
        value, digit = divmod(value, len(CODE_ALPHABET))
        letters.append(CODE_ALPHABET[digit])
    return "".join(letters)


class Table:
    """Rows of one model in column order, from keyword values and the model's constant defaults."""

    def __init__(self, model):
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.columns = [f.column for f in self.fields]
        self.defaults = {}
        for field in self.fields:
            if field.has_default() and not callable(field.default):
                self.defaults[field.attname] = field.default
            elif field.null:
                self.defaults[field.attname] = None
            elif field.blank and field.get_internal_type() in ("CharField", "TextField", "EmailField"):
                self.defaults[field.attname] = ""
        self.rows: list[tuple] = []
        self.next_id = (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1

    def add(self, **values) -> int:
        values.setdefault("id", self.next_id)
        self.next_id = max(self.next_id, values["id"] + 1)
        self.rows.append(
            tuple(values[f.attname] if f.attname in values else self.defaults[f.attname] for f in self.fields)
        )
        return values["id"]


class Writer:
    """COPY on PostgreSQL; on SQLite, inserts of values prepared the way Django would."""

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"

    def flush(self, table: Table) -> None:
        if not table.rows:
            return
        name = connection.ops.quote_name(table.model._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(c) for c in table.columns)
        if self.postgres:
            from psycopg.types.json import Jsonb

            json_columns = [i for i, f in enumerate(table.fields) if f.get_internal_type() == "JSONField"]
            with connection.connection.cursor() as cursor, cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                for row in table.rows:
                    if json_columns:
                        row = tuple(Jsonb(v) if i in json_columns else v for i, v in enumerate(row))
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(table.columns))
            prepared = [
                [
                    json.dumps(value) if f.get_internal_type() == "JSONField" else f.get_db_prep_save(value, connection)
                    for f, value in zip(table.fields, row, strict=True)
                ]
                for row in table.rows
            ]
            with connection.cursor() as cursor:
                # Table and column names come from the models, never from input.
                cursor.executemany(f"INSERT INTO {name} ({columns}) VALUES ({marks})", prepared)  # noqa: S608
        table.rows.clear()

    def reset_sequences(self, models) -> None:
        if not self.postgres:
            return  # SQLite takes the next id after the largest
        with connection.cursor() as cursor:
            for model in models:
                table = model._meta.db_table
                # Fresh statistics, as autovacuum would gather by itself some time after a bulk load.
                cursor.execute(f"ANALYZE {table}")
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))",  # noqa: S608
                    [table],
                )


class Generator:
    def __init__(self, *, slug: str, members: int, seed: int, today: date | None = None):
        self.slug, self.size = slug, members
        self.rng = random.Random(f"{seed}:{slug}")  # noqa: S311 - reproducible test data, not secrets
        self.today = today  # None: the shop's own day, see setup()

    def uid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    # The shop as its owner set it up, through the services.
    def setup(self) -> None:
        tz_name = "Asia/Taipei"
        self.users = []
        for role, who in (
            (Role.OWNER, "owner"),
            (Role.MANAGER, "manager"),
            (Role.STAFF, "staff"),
            (Role.STAFF, "barista"),
        ):
            email = f"{who}@{self.slug}.example"
            user = User.objects.filter(email=email).first() or User.objects.create_user(email=email, password=None)
            self.users.append((role, user))
        owner = self.users[0][1]
        self.shop = member_services.shop_create(
            owner=owner,
            name=f"Bench café {self.slug}",
            slug=self.slug,
            currency="TWD",
            language="en",
            time_zone=tz_name,
        )
        for role, user in self.users[1:]:
            StaffMember.objects.create(shop=self.shop, user=user, role=role)
        self.staff_ids = [user.pk for _role, user in self.users]
        self.tz = self.shop.tz
        if self.today is None:
            # The shop's latest 6:00 that has passed, so "now" is less than a day old at any hour of the
            # day; 6:00 of the server's (UTC) date was up to 26 hours old late in a UTC day.
            self.today = (timezone.localtime(timezone.now(), self.tz) - timedelta(hours=MORNING.hour)).date()
        self.now = datetime.combine(self.today, MORNING, tzinfo=self.tz)
        self.start = self.now - timedelta(days=365 * YEARS)
        self.program = StampProgram.objects.for_shop(self.shop).get()
        StampProgram.objects.filter(pk=self.program.pk).update(
            name="Coffee card", reward="A free coffee", voucher_valid_days=VOUCHER_DAYS, stamps_needed=STAMPS_NEEDED
        )
        self.program.refresh_from_db()
        config_changed(self.shop.pk)
        PointsRule.objects.create(
            shop=self.shop, is_active=True, step_amount=10, bill_points=100, bill_value=10, purchase_stamps=self.program
        )
        TierPolicy.objects.create(shop=self.shop, basis=TierPolicy.Basis.POINTS, window_months=None, grace_days=30)
        self.silver = Tier.objects.create(shop=self.shop, name="Silver", threshold=SILVER, multiplier=Decimal("1.25"))
        self.gold = Tier.objects.create(shop=self.shop, name="Gold", threshold=GOLD, multiplier=Decimal("1.5"))
        self.cookie = CatalogueReward.objects.create(shop=self.shop, name="Butter cookie", cost_points=COOKIE_POINTS)
        since = self.start
        kinds = {
            Kind.WELCOME: {"name": "Welcome stamp", "gift": "stamps", "gift_stamps": 1},
            Kind.BIRTHDAY: {"name": "Birthday cake", "gift": "voucher", "voucher_title": "Slice of cake",
                            "days_before": 7, "holdout_percent": 10},
            Kind.BOOST: {"name": "Double Wednesday", "multiplier": 2, "weekdays": "2"},
            Kind.REFERRAL: {"name": "Bring a friend", "gift": "stamps", "gift_stamps": 2, "referral_limit": 5},
            Kind.WINBACK: {"name": "We miss you", "days_away": 30, "gift": "voucher", "voucher_title": "Coffee on us",
                           "holdout_percent": 20},
            Kind.ANNOUNCEMENT: {"name": "Autumn menu", "subject": "Our autumn menu", "body": "Chestnut latte is back.",
                                "send_at": self.now - timedelta(days=40), "sent_at": self.now - timedelta(days=40)},
            Kind.ANNIVERSARY: {"name": "Thank you for the years", "gift": "points", "gift_points": 20},
        }  # fmt: skip
        self.campaigns = {
            kind: Campaign.objects.create(shop=self.shop, kind=kind, starts_at=since, public_id=self.uid(), **fields)
            for kind, fields in kinds.items()
        }

    def held_out(self, campaign: Campaign, member_public_id: uuid.UUID) -> bool:
        # The same hash as campaigns.audience.is_held_out.
        if not campaign.has_holdout or not campaign.holdout_percent:
            return False
        digest = hashlib.sha256(f"{campaign.public_id}:{member_public_id}".encode()).digest()
        return int.from_bytes(digest[:4], "big") % 100 < campaign.holdout_percent

    def opening_time(self, after: datetime) -> datetime:
        """A moment in opening hours, some day between ``after`` and now."""
        span = max((self.now - after).days, 1)
        day = timezone.localtime(after, self.tz).date() + timedelta(days=self.rng.randrange(span))
        moment = datetime.combine(day, time(self.rng.choice(HOURS), self.rng.randrange(60)), tzinfo=self.tz)
        return min(max(moment, after + timedelta(minutes=1)), self.now - timedelta(minutes=5))

    def build(self, progress: Callable[[int, int], None] | None = None) -> Shop:
        with transaction.atomic():
            self.setup()
        writer = Writer()
        self.tables = {model: Table(model) for model in (Member, MemberCard, Purchase, Voucher, LedgerEntry,
                                                           TierChange, Reach, Message)}  # fmt: skip
        self.voucher_number = 0
        self.member_ids: list[int] = []
        for first in range(0, self.size, BATCH):
            with transaction.atomic():
                for number in range(first, min(first + BATCH, self.size)):
                    self.member(number)
                for table in self.tables.values():
                    writer.flush(table)
            if progress:
                progress(min(first + BATCH, self.size), self.size)
        writer.reset_sequences(self.tables)
        return self.shop

    # One member's two years, as the counter and the campaigns would have written them.
    def member(self, number: int) -> None:
        rng, t, shop_id = self.rng, self.tables, self.shop.pk
        public_id = self.uid()
        joined = self.start + timedelta(seconds=rng.randrange(int((self.now - self.start).total_seconds()) - 86_400))
        kind = rng.random()
        visits = rng.randint(25, 50) if kind < 0.1 else rng.randint(6, 18) if kind < 0.5 else rng.randint(0, 4)
        times = sorted(self.opening_time(joined) for _ in range(visits))
        consent = rng.random() < 0.4
        birthday = date(rng.randint(1960, 2005), rng.randint(1, 12), rng.randint(1, 28)) if rng.random() < 0.6 else None
        referrer = rng.choice(self.member_ids) if self.member_ids and rng.random() < 0.05 else None
        member_id = t[Member].next_id
        card_id = t[MemberCard].next_id
        # Taken now, written once the member's history (and so the balances) is known.
        t[Member].next_id += 1
        t[MemberCard].next_id += 1
        email = f"member{number}@{self.slug}.example"
        state = {"stamps": 0, "points": 0, "earned": 0, "tier": None, "last": None}
        rows = t[LedgerEntry]

        def staff():
            return rng.choice(self.staff_ids)

        def ledger(reason, at, group, **values):
            return rows.add(shop_id=shop_id, member_id=member_id, reason=reason, group=group, created_at=at, **values)

        def stamp(at, group, count, reason=Reason.VISIT, **values):
            ledger(reason, at, group, card_id=card_id, stamps=count, **values)
            state["stamps"] += count
            while state["stamps"] >= STAMPS_NEEDED:
                self.voucher(member_id, card_id, at, group, state)

        def tier_check(at):
            for tier in (self.gold, self.silver):
                if state["earned"] >= tier.threshold:
                    held = state["tier"]
                    if held is None or held.threshold < tier.threshold:
                        t[TierChange].add(
                            shop_id=shop_id, member_id=member_id, from_tier_id=held.pk if held else None,
                            to_tier_id=tier.pk, reason=TierChange.Reason.QUALIFIED, created_at=at,
                        )  # fmt: skip
                        state["tier"] = tier
                    break

        # Welcome: a stamp at joining.
        welcome = self.campaigns[Kind.WELCOME]
        group = self.uid()
        stamp(joined, group, 1, reason=Reason.CAMPAIGN, note=welcome.name)
        t[Reach].add(shop_id=shop_id, campaign_id=welcome.pk, member_id=member_id, occasion="join", stamps=1,
                     created_at=joined)  # fmt: skip
        if referrer:
            referral = self.campaigns[Kind.REFERRAL]
            if times:
                stamp(times[0], self.uid(), 2, reason=Reason.CAMPAIGN, note=referral.name)
                t[Reach].add(shop_id=shop_id, campaign_id=referral.pk, member_id=member_id, occasion="referred",
                             stamps=2, created_at=times[0])  # fmt: skip
        boost = self.campaigns[Kind.BOOST]
        boosted_days = set()
        for at in times:
            group = self.uid()
            wednesday = timezone.localtime(at, self.tz).weekday() == 2
            if wednesday and (day := timezone.localtime(at, self.tz).date().isoformat()) not in boosted_days:
                boosted_days.add(day)
                t[Reach].add(shop_id=shop_id, campaign_id=boost.pk, member_id=member_id, occasion=day, created_at=at)
            if rng.random() < 0.6:
                amount = rng.choice(AMOUNTS)
                earned = int(amount // 10)
                if state["tier"] is not None:
                    earned = int(earned * state["tier"].multiplier)
                bonus = earned if wednesday else 0
                refund = rng.random() < 0.03
                purchase_id = t[Purchase].add(
                    public_id=self.uid(), shop_id=shop_id, member_id=member_id, amount=amount,
                    receipt=f"R{number}-{len(t[Purchase].rows)}", points_earned=earned + bonus, group=group,
                    staff_id=staff(), created_at=at, refunded_amount=amount if refund else Decimal(0),
                    points_reversed=earned + bonus if refund else 0,
                )  # fmt: skip
                ledger(Reason.PURCHASE, at, group, points=earned, money_amount=amount, purchase_id=purchase_id,
                       staff_id=staff(), opens_visit=True, found_by="qr")  # fmt: skip
                if bonus:
                    ledger(Reason.CAMPAIGN, at, group, points=bonus, purchase_id=purchase_id, note=boost.name)
                state["points"] += earned + bonus
                state["earned"] += earned + bonus
                stamp(at, group, 1, staff_id=staff(), found_by="qr")
                if refund:
                    back = at + timedelta(hours=1)
                    ledger(Reason.REFUND, back, self.uid(), points=-(earned + bonus), money_amount=-amount,
                           purchase_id=purchase_id, staff_id=self.staff_ids[1])  # fmt: skip
                    state["points"] -= earned + bonus
                    state["earned"] -= earned + bonus
                tier_check(at)
                if state["points"] >= COOKIE_POINTS and rng.random() < 0.15:
                    ledger(Reason.REDEEM, at + timedelta(minutes=2), self.uid(), points=-COOKIE_POINTS,
                           reward_id=self.cookie.pk, staff_id=staff(), note=self.cookie.name)  # fmt: skip
                    state["points"] -= COOKIE_POINTS
            else:
                stamp(
                    at, group, 1, staff_id=staff(), opens_visit=True, found_by=rng.choice(("qr", "qr", "code", "name"))
                )
                if wednesday:
                    stamp(at, group, 1, reason=Reason.CAMPAIGN, note=boost.name)
            state["last"] = max(state["last"] or at, at)
        last_seen = state["last"] or joined
        self.campaign_reach(member_id, public_id, email, joined, last_seen, birthday, consent, card_id, state)
        t[Member].add(
            id=member_id, public_id=public_id, shop_id=shop_id, code=code_for(number, salt=7), name=self.name(),
            email=email, email_canonical=email, phone=f"+8869{number:08d}", birthday=birthday,
            language=rng.choice(("en", "zh-hant", "zh-hans")), marketing_consent=consent,
            consent_version="2026-11" if consent else "", consent_at=joined if consent else None,
            consent_method="form" if consent else "",
            points=state["points"], tier_id=state["tier"].pk if state["tier"] else None, joined_at=joined,
            last_visit_at=state["last"], referred_by_id=referrer,
        )  # fmt: skip
        t[MemberCard].add(id=card_id, member_id=member_id, program_id=self.program.pk, stamps=state["stamps"],
                          created_at=joined)  # fmt: skip
        self.member_ids.append(member_id)

    def name(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def voucher(
        self, member_id: int, card_id: int, at: datetime, group, state, *, title=None, expires=None
    ) -> tuple[int, datetime | None]:
        """A voucher for a full card (or a campaign's gift), redeemed, expired or still waiting: its id and
        when it was redeemed."""
        rng, t = self.rng, self.tables
        self.voucher_number += 1
        expires = expires or at + timedelta(days=VOUCHER_DAYS)
        redeemed_at = at + timedelta(days=rng.randint(1, VOUCHER_DAYS - 1), hours=rng.randint(0, 8))
        if rng.random() < 0.7 and redeemed_at < self.now:
            status = Voucher.Status.REDEEMED
        else:
            redeemed_at = None
            status = Voucher.Status.EXPIRED if expires <= self.now else Voucher.Status.ISSUED
        voucher_id = t[Voucher].add(
            public_id=self.uid(), shop_id=self.shop.pk, member_id=member_id,
            program_id=self.program.pk if title is None else None, code=code_for(self.voucher_number, salt=11),
            title=title or self.program.reward, status=status, issued_at=at, expires_at=expires,
            redeemed_at=redeemed_at, redeemed_by_id=self.staff_ids[2] if redeemed_at else None,
        )  # fmt: skip
        ledger = t[LedgerEntry]
        if title is None:
            ledger.add(shop_id=self.shop.pk, member_id=member_id, card_id=card_id, reason=Reason.CARD_COMPLETE,
                       stamps=-STAMPS_NEEDED, voucher_id=voucher_id, group=group, created_at=at)  # fmt: skip
            state["stamps"] -= STAMPS_NEEDED
        if redeemed_at:
            ledger.add(shop_id=self.shop.pk, member_id=member_id, reason=Reason.REDEEM, voucher_id=voucher_id,
                       group=self.uid(), staff_id=self.staff_ids[2], created_at=redeemed_at,
                       found_by="qr")  # fmt: skip
            state["last"] = max(state["last"] or redeemed_at, redeemed_at)
        return voucher_id, redeemed_at

    def campaign_reach(self, member_id, public_id, email, joined, last_seen, birthday, consent, card_id, state) -> None:
        """Birthday, announcement and win-back: each reached as its run would have, some held out, with a
        message to members who agreed to news."""
        reaches = []
        if birthday is not None:
            this_year = timezone.localtime(self.now, self.tz).year - 1
            day = birthday.replace(year=this_year)
            at = datetime.combine(day - timedelta(days=7), time(10), tzinfo=self.tz)
            if joined < at < self.now:
                reaches.append((self.campaigns[Kind.BIRTHDAY], str(this_year), at))
        announcement = self.campaigns[Kind.ANNOUNCEMENT]
        if consent and joined < announcement.sent_at:
            reaches.append((announcement, "announcement", announcement.sent_at))
        came_back = []  # gifts redeemed at the counter: the member was seen again then
        for campaign, occasion, at in reaches:
            if redeemed := self.reach(member_id, public_id, email, consent, card_id, state, campaign, occasion, at):
                came_back.append(redeemed)
        # Win-back last, as the daily run left it once every other gift's redemption is known: each lapse
        # before now reached, once. A member who came back (to redeem the win-back voucher or a birthday
        # one) and stayed away again lapsed again; one back before the run noticed had not lapsed.
        winback = self.campaigns[Kind.WINBACK]
        away = timedelta(days=winback.days_away + 1)  # a day late: the daily run has surely seen the lapse
        while True:
            back = min((at for at in came_back if at > last_seen), default=None)
            lapse = last_seen + away
            if lapse < self.now and (back is None or back > lapse):
                redeemed = self.reach(member_id, public_id, email, consent, card_id, state, winback,
                                      f"lapse:{int(last_seen.timestamp())}", lapse)  # fmt: skip
                if redeemed:
                    came_back.append(redeemed)
                    back = redeemed if back is None else min(back, redeemed)
            if back is None:
                break
            last_seen = back

    def reach(self, member_id, public_id, email, consent, card_id, state, campaign, occasion, at) -> datetime | None:
        """One campaign reach; when its voucher was redeemed, if it was."""
        t, shop_id = self.tables, self.shop.pk
        held = self.held_out(campaign, public_id)
        voucher_id = message_id = redeemed_at = None
        if not held and campaign.gift == "voucher":
            expires = at + timedelta(days=14)
            voucher_id, redeemed_at = self.voucher(member_id, card_id, at, self.uid(), state,
                                                   title=campaign.voucher_title, expires=expires)  # fmt: skip
            t[LedgerEntry].add(shop_id=shop_id, member_id=member_id, reason=Reason.CAMPAIGN, voucher_id=voucher_id,
                               group=self.uid(), note=campaign.name, created_at=at)  # fmt: skip
        if not held and consent:
            message_id = t[Message].add(
                public_id=self.uid(), shop_id=shop_id, member_id=member_id, campaign=str(campaign.public_id),
                occasion=occasion, kind=Message.Kind.MARKETING, template="campaigns/email/campaign",
                context={"kind": campaign.kind, "title": campaign.name}, to_email=email,
                status=Message.Status.SENT, attempts=1, created_at=at, next_attempt_at=at, sent_at=at,
            )  # fmt: skip
        t[Reach].add(shop_id=shop_id, campaign_id=campaign.pk, member_id=member_id, occasion=occasion,
                     held_out=held, voucher_id=voucher_id, message_id=message_id, created_at=at)  # fmt: skip
        return redeemed_at


def generate(*, slug: str, members: int, seed: int = 2026, progress=None) -> Shop:
    if Shop.objects.filter(slug=slug).exists():
        raise ValueError(f"A shop {slug!r} exists already; choose another slug or delete it first.")
    return Generator(slug=slug, members=members, seed=seed).build(progress)
