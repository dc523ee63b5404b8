"""The demo café: every feature switched on, six months of history, and a member of every kind.

It is what a newcomer sees on the first start, and the shared fixture of the
whole-site crawl and the browser journeys. Everything is drawn from seeded
random generators (ids, codes, times), so two runs on the same day build the
same café; history is written through the same services as the counter, at
opening hours in the shop's time zone.
"""

import io
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from PIL import Image, ImageDraw

from campaigns import services as campaign_services
from campaigns.events import services as event_services
from campaigns.feedback import services as feedback_services
from campaigns.insights import rollup
from campaigns.models import Campaign, Event, EventSeries, Feedback, Reach
from members import onboarding
from members import services as member_services
from members.config import config_changed
from members.models import (
    CODE_ALPHABET,
    ConsentMethod,
    Invitation,
    Member,
    MemberImport,
    Message,
    Shop,
    StaffMember,
    User,
)
from members.roles import Role
from rewards import imports
from rewards import services as rewards_services
from rewards.lookup import found_by
from rewards.models import (
    CatalogueReward,
    Cause,
    Challenge,
    Contribution,
    FoundBy,
    LedgerEntry,
    Membership,
    MembershipPlan,
    MenuItem,
    OverrideReason,
    PlanPriceChange,
    PointsRule,
    StampProgram,
    Tier,
    TierPolicy,
)
from rewards.services import challenges, giving
from rewards.services.merge import member_merge

from .demo_bakery import USES, build_bakery

DEMO_PASSWORD = "coffee-demo-2026"  # noqa: S105 - printed for the newcomer, demo data only
DEMO_USERS = [
    ("owner@demo.example", "Mei", "Lin", Role.OWNER),
    ("manager@demo.example", "Jun", "Chen", Role.MANAGER),
    ("staff@demo.example", "Ada", "Wang", Role.STAFF),
]
FIRST = ["Yi-Ting", "Wei", "Hsin", "Chia-Hao", "Emma", "Liam", "Yu", "Shu-Fen", "Kai", "Noah", "Mia", "Jia", "Tom"]
LAST = ["Chang", "Huang", "Lee", "Wu", "Tsai", "Smith", "Lin", "Kuo", "Hsu", "Yang", "Chen", "Liu"]
# Opening hours, weighted to the morning rush and lunch (local hours 7 to 19).
HOURS = [7, 8, 8, 8, 9, 9, 10, 11, 12, 12, 13, 13, 14, 15, 16, 17, 18]


@dataclass(frozen=True)
class Persona:
    """A member who shows one thing the product does; the README lists them."""

    key: str
    name: str
    email: str = ""
    phone: str = ""
    language: str = "zh-hant"
    consent: bool = True


PERSONAS = [
    Persona("new", "Hsin Wu", "new@demo.example", "+886912000001", "en"),
    Persona("regular", "Emma Lin", "regular@demo.example", "+886912000002", "en"),
    Persona("reward", "Wei Chang", "member1@demo.example", "+886912000003"),
    Persona("short", "Yu Huang", "member2@demo.example", "+886912000004", "zh-hans"),
    Persona("lapsed", "Kai Tsai", "lapsed@demo.example", "+886912000005"),
    Persona("wonback", "Mia Kuo", "wonback@demo.example", "+886912000006", "en"),
    Persona("birthday", "Shu-Fen Lee", "birthday@demo.example", "+886912000007"),
    Persona("trial", "Noah Smith", "trial@demo.example", "+886912000008", "en"),
    Persona("negative", "Liam Hsu", "refund@demo.example", "+886912000009", "en"),
    Persona("phone", "Chia-Hao Yang", "", "+886912000010", "zh-hant", consent=False),
    Persona("email", "Jia Liu", "emailonly@demo.example", "", "zh-hans"),
    Persona("expiring", "Tom Chen", "expiring@demo.example", "+886912000012", "en"),
    Persona("paused", "Yi-Ting Wang", "pastry@demo.example", "+886912000013"),
    Persona("referrer", "Amy Lo", "referrer@demo.example", "+886912000014", "en"),
    Persona("referred", "Ben Lo", "friend@demo.example", "+886912000015", "en"),
    Persona("corrected", "Grace Ho", "paper@demo.example", "+886912000016"),
]


def demo_logo() -> ContentFile:
    """A coffee cup on the brand colour, drawn here so the demo needs no asset files."""
    image = Image.new("RGBA", (256, 256), (111, 78, 55, 255))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((64, 96, 168, 200), radius=18, fill="white")
    draw.ellipse((150, 116, 206, 172), outline="white", width=14)
    for x in (88, 116, 144):
        draw.line((x, 40, x - 8, 60, x, 80), fill="white", width=8, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return ContentFile(out.getvalue(), name="demo-cafe.png")


def build_demo() -> Shop:
    """Create the demo café and its neighbour the bakery (loyalty_site.demo_bakery), or leave existing
    ones as they are (idempotent)."""
    with transaction.atomic():
        users = _users()
        shop = Shop.objects.filter(slug="demo-cafe").first()
        if shop is None:
            shop = member_services.shop_create(
                owner=users[Role.OWNER], name="Demo Café", slug="demo-cafe", logo=demo_logo(),
                brand_colour="#6F4E37", currency="TWD", time_zone="Asia/Taipei", language="zh-hant",
            )  # fmt: skip
        for role, user in users.items():
            StaffMember.objects.update_or_create(shop=shop, user=user, defaults={"role": role})
        if not shop.members.exists():
            Cafe(shop, users).build()
        regulars = {key: persona_member(shop, key) for key in USES}
        build_bakery(shop, users[Role.OWNER], DEMO_PASSWORD, regulars)
    return shop


def _users() -> dict:
    users = {}
    for email, first, last, role in DEMO_USERS:
        user, created = User.objects.get_or_create(email=email, defaults={"first_name": first, "last_name": last})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        users[role] = user
    return users


class Cafe:
    def __init__(self, shop: Shop, users: dict):
        self.shop = shop
        self.users = users
        self.staff = [users[Role.STAFF], users[Role.MANAGER]]
        self.rng = random.Random(2026)  # noqa: S311 - reproducible demo data, not secrets
        self.now = timezone.now()
        self.today = timezone.localtime(self.now, shop.tz).date()
        self.keys = 0
        self.members: dict[str, Member] = {}
        self.crowd: list[Member] = []
        self.newcomer_members: list[Member] = []

    # Seeded stand-ins for the random defaults, so the demo (hold-out groups included) repeats.
    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def code(self) -> str:
        return "".join(self.rng.choice(CODE_ALPHABET) for _ in range(8))

    def key(self, what: str) -> str:
        self.keys += 1
        return f"demo-{what}-{self.keys}"

    def at(self, days_ago: int, hour: int | None = None) -> datetime:
        """A moment ``days_ago`` days back, in opening hours of the shop's own day."""
        day = self.today - timedelta(days=days_ago)
        hour = self.rng.choice(HOURS) if hour is None else hour
        moment = datetime.combine(day, time(hour, self.rng.randint(0, 59)), tzinfo=self.shop.tz)
        return min(moment, self.now - timedelta(minutes=30 + days_ago))

    def build(self) -> None:
        self.setup()
        for persona in PERSONAS:
            self.members[persona.key] = self.member(persona)
        self.crowd = [self.member(crowd=n) for n in range(1, 33)]
        self.histories()
        self.winback()
        # Drawn after the histories and the win-back, so those stay as they were: the newcomers
        # joined too late for the win-back, and the treats spend points only.
        self.newcomers()
        self.treats()
        self.today_at_the_counter()
        self.daily_tasks()
        self.messages()
        self.left()
        self.worth_a_look()
        self.merged()
        self.paper_cards()
        self.prepaid()
        self.likely_twin()
        self.retention()
        self.giving()
        self.challenges()
        self.notes()
        self.events()
        self.feedback()
        # The campaigns' figures, as the worker keeps them (the list shows what each reached).
        campaign_services.figures_refresh_due(now=self.now)
        # Every past day counted for the insights, as the nightly run would have.
        rollup.backfill(self.shop, now=self.now)
        # Months in, the first day's checklist is long done.
        for step in onboarding.STEPS:
            onboarding.record(self.shop, step)

    # Programs and campaigns, as an owner sets them up.
    def setup(self) -> None:
        shop = self.shop
        self.program = StampProgram.objects.for_shop(shop).first()
        StampProgram.objects.filter(pk=self.program.pk).update(
            name="Coffee card", reward="A free coffee", voucher_valid_days=60, public_id=self.uuid()
        )
        self.program.refresh_from_db()
        config_changed(shop.pk)
        self.pastry = StampProgram.objects.create(
            shop=shop, public_id=self.uuid(), name="Pastry card", stamps_needed=6, reward="A free croissant",
            voucher_valid_days=30,
        )  # fmt: skip
        PointsRule.objects.create(
            shop=shop, is_active=True, step_amount=10, bill_points=100, bill_value=10, purchase_stamps=self.program,
            expiry=PointsRule.Expiry.AFTER_LAST_VISIT, expiry_months=2, expiry_since=self.now - timedelta(days=200),
        )  # fmt: skip
        TierPolicy.objects.create(shop=shop, basis=TierPolicy.Basis.VISITS, window_months=6, grace_days=30)
        self.silver = Tier.objects.create(
            shop=shop, public_id=self.uuid(), name="Silver", threshold=8, multiplier=Decimal("1.25"),
            benefits="Free oat milk",
        )  # fmt: skip
        self.gold = Tier.objects.create(
            shop=shop, public_id=self.uuid(), name="Gold", threshold=20, multiplier=Decimal("1.5"),
            benefits="Free size upgrade, early tastings",
        )  # fmt: skip
        rewards = [
            {"name": "Butter cookie", "cost_points": 50},
            {"name": "Slice of cheesecake", "cost_points": 150, "stock": 5},
            {"name": "NT$30 off", "kind": CatalogueReward.Kind.AMOUNT_OFF, "value": 30, "cost_points": 200},
            {
                "name": "10% off a bag of beans",
                "kind": CatalogueReward.Kind.PERCENT_OFF,
                "value": 10,
                "cost_points": 120,
            },
            {
                "name": "Gold members' tasting flight",
                "cost_stamps": 3,
                "stamp_program": self.program,
                "min_tier": self.gold,
                "per_member_limit": 1,
            },
        ]
        self.rewards = [CatalogueReward.objects.create(shop=shop, public_id=self.uuid(), **r) for r in rewards]
        # The short menu the counter taps, for three months now; ids fixed, not drawn (as the cause's).
        menu = [("Americano", "coffee", 90), ("Oat latte", "coffee", 130), ("Flat white", "coffee", 120),
                ("Osmanthus oolong", "seasonal", 140), ("Butter croissant", "pastry", 70)]  # fmt: skip
        self.menu = [
            MenuItem.objects.create(
                shop=shop, public_id=uuid.UUID(int=0x6D0E0000 + n, version=4), name=name, tag=tag, price=price,
                position=n,
            )
            for n, (name, tag, price) in enumerate(menu)
        ]  # fmt: skip
        self.menu_since = self.now - timedelta(days=90)
        # A tree for every ten visits since the start, on the poster; members may give points too.
        # Its id is fixed rather than drawn, so the draws of everything after it stay as they were.
        self.cause = Cause.objects.create(
            shop=shop, public_id=uuid.UUID("5d1e7c0a-7e3b-4c1e-9a51-7a2f0c3e1b01"), name="A tree for Taipei",
            description="Every ten visits plant a native tree on the hills around Taipei, with the Green Taiwan "
            "Trees Association. Members can give their points too, and the café matches what they give.",
            partner="Green Taiwan Trees Association", partner_url="https://trees.example.org/", unit="trees",
            unit_cost=50, goal=500, basis=Cause.Basis.VISIT, amount_per=5, point_value=Decimal("0.5"),
            match_limit=2000, on_poster=True, created_at=self.now - timedelta(days=200),
        )  # fmt: skip

        kinds = Campaign.Kind
        since = self.now - timedelta(days=190)
        campaigns = [
            {"kind": kinds.WELCOME, "name": "Welcome stamps", "gift": "stamps", "gift_stamps": 1},
            {"kind": kinds.BIRTHDAY, "name": "Birthday cake", "gift": "voucher", "voucher_title": "Slice of cake",
                 "days_before": 7},
            {"kind": kinds.BOOST, "name": "Double Wednesday", "multiplier": 2, "weekdays": "2"},
            {"kind": kinds.REFERRAL, "name": "Bring a friend", "gift": "stamps", "gift_stamps": 2, "referral_limit": 5},
            {"kind": kinds.ANNOUNCEMENT, "name": "Autumn menu", "subject": "Our autumn menu is here",
                 "body": "Chestnut latte and pumpkin cake, from next Monday.", "send_at": self.now + timedelta(days=7)},
            {"kind": kinds.ANNOUNCEMENT, "name": "Summer hours", "subject": "Open until 21:00 in summer",
                 "body": "From July we stay open late on Fridays.", "send_at": self.now - timedelta(days=120)},
            {"kind": kinds.WINBACK, "name": "We miss you", "days_away": 30, "gift": "voucher",
             "voucher_title": "Coffee on us", "holdout_percent": 20},
        ]  # fmt: skip
        self.campaigns = {}
        for fields in campaigns:
            fields.setdefault("starts_at", since)
            campaign = Campaign.objects.create(shop=shop, public_id=self.uuid(), **fields)
            self.campaigns[campaign.name] = campaign
        # A staff invitation still waiting for an answer, opened by an account under another address.
        Invitation.objects.create(
            id=self.uuid(), shop=shop, email="new.barista@demo.example", role=Role.STAFF,
            invited_by=self.users[Role.OWNER], expires_at=self.now + timedelta(days=5),
            requested_by=self.users[Role.STAFF],
        )  # fmt: skip

    def member(self, persona: Persona | None = None, *, crowd: int = 0, joined_days_ago: int | None = None) -> Member:
        if persona is None:
            n = crowd + 2  # member1 and member2 are personas
            persona = Persona(
                f"crowd{crowd}", f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}", f"member{n}@demo.example",
                f"+8869{self.rng.randint(20000000, 99999999)}",
                self.rng.choice(["zh-hant", "zh-hant", "en", "zh-hans"]), consent=n % 3 != 0,
            )  # fmt: skip
        # Joined this morning, and a friend who joined through a referral link two weeks ago.
        days = joined_days_ago
        if days is None:
            days = {"new": 0, "referred": 14}.get(persona.key, self.rng.randint(150, 185))
        joined = self.at(days)
        member = Member.objects.create(
            shop=self.shop, public_id=self.uuid(), code=self.code(), name=persona.name, email=persona.email,
            phone=persona.phone, language=persona.language, marketing_consent=persona.consent,
            consent_version="2026-01" if persona.consent else "", consent_at=joined if persona.consent else None,
            consent_method=ConsentMethod.FORM if persona.consent else "",
            joined_at=joined,
        )  # fmt: skip
        if persona.key == "regular":
            # A customer with an account (signed in with a code sent to the address): all their cards
            # on one page, their own settings, a copy of their data.
            user = User.objects.create_user(email=persona.email, password=None, first_name=persona.name)
            EmailAddress.objects.create(user=user, email=persona.email, primary=True, verified=True)
            Member.objects.filter(pk=member.pk).update(user=user)
            member.user = user
        # The welcome campaign reached everyone who joined while it ran.
        with transaction.atomic():
            campaign_services.welcome_locked(member=member, now=joined)
        return member

    # Visits.
    def visit(self, member: Member, at: datetime, *, spend: int | None = None, staff=None, pastry: bool = False):
        staff = staff or self.rng.choice(self.staff)
        items = self.had(member, at, pastry)
        if spend:
            return rewards_services.purchase_record(
                member=member, amount=Decimal(spend), staff=staff, idempotency_key=self.key("buy"), at=at,
                items=items,
            )  # fmt: skip
        return rewards_services.stamp_add(
            member=member, program=self.pastry if pastry else self.program, count=1, staff=staff,
            idempotency_key=self.key("stamp"), at=at, items=items,
        )  # fmt: skip

    def had(self, member: Member, at: datetime, pastry: bool) -> list[MenuItem]:
        """What a visit since the menu came was tagged with, from the member's code and the day (no draw,
        so the demo's other draws stay as they were): Emma's usual is an oat latte."""
        if at < self.menu_since:
            return []
        if pastry:
            return [self.menu[4]]
        if member.phone == "+886912000002":
            return [self.menu[1]] if at.day % 4 else [self.menu[1], self.menu[4]]
        return [self.menu[(sum(map(ord, member.code)) + at.toordinal() // 3) % 4]]

    def visits(self, member: Member, days_ago: list[int], *, redeem: float = 0.7, spend: float = 0.5) -> None:
        for days in sorted(set(days_ago), reverse=True):
            at = self.at(days)
            result = self.visit(
                member, at, spend=self.rng.choice([80, 120, 150, 210, 340]) if self.rng.random() < spend else None
            )
            for voucher in result.vouchers_issued:
                if self.rng.random() < redeem and days > 2:
                    later = at + timedelta(days=self.rng.randint(1, min(days - 1, 10)), hours=1)
                    rewards_services.voucher_redeem(
                        shop=self.shop, voucher_id=voucher.pk, staff=self.rng.choice(self.staff),
                        idempotency_key=self.key("redeem"), at=later,
                    )  # fmt: skip

    def spread(self, start: int, end: int, count: int) -> list[int]:
        """``count`` different days between ``start`` and ``end`` days ago."""
        return self.rng.sample(range(end, start), min(count, start - end))

    def plain_days(self, *, start: int, count: int) -> list[int]:
        """``count`` days back from ``start`` days ago, two or three apart, none a member day (Wednesday)."""
        days, day = [], start
        while len(days) < count:
            if (self.today - timedelta(days=day)).weekday() != 2:
                days.append(day)
            day += self.rng.choice([2, 3])
        return days

    def histories(self) -> None:
        m = self.members
        self.visits(m["regular"], self.spread(180, 1, 60), spend=0.8)
        self.visits(m["reward"], self.spread(120, 3, self.program.stamps_needed), redeem=0)
        # The welcome stamp and visits on plain days (no member-day bonus): one stamp short.
        self.visits(m["short"], self.plain_days(start=40, count=self.program.stamps_needed - 2), redeem=0, spend=0)
        self.visits(m["lapsed"], self.spread(170, 75, 9), spend=0.9)
        self.visits(m["wonback"], self.spread(170, 60, 7))
        self.visits(m["birthday"], self.spread(100, 10, 5))
        self.visits(m["trial"], self.spread(150, 5, 10), spend=0.6)
        self.visits(m["negative"], self.spread(60, 20, 4), spend=1)
        self.visits(m["phone"], self.spread(80, 4, 6), spend=0)
        self.visits(m["email"], self.spread(40, 6, 3))
        self.visits(m["referrer"], self.spread(160, 8, 12))
        self.visits(m["corrected"], self.spread(30, 10, 2))
        # Completed a card 58 days ago: the voucher is valid for two more days.
        completed = self.program.voucher_valid_days - 2
        self.visits(m["expiring"], self.plain_days(start=completed, count=self.program.stamps_needed - 1), redeem=0,
                    spend=0)  # fmt: skip
        # Collected pastry stamps, then the shop paused the pastry card.
        for days in sorted(self.spread(90, 30, 4), reverse=True):
            self.visit(m["paused"], self.at(days), pastry=True)
        self.visits(m["paused"], self.spread(90, 30, 3))
        StampProgram.objects.filter(pk=self.pastry.pk).update(is_active=False)
        config_changed(self.shop.pk)
        # The crowd: regulars, occasional visitors and some who stopped coming two to four months ago.
        for i, member in enumerate(self.crowd):
            kind = i % 4
            if kind == 0:
                self.visits(member, self.spread(180, 1, self.rng.randint(15, 30)))
            elif kind == 1:
                self.visits(member, self.spread(150, 1, self.rng.randint(3, 10)))
            elif kind == 2:
                self.visits(member, self.spread(180, self.rng.randint(60, 120), self.rng.randint(4, 14)))
            # kind 3: joined, never came back

        # Referred: joined through the referrer's link; the first visit pays both.
        friend = m["referred"]
        Member.objects.filter(pk=friend.pk).update(referred_by=m["referrer"])
        friend.refresh_from_db()
        self.visit(friend, self.at(12))
        self.visit(friend, self.at(5), spend=150)
        # The announcement of the summer, sent in the past.
        campaign_services.announcement_send(campaign=self.campaigns["Summer hours"], now=self.at(120, 10))

    def newcomers(self) -> None:
        """Members joining month after month from the poster, some coming back and some not: the
        insights' new members, retention by joining month and second-visit rate."""
        for month in range(6):
            for n in range(self.rng.randint(2, 5)):
                persona = Persona(
                    f"newcomer{month}-{n}", f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}",
                    f"newcomer{month}{n}@demo.example", "", self.rng.choice(["zh-hant", "en", "zh-hans"]),
                )  # fmt: skip
                joined = self.rng.randint(month * 30 + 2, month * 30 + 29)
                member = self.member(persona, joined_days_ago=joined)
                self.newcomer_members.append(member)
                habit = self.rng.random()
                if habit < 0.55:  # came back within the month, some of them for good
                    back = [d for d in self.spread(joined - 1, max(joined - 28, 1), 2) if d < joined]
                    later = self.spread(max(joined - 28, 2), 1, self.rng.randint(0, 8)) if habit < 0.35 else []
                    self.visits(member, back + later)
                elif habit < 0.75:  # came back once, much later
                    self.visits(member, self.spread(max(joined - 40, 2), 1, 1))

    def treats(self) -> None:
        """Regulars spending points on the catalogue's free items now and then."""
        for member in [self.members["regular"], *self.crowd[::4]]:
            member.refresh_from_db()
            for days in sorted(self.spread(170, 3, 3), reverse=True):
                member.refresh_from_db()
                if member.points < self.rewards[0].cost_points:
                    break
                rewards_services.reward_redeem(
                    member=member, reward_id=self.rewards[0].pk, staff=self.rng.choice(self.staff),
                    idempotency_key=self.key("treat"), at=self.at(days),
                )  # fmt: skip

    def worth_a_look(self) -> None:
        """What the owner's flags are for: stamps late at night, one member stamped past the limits
        week after week, five sign-ups from one network address in an evening."""
        staff, manager = self.users[Role.STAFF], self.users[Role.MANAGER]
        # One of the crowd who had not come back since joining (so these are their latest rows). The
        # win-back brings some of them back, and which depends on the day the demo is built: the
        # first with nothing in the last 17 days.
        quiet = [self.crowd[3], *self.crowd[7::4], *self.crowd]
        since = self.now - timedelta(days=17)
        late = next(m for m in quiet if not LedgerEntry.objects.filter(member=m, created_at__gt=since).exists())
        for days in (16, 9):
            self.visit(late, self.at(days, hour=23), staff=staff)
        for days in (20, 13, 6):
            rewards_services.stamp_add(
                member=self.crowd[7], program=self.program, count=3, staff=manager, override=True,
                override_reason=OverrideReason.GOODWILL, note="Regular's friends", idempotency_key=self.key("limit"),
                at=self.at(days),
            )  # fmt: skip
        for n in range(5):
            persona = Persona(
                f"burst{n}", f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}", f"burst{n}@demo.example"
            )
            member = self.member(persona, joined_days_ago=4)
            Member.objects.filter(pk=member.pk).update(joined_from="5f2c0e9a1b7d4c38")

    def winback(self) -> None:
        """The win-back ran three weeks ago at 10:00 in the shop; some came back, more of those reached."""
        winback = self.campaigns["We miss you"]
        ran = self.at(21, hour=10)
        campaign_services.winback_run(now=ran)
        seen = {True: 0, False: 0}
        reaches = Reach.objects.filter(campaign=winback).select_related("member", "voucher").order_by("member__code")
        for reach in reaches:
            n = seen[reach.held_out] = seen[reach.held_out] + 1
            back_again = (
                (n % 4 == 0) if reach.held_out else (n % 5 in (0, 2, 3)) or reach.member == self.members["wonback"]
            )
            if not back_again or reach.member == self.members["lapsed"]:
                continue
            back = ran + timedelta(days=self.rng.randint(1, 18), hours=self.rng.randint(0, 6))
            staff = self.rng.choice(self.staff)
            self.visit(reach.member, back, staff=staff)
            if reach.voucher and reach.voucher.expires_at > back:
                rewards_services.voucher_redeem(
                    shop=self.shop, voucher_id=reach.voucher_id, staff=staff, idempotency_key=self.key("wb"), at=back
                )

    def today_at_the_counter(self) -> None:
        """What happened this morning: a join, a slip undone, a refund, a paper card brought over, a trial."""
        m, manager = self.members, self.users[Role.MANAGER]
        # New this morning: joined from the poster (the welcome stamp is on the card).
        # A stamp given to the wrong person and undone at once.
        slip = self.visit(m["corrected"], self.now - timedelta(minutes=3), staff=self.users[Role.STAFF])
        rewards_services.action_undo(
            shop=self.shop, group=slip.group, staff=self.users[Role.STAFF], idempotency_key=self.key("undo")
        )
        # Four stamps from a paper card, moved over by the manager with a reason.
        rewards_services.stamps_adjust(
            member=m["corrected"], program=self.program, stamps=4, note="Paper card brought in", staff=manager,
            idempotency_key=self.key("adjust"),
        )  # fmt: skip
        # Spent the points of a purchase on a cheesecake, then the purchase was refunded: below zero.
        purchase = rewards_services.purchase_record(
            member=m["negative"], amount=Decimal(900), staff=manager, idempotency_key=self.key("big"),
            at=self.now - timedelta(hours=3),
        ).purchase  # fmt: skip
        rewards_services.reward_redeem(
            member=m["negative"], reward_id=self.rewards[1].pk, staff=manager, idempotency_key=self.key("cake")
        )
        rewards_services.purchase_refund(
            shop=self.shop, purchase_id=purchase.pk, amount=Decimal(900), staff=manager,
            idempotency_key=self.key("refund"),
        )  # fmt: skip
        # The regular, found by scanning her card: paid part of today's bill with points, took a cookie,
        # and had NT$30 off a later purchase with a reward from the catalogue.
        with found_by(FoundBy.QR):
            rewards_services.purchase_record(
                member=m["regular"], amount=Decimal(240), pay_points=100, staff=manager,
                idempotency_key=self.key("pay"), at=self.now - timedelta(hours=2),
            )  # fmt: skip
            rewards_services.reward_redeem(
                member=m["regular"], reward_id=self.rewards[0].pk, staff=manager, idempotency_key=self.key("cookie")
            )
            rewards_services.purchase_record(
                member=m["regular"], amount=Decimal(450), reward_id=self.rewards[2].pk, staff=manager,
                idempotency_key=self.key("beans"), at=self.now - timedelta(minutes=90),
            )  # fmt: skip
        # Found by phone: five stamps at once, past the card's limit, by a manager's override with its reason.
        with found_by(FoundBy.PHONE):
            rewards_services.stamp_add(
                member=m["phone"], program=self.program, count=5, staff=manager, override=True,
                override_reason=OverrideReason.PAPER_CARD, note="Five stamps from a paper card",
                idempotency_key=self.key("override"), at=self.now - timedelta(minutes=40),
            )  # fmt: skip
        # A Silver member tries Gold for two weeks.
        rewards_services.tier_trial_start(member=m["trial"], tier=self.gold, days=14, staff=manager)
        # Birthday on Saturday: the birthday campaign has sent its gift.
        birthday = self.today + timedelta(days=3)
        Member.objects.filter(pk=m["birthday"].pk).update(birthday=birthday.replace(year=1996))
        morning = datetime.combine(self.today, time(10), tzinfo=self.shop.tz)
        campaign_services.birthdays_run(now=morning if morning < self.now else morning - timedelta(days=1))

    def daily_tasks(self) -> None:
        """The beat's daily work, as it would have run this morning."""
        rewards_services.tiers_review(now=self.now)
        rewards_services.points_expire(now=self.now)
        rewards_services.vouchers_expire(now=self.now)

    def messages(self) -> None:
        """The outbox of a café that has run for months: past messages went out at the time (a fresh
        start must not send vouchers that expired long ago), and one bounced, for the owner to see."""
        for message in Message.objects.filter(shop=self.shop, status=Message.Status.PENDING):
            Message.objects.filter(pk=message.pk).update(
                status=Message.Status.SENT, sent_at=message.created_at, attempts=1, public_id=self.uuid()
            )
        summer = str(self.campaigns["Summer hours"].public_id)
        bounced = Message.objects.filter(shop=self.shop, campaign=summer).order_by("member__code")
        if first := bounced.first():
            Message.objects.filter(pk=first.pk).update(
                status=Message.Status.FAILED, sent_at=None, attempts=5,
                last_error="550 5.1.1 Mailbox does not exist",
            )  # fmt: skip

    def left(self) -> None:
        """The last of the crowd asked to leave this morning: the owner erased their personal data, so
        their history names nobody, their balances are closed, and the audit trail has an entry."""
        member_services.member_erase(member=self.crowd[-1], by=self.users[Role.OWNER], note="Asked in person")

    def merged(self) -> None:
        """A regular of the crowd had a second card from a busy day (no phone, no e-mail): the manager
        merged it into theirs twenty minutes ago, and can still undo it."""
        kept, manager = self.crowd[0], self.users[Role.MANAGER]
        twin = Member.objects.create(
            shop=self.shop, public_id=self.uuid(), code=self.code(), name=kept.name, language=kept.language,
            joined_at=self.at(20),
        )  # fmt: skip
        rewards_services.stamp_add(
            member=twin, program=self.program, count=1, staff=manager, idempotency_key=self.key("twin"), at=self.at(10)
        )
        member_merge(shop=self.shop, keep=kept, merge=twin, by=manager, now=self.now - timedelta(minutes=20))

    def paper_cards(self) -> None:
        """When the café went digital, four months ago, the owner imported the paper cards typed into
        a sheet (Big5, as Excel in Taiwan saves it): two new members with their stamps and points, a
        regular's birthday filled in, and a row without a phone, rejected."""
        regular = self.crowd[1]
        local = "0" + regular.phone.removeprefix("+886")
        sheet = (
            "姓名,手機,Coffee card,點數,生日,加入日期\r\n"
            "李淑芬,0933 201 118,6,40,1972-09-03,2023/04/18\r\n"
            "Jason Ho,0933-201-119,3,,,2024/11/02\r\n"
            f"{regular.name},{local},,,1989-05-20,\r\n"
            "王先生,,2,,,\r\n"
        ).encode("cp950")
        owner, at = self.users[Role.OWNER], self.at(120, hour=9)
        imp = imports.upload(shop=self.shop, user=owner, data=sheet, filename="paper-cards.csv", encoding="auto")
        imports.queue(imp, imp.mapping)
        imports.run(imp.pk, now=at)
        MemberImport.objects.filter(pk=imp.pk).update(public_id=self.uuid(), created_at=at, started_at=at)
        for member in Member.objects.filter(shop=self.shop, phone__in=["+886933201118", "+886933201119"]).order_by(
            "pk"
        ):
            Member.objects.filter(pk=member.pk).update(public_id=self.uuid(), code=self.code())

    def retention(self) -> None:
        """The owner keeps members for two years without a visit, then lets them go (told a month
        before): the settings page states the rule, the audit trail the change."""
        member_services.shop_update(shop=self.shop, fields={"retention_months": 24}, by=self.users[Role.OWNER])

    def likely_twin(self) -> None:
        """A regular who joined on the poster with her e-mail signed up again at the counter three
        days ago with her phone, giving the same name and birthday: the members list and the counter
        show a likely duplicate for a manager to merge."""
        regular = self.crowd[3]
        birthday = date(1991, 6, 14)
        Member.objects.filter(pk=regular.pk).update(birthday=birthday)
        Member.objects.create(
            shop=self.shop, public_id=self.uuid(), code=self.code(), name=regular.name, language=regular.language,
            phone="+886933555018", birthday=birthday, joined_at=self.at(3), enrolled_by=self.users[Role.STAFF],
        )  # fmt: skip

    def prepaid(self) -> None:
        """Memberships sold at the counter: a monthly coffee club, and ten lattes for the price of
        eight. One of the crowd bought a bundle five weeks ago and has had three lattes since;
        another bought one, had two, and was refunded the unused part. Drawn last, so the rest of
        the café stays as it was."""
        shop, manager = self.shop, self.users[Role.MANAGER]
        bundle = MembershipPlan.objects.create(
            shop=shop, public_id=self.uuid(), name="10 lattes for the price of 8", kind=MembershipPlan.Kind.BUNDLE,
            price=Decimal(1040), items=10, item_name="latte", valid_days=180, created_at=self.at(60, hour=9),
        )  # fmt: skip
        club = MembershipPlan.objects.create(
            shop=shop, public_id=self.uuid(), name="Coffee club", kind=MembershipPlan.Kind.PERIOD, price=Decimal(490),
            period_months=1, discount_percent=10, allowance_title="A free drip coffee", vip_after_months=6,
            benefits="First taste of each new roast", created_at=self.at(240, hour=9),
        )  # fmt: skip
        # (who, bought days ago, lattes days ago, refunded days ago)
        buyers = [(self.crowd[5], 35, (30, 19, 8), None), (self.crowd[9], 28, (21, 14), 10)]
        for member, bought, used, refunded in buyers:
            sold = rewards_services.plan_sell(
                member=member, plan=bundle, staff=self.rng.choice(self.staff), idempotency_key=self.key("plan"),
                payment_method=Membership.PaymentMethod.CARD, receipt=f"A-{self.rng.randint(1000, 9999)}",
                at=self.at(bought),
            ).membership  # fmt: skip
            Membership.objects.filter(pk=sold.pk).update(public_id=self.uuid())
            for days in used:
                rewards_services.bundle_redeem(
                    member=member, membership=sold, staff=self.rng.choice(self.staff), at=self.at(days),
                    idempotency_key=self.key("latte"),
                )  # fmt: skip
            if refunded:
                rewards_services.membership_refund(
                    membership=sold, staff=manager, idempotency_key=self.key("unplan"), at=self.at(refunded, hour=17)
                )
        self.coffee_club(club, bundle)

    def coffee_club(self, club: MembershipPlan, bundle: MembershipPlan) -> None:
        """The monthly club over eight months, as the hourly round saw it: a regular who renewed every
        month for seven months is VIP and renewed early, at today's price, when the owner announced
        a new one; another let it lapse; a bundle bought half a year ago expired with lattes left;
        the gold members were offered a month of it for free."""
        vip, lapsed, expired = self.crowd[2], self.crowd[4], self.crowd[6]
        staff = self.rng.choice(self.staff)

        def sell(member, plan, days_ago, renews=None):
            held = rewards_services.plan_sell(
                member=member, plan=plan, staff=staff, idempotency_key=self.key("plan"), renews=renews,
                payment_method=self.rng.choice(Membership.PaymentMethod.values), at=self.at(days_ago),
            ).membership  # fmt: skip
            Membership.objects.filter(pk=held.pk).update(public_id=self.uuid())
            return held

        # Renewed at the counter two or three days before each month ended, seven months running.
        held = sell(vip, club, 215)
        while held.ends_at < self.now + timedelta(days=2):
            renew_on = (self.today - timezone.localtime(held.ends_at, self.shop.tz).date()).days + 3
            held = sell(vip, club, renew_on, renews=held)
        sell(lapsed, club, 45)
        sold = sell(expired, bundle, 200)
        for days in (190, 150, 120, 95):
            rewards_services.bundle_redeem(
                member=expired, membership=sold, staff=staff, at=self.at(days), idempotency_key=self.key("latte")
            )
        # The hourly round, day by day: monthly vouchers, ends, reminders, the VIP's months.
        for days_ago in range(240, -1, -1):
            rewards_services.memberships_run(now=self.at(days_ago, hour=7))
        # The owner announced a new price three days ago: 550 from ten days on.
        change = rewards_services.price_change_schedule(
            plan=club, new_price=Decimal(550), from_day=self.today + timedelta(days=10), staff=self.users[Role.OWNER]
        )
        PlanPriceChange.objects.filter(pk=change.pk).update(created_at=self.at(3, hour=8), public_id=self.uuid())
        rewards_services.price_change_invite(change_id=change.pk, now=self.at(3, hour=8))
        # The VIP renewed early this morning, at today's price.
        sell(vip, club, 0, renews=held)
        # Five days ago the owner offered the gold members a month of the club for free.
        trial = Campaign.objects.create(
            shop=self.shop, public_id=self.uuid(), kind=Campaign.Kind.ANNOUNCEMENT, name="Try the Coffee club",
            subject="A month of the Coffee club, on us", body="Your monthly drip coffee and 10% off, for a month.",
            audience=Campaign.Audience.TIER, audience_tier=self.gold, gift="plan_trial", gift_plan=club,
            gift_plan_days=30, starts_at=self.at(6), send_at=self.at(5, hour=10),
        )  # fmt: skip
        campaign_services.announcement_send(campaign=trial, now=self.at(5, hour=10))
        self.campaigns[trial.name] = trial
        # What the round wrote went out at the time.
        Message.objects.filter(shop=self.shop, status=Message.Status.PENDING).update(
            status=Message.Status.SENT, sent_at=self.now, attempts=1
        )

    def events(self) -> None:
        """A monthly cupping for Gold members (and above): last month's is over, with who came (one of
        them walked in without a yes) and a no-show; the next dates were made by repeating it, and the
        next one is full, with one member on the waiting list. Emma (the regular) has not answered
        yet: her card shows the invitation."""
        owner, staff = self.users[Role.OWNER], self.users[Role.STAFF]
        tz = self.shop.tz
        gold = list(
            self.shop.members.filter(tier__threshold__gte=self.gold.threshold)
            .exclude(pk=self.members["regular"].pk)
            .order_by("pk")
        )
        # Last month's, set up a week before it: 30 points for coming, given at check-in.
        day = self.today - timedelta(days=28)
        starts = datetime.combine(day, time(19), tzinfo=tz)
        set_up = starts - timedelta(days=7)
        past = event_services.event_save(
            event=Event(
                shop=self.shop, public_id=self.uuid(), title="Monthly cupping",
                description="Three washed Ethiopian lots, tasted side by side with our roaster.",
                place="The roastery table", starts_at=starts, ends_at=starts + timedelta(hours=2), capacity=8,
                audience=Event.Audience.TIER, audience_tier=self.gold, gift=Event.Gift.POINTS, gift_points=30,
            ),
            by=owner, now=set_up,
        )  # fmt: skip
        event_services.event_invite_request(event=past, by=owner, now=set_up)
        for n, member in enumerate(gold[:5]):
            event_services.rsvp_set(member=member, event=past, answer="yes", now=set_up + timedelta(hours=n + 1))
        # Four of the five came; a Silver member walked in and staff let them join.
        for n, member in enumerate(gold[:4]):
            with found_by(FoundBy.QR):
                event_services.event_check_in(
                    event=past, member=member, staff=staff, now=starts - timedelta(minutes=10 - n)
                )
        walk_in = self.shop.members.filter(tier=self.silver).order_by("pk").first()
        if walk_in is not None:
            with found_by(FoundBy.QR):
                event_services.event_check_in(
                    event=past, member=walk_in, staff=staff, walk_in=True, now=starts + timedelta(minutes=5)
                )
        # Every month on the same weekday: the next three dates, with the same details.
        made = event_services.event_repeat(
            event=past, by=owner, rule=EventSeries.Rule.MONTHLY_WEEKDAY, count=3, now=self.now
        )
        for event in made:
            Event.objects.filter(pk=event.pk).update(public_id=self.uuid())
        coming = Event.objects.get(pk=made[0].pk)
        # The next one: invited (e-mails to those who agreed to news, sent at the time), full, one
        # waiting and one who cannot come.
        coming.capacity = seats = max(1, min(6, len(gold) - 2))
        event_services.event_save(event=coming, by=owner, now=self.now - timedelta(days=3))
        event_services.event_invite_request(event=coming, by=owner, now=self.now - timedelta(days=2))
        event_services.event_invite(event_id=coming.pk, now=self.now - timedelta(days=2))
        for n, member in enumerate(gold[: seats + 2]):
            reply = "no" if n == seats + 1 else "yes"
            event_services.rsvp_set(member=member, event=coming, answer=reply, now=self.now - timedelta(hours=40 - n))
        Message.objects.filter(
            shop=self.shop, campaign=event_services.INVITATION, status=Message.Status.PENDING
        ).update(status=Message.Status.SENT, sent_at=self.now - timedelta(days=2), attempts=1)

    def feedback(self) -> None:
        """Feedback after a visit, switched on: a dozen answers over the last eight weeks about visits
        the two members of staff served, one low rating waiting for a reply and one replied to. The
        visits of today are still to be asked about on their cards (the regular's among them)."""
        owner = self.users[Role.OWNER]
        feedback_services.setup_save(shop=self.shop, by=owner, is_active=True, question="", flag_at=2)
        visits = (
            LedgerEntry.objects.filter(
                shop=self.shop, created_at__gte=self.now - timedelta(weeks=8),
                created_at__lt=self.now - timedelta(days=1), member__erased_at__isnull=True,
            )
            .exclude(member__email="")
            .visits()
            .order_by("created_at", "id")
            .select_related("member")
        )  # fmt: skip
        answers = [
            (5, "Best flat white in town."), (4, ""), (5, "Lovely staff, thank you!"), (3, "A bit slow at lunch."),
            (5, ""), (2, "The milk was not hot enough."), (4, "The chestnut latte is great."), (5, ""),
            (4, "Cosy as always."), (5, "謝謝，咖啡很好喝！"), (1, "Waited twenty minutes and my order was wrong."),
            (4, ""),
        ]  # fmt: skip
        found = list(visits)
        step = max(len(found) // len(answers), 1)
        used, given = set(), []
        for visit in found[::step]:
            day = timezone.localtime(visit.created_at, self.shop.tz).date()
            if (visit.member_id, day) in used or len(given) == len(answers):
                continue
            used.add((visit.member_id, day))
            rating, comment = answers[len(given)]
            at = visit.created_at + timedelta(minutes=self.rng.randint(5, 50))
            given.append(feedback_services.feedback_give(member=visit.member, rating=rating, comment=comment, now=at))
        for item in given:
            Feedback.objects.filter(pk=item.pk).update(public_id=self.uuid())
        # The 2 of 5 was answered by the owner the same afternoon; the 1 of 5 (last week) waits.
        cold = next(item for item in given if item.rating == 2)
        cold.refresh_from_db()
        feedback_services.feedback_reply(
            feedback=cold, by=owner, now=cold.created_at + timedelta(hours=3),
            text="Thank you for telling us, and sorry: we have checked the steamer. Your next drink is on us.",
        )  # fmt: skip
        for message in Message.objects.filter(shop=self.shop, campaign=feedback_services.REPLY):
            Message.objects.filter(pk=message.pk).update(
                status=Message.Status.SENT, sent_at=cold.created_at + timedelta(hours=3), attempts=1,
                public_id=self.uuid(),
            )  # fmt: skip

    def challenges(self) -> None:
        """Two challenges: three visits a week (a stamp on the coffee card, and a board two members
        joined by nickname) and this season's drink (a badge). Lapsed regulars came back for three
        visits in a week that is over, one of them with the osmanthus oolong; a third is on her way
        this week. Ids fixed, not drawn, and no draws: what was built before stays."""
        shop, owner, staff = self.shop, self.users[Role.OWNER], self.users[Role.STAFF]
        weekly = challenges.challenge_save(
            shop=shop, by=owner,
            fields={
                "name": "Three visits this week", "kind": Challenge.Kind.VISITS, "window": Challenge.Window.WEEK,
                "target": 3, "description": "Come by three times between Monday and Sunday: a stamp on the house.",
                "gift": Challenge.Gift.STAMPS, "gift_stamps": 1, "gift_program": self.program, "badge_emoji": "☕",
                "badge_name": "Regular", "leaderboard": True,
            },
        )  # fmt: skip
        seasonal = challenges.challenge_save(
            shop=shop, by=owner,
            fields={
                "name": "This season's drink", "kind": Challenge.Kind.TAG, "tag": "seasonal", "target": 2,
                "window": Challenge.Window.MONTH, "description": "Two osmanthus oolongs this month.",
                "badge_emoji": "🌸", "badge_name": "Osmanthus fan",
            },
        )  # fmt: skip
        for n, challenge in enumerate((weekly, seasonal)):
            Challenge.objects.filter(pk=challenge.pk).update(
                public_id=uuid.UUID(int=0xC4A1_0000 + n, version=4), created_at=self.now - timedelta(days=20)
            )
        config_changed(shop.pk)
        # A whole week that is over (this one if it has had three days already, else the one before):
        # Monday, Tuesday and Wednesday at ten, in the shop's time zone.
        monday = self.today - timedelta(days=self.today.weekday())
        if self.today.weekday() < 3:
            monday -= timedelta(days=7)
        days = [datetime.combine(monday + timedelta(days=n), time(10), tzinfo=shop.tz) for n in range(3)]
        quiet = list(
            Member.objects.filter(pk__in=[member.pk for member in self.crowd])
            .filter(Q(last_visit_at__isnull=True) | Q(last_visit_at__lt=days[0] - timedelta(hours=2)))
            .order_by("pk")[:3]
        )
        oolong = self.menu[3]
        for n, member in enumerate(quiet[:2]):
            for at in days:
                rewards_services.stamp_add(
                    member=member, program=self.program, count=1, staff=staff, idempotency_key=self.key("challenge"),
                    at=at, items=[oolong] if n == 0 else [self.menu[1]],
                )  # fmt: skip
            challenges.seat_take(member=member, challenge=weekly, nickname=("Oolong Owl", "Morning Latte")[n])
        # On her way this week: one visit so far, "1 of 3 visits this week" on her card.
        if len(quiet) == 3:
            rewards_services.stamp_add(
                member=quiet[2], program=self.program, count=1, staff=staff, idempotency_key=self.key("challenge"),
                at=self.now - timedelta(minutes=20), items=[oolong],
            )  # fmt: skip

    def notes(self) -> None:
        """What the counter keeps in mind for Emma."""
        regular = self.members["regular"]
        Member.objects.filter(pk=regular.pk).update(counter_note="Oat milk, extra hot")
        # Set up since: a thank-you on each member's day of joining, every year (none has come yet).
        Campaign.objects.create(
            shop=self.shop, public_id=uuid.UUID("a2217e55-0c3a-4e8b-9d6f-3b1a7c5e9d02"), kind=Campaign.Kind.ANNIVERSARY,
            name="Thank you for the years", gift="points", gift_points=20, starts_at=self.now - timedelta(days=30),
        )  # fmt: skip

    def giving(self) -> None:
        """Two regulars give points to the trees this morning; one gift was a slip the manager reversed."""
        regular, other = self.members["regular"], self.crowd[1]
        for member, points in ((regular, 100), (other, 40)):
            member.refresh_from_db()
            if member.points >= points:
                giving.points_donate(
                    member=member, cause=self.cause, points=points, idempotency_key=self.key("give"),
                    at=self.now - timedelta(minutes=30),
                )  # fmt: skip
        slip = Contribution.objects.filter(member=other, kind=Contribution.Kind.DONATION).first()
        if slip is not None:
            giving.donation_reverse(
                contribution=slip, staff=self.users[Role.MANAGER], reason="Tapped by mistake, asked to undo",
                now=self.now - timedelta(minutes=10),
            )  # fmt: skip


def persona_member(shop: Shop, key: str) -> Member:
    """The demo member of one persona (by phone, or e-mail for the one without a phone)."""
    persona = next(p for p in PERSONAS if p.key == key)
    return shop.members.get(phone=persona.phone) if persona.phone else shop.members.get(email=persona.email)


def ledger_reasons(shop: Shop) -> set[str]:
    return set(LedgerEntry.objects.filter(shop=shop).values_list("reason", flat=True).distinct())
