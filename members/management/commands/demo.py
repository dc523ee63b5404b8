"""Create (or refresh) the demo café with an owner, a manager, staff and members."""

import io
import random
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from campaigns import services as campaign_services
from campaigns.models import Campaign, Reach
from members import services
from members.models import Member, Shop, StaffMember, User
from members.roles import Role
from rewards import services as rewards_services
from rewards.models import CatalogueReward, PointsRule, StampProgram

DEMO_PASSWORD = "coffee-demo-2026"  # noqa: S105 - printed for the newcomer, demo data only
DEMO_USERS = [
    ("owner@demo.example", "Mei", "Lin", Role.OWNER),
    ("manager@demo.example", "Jun", "Chen", Role.MANAGER),
    ("staff@demo.example", "Ada", "Wang", Role.STAFF),
]
FIRST = ["Yi-Ting", "Wei", "Hsin", "Chia-Hao", "Emma", "Liam", "Yu", "Shu-Fen", "Kai", "Noah", "Mia", "Jia", "Tom"]
LAST = ["Chang", "Huang", "Lee", "Wu", "Tsai", "Smith", "Lin", "Kuo", "Hsu", "Yang", "Chen", "Liu"]


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


class Command(BaseCommand):
    help = "Create the demo café (idempotent): staff logins and members with visits."

    def handle(self, *args, **options):
        with transaction.atomic():
            users = {}
            for email, first, last, role in DEMO_USERS:
                user, created = User.objects.get_or_create(
                    email=email, defaults={"first_name": first, "last_name": last}
                )
                if created:
                    user.set_password(DEMO_PASSWORD)
                    user.save(update_fields=["password"])
                EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
                users[role] = user

            shop = Shop.objects.filter(slug="demo-cafe").first()
            if shop is None:
                shop = services.shop_create(
                    owner=users[Role.OWNER],
                    name="Demo Café",
                    slug="demo-cafe",
                    logo=demo_logo(),
                    brand_colour="#6F4E37",
                    currency="TWD",
                    time_zone="Asia/Taipei",
                    language="zh-hant",
                )
            for role, user in users.items():
                StaffMember.objects.update_or_create(shop=shop, user=user, defaults={"role": role})

            if not shop.members.exists():
                self._members_with_history(shop, users)
            if not PointsRule.objects.filter(shop=shop).exists():
                program = StampProgram.objects.for_shop(shop).first()
                # NT$10 = 1 point; 100 points take NT$10 off, up to half a bill; a purchase also stamps.
                PointsRule.objects.create(
                    shop=shop, is_active=True, step_amount=10, bill_points=100, bill_value=10, purchase_stamps=program
                )
                CatalogueReward.objects.create(shop=shop, name="Butter cookie", cost_points=50)
                CatalogueReward.objects.create(shop=shop, name="Slice of cheesecake", cost_points=150, stock=5)
            if not shop.campaigns.exists():
                self._campaigns(shop, users)

        self.stdout.write(self.style.SUCCESS(f"Demo shop ready: {shop.name} (/s/{shop.slug}/)"))
        self.stdout.write(f"  Counter:   /s/{shop.slug}/counter/   Join page: /j/{shop.slug}/")
        for email, _first, _last, role in DEMO_USERS:
            self.stdout.write(f"  {role.label:<8} {email} / {DEMO_PASSWORD}")

    def _members_with_history(self, shop, users):
        """Forty members at every stage, their visits written through the same services as the counter."""
        rng = random.Random(2026)  # noqa: S311 - reproducible demo data, not secrets
        now = timezone.now()
        program = StampProgram.objects.for_shop(shop).first()
        baristas = [users[Role.STAFF], users[Role.MANAGER]]
        for i in range(40):
            # Every third member is a regular who stopped coming about two months ago.
            lapsed = i % 3 == 2
            joined = now - timedelta(days=rng.randint(120 if lapsed else 20, 200), minutes=rng.randint(0, 600))
            member = Member.objects.create(
                shop=shop,
                name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                email=f"member{i + 1}@demo.example",
                phone=f"+8869{rng.randint(10000000, 99999999)}",
                language=rng.choice(["zh-hant", "zh-hant", "en", "zh-hans"]),
                marketing_consent=i % 3 != 0,
                joined_at=joined,
            )
            # The first member has a reward waiting, the second is one stamp short.
            visits = {0: program.stamps_needed, 1: program.stamps_needed - 1}.get(i, rng.randint(0, 24))
            # At most one visit a day, in opening hours: the visit limit holds as at the counter.
            days = max((now - joined).days - (60 if lapsed else 0), 1)
            times = [
                joined + timedelta(days=day, hours=rng.randint(0, 10))
                for day in sorted(rng.sample(range(days), min(visits, days)))
            ]
            for n, at in enumerate(times):
                result = rewards_services.stamp_add(
                    member=member,
                    program=program,
                    count=1,
                    staff=rng.choice(baristas),
                    idempotency_key=f"demo-{i}-{n}",
                    override=False,
                    at=at,
                )
                for voucher in result.vouchers_issued:
                    if i != 0 and rng.random() < 0.7:
                        rewards_services.voucher_redeem(
                            shop=shop,
                            voucher_id=voucher.pk,
                            staff=rng.choice(baristas),
                            idempotency_key=f"demo-redeem-{voucher.pk}",
                            at=at + timedelta(days=rng.randint(1, 5)) if at + timedelta(days=5) < now else at,
                        )

    def _campaigns(self, shop, users):
        """One campaign of each kind; the win-back ran three weeks ago, so its results have numbers."""
        rng = random.Random(2027)  # noqa: S311 - reproducible demo data, not secrets
        now = timezone.now()
        kinds = Campaign.Kind
        Campaign.objects.create(shop=shop, kind=kinds.WELCOME, name="Welcome stamps", gift="stamps", gift_stamps=1)
        Campaign.objects.create(
            shop=shop, kind=kinds.BIRTHDAY, name="Birthday cake", gift="voucher", voucher_title="Slice of cake",
            days_before=7,
        )  # fmt: skip
        Campaign.objects.create(
            shop=shop, kind=kinds.BOOST, name="Double Wednesday", multiplier=2, weekdays="2",
        )  # fmt: skip
        Campaign.objects.create(
            shop=shop, kind=kinds.REFERRAL, name="Bring a friend", gift="stamps", gift_stamps=2, referral_limit=5,
        )  # fmt: skip
        Campaign.objects.create(
            shop=shop, kind=kinds.ANNOUNCEMENT, name="Autumn menu", subject="Our autumn menu is here",
            body="Chestnut latte and pumpkin cake, from next Monday.", send_at=now + timedelta(days=7),
        )  # fmt: skip
        winback = Campaign.objects.create(
            shop=shop, kind=kinds.WINBACK, name="We miss you", days_away=30, gift="voucher",
            voucher_title="Coffee on us", holdout_percent=20, starts_at=now - timedelta(days=30),
        )  # fmt: skip
        # Three weeks ago at 10:00 in the shop, the win-back reached everyone away for 30 days then.
        ran = timezone.localtime(now - timedelta(days=21), shop.tz).replace(hour=10, minute=0)
        campaign_services.winback_run(now=ran)
        program = StampProgram.objects.for_shop(shop).first()
        baristas = [users[Role.STAFF], users[Role.MANAGER]]
        seen = {True: 0, False: 0}
        for reach in Reach.objects.filter(campaign=winback).select_related("member", "voucher").order_by("pk"):
            # Some came back: three in five of those who got the voucher, one in four of those held back.
            n = seen[reach.held_out] = seen[reach.held_out] + 1
            if (n % 4 != 0) if reach.held_out else (n % 5 in (1, 4)):
                continue
            back = ran + timedelta(days=rng.randint(1, 18), hours=rng.randint(0, 6))
            staff = rng.choice(baristas)
            rewards_services.stamp_add(
                member=reach.member, program=program, count=1, staff=staff,
                idempotency_key=f"demo-back-{reach.pk}", at=back,
            )  # fmt: skip
            if reach.voucher and reach.voucher.expires_at > back:
                rewards_services.voucher_redeem(
                    shop=shop, voucher_id=reach.voucher_id, staff=staff, idempotency_key=f"demo-wb-{reach.pk}",
                    at=back,
                )  # fmt: skip
