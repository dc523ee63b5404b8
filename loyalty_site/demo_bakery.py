"""The demo café's neighbour: Crumb Bakery, another shop of the same portal with its own owner, a
bread card and a few members, and two partner offers with the café (rewards.services.partners).

- The café's members get 10% off any pastry at the bakery, once a week: the café proposed it, the
  baker accepted it five weeks ago, and café members have used it since (both owners see the count).
- The bakery proposed two days ago that its members get NT$20 off a pour-over at the café, once a
  month: it waits for the café's owner on the café's partners page.

Built once, after the café, from its own seed, so the café's history stays as it was.
"""

import random
import uuid
from datetime import datetime, time, timedelta

from allauth.account.models import EmailAddress
from django.utils import timezone

from members import services as member_services
from members.models import CODE_ALPHABET, Member, Shop, User
from rewards import services as rewards_services
from rewards.models import PartnerOffer
from rewards.services import partners

SLUG = "crumb-bakery"
BAKER = ("baker@demo.example", "Hana", "Wu")
CUSTOMERS = [
    ("Ivy Cheng", "zh-hant"), ("Leo Fang", "en"), ("Nina Hsieh", "zh-hant"), ("Oscar Lai", "zh-hans"),
    ("Ruby Tseng", "en"), ("Sam Pan", "zh-hant"),
]  # fmt: skip
# Café members (by persona) and the days they used the bakery's offer: once a week at most, as the
# offer says. Emma used it two days ago.
USES = {"regular": [33, 19, 2], "reward": [26, 12], "short": [30], "wonback": [23, 16, 5], "expiring": [9]}


def build_bakery(cafe: Shop, cafe_owner: User, password: str, regulars: dict[str, Member]) -> Shop:
    """Create the bakery and its offers with the café, or leave an existing one as it is."""
    shop = Shop.objects.filter(slug=SLUG).first()
    if shop is not None:
        return shop
    baker = _baker(password)
    shop = member_services.shop_create(
        owner=baker, name="Crumb Bakery", slug=SLUG, brand_colour="#9C5B2E", currency="TWD",
        time_zone="Asia/Taipei", language="zh-hant",
    )  # fmt: skip
    Bakery(shop, baker, cafe, cafe_owner).build(regulars)
    return shop


def _baker(password: str) -> User:
    email, first, last = BAKER
    user, created = User.objects.get_or_create(email=email, defaults={"first_name": first, "last_name": last})
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
    return user


class Bakery:
    def __init__(self, shop: Shop, baker: User, cafe: Shop, cafe_owner: User):
        self.shop, self.baker, self.cafe, self.cafe_owner = shop, baker, cafe, cafe_owner
        self.rng = random.Random(2027)  # noqa: S311 - reproducible demo data, not secrets
        self.now = timezone.now()
        self.today = timezone.localtime(self.now, shop.tz).date()
        self.keys = 0

    def at(self, days_ago: int, hour: int = 10) -> datetime:
        moment = datetime.combine(self.today - timedelta(days=days_ago), time(hour, 15), tzinfo=self.shop.tz)
        return min(moment, self.now - timedelta(minutes=20 + days_ago))

    def key(self) -> str:
        self.keys += 1
        return f"demo-bakery-{self.keys}"

    def build(self, regulars: dict[str, Member]) -> None:
        program = self.shop.stamp_programs.get()
        program.name, program.stamps_needed, program.reward = "Bread card", 8, "A free loaf"
        program.min_minutes_between_visits = 0
        program.save()
        for n, (name, language) in enumerate(CUSTOMERS):
            member = Member.objects.create(
                shop=self.shop, public_id=uuid.UUID(int=self.rng.getrandbits(128), version=4),
                code="".join(self.rng.choice(CODE_ALPHABET) for _ in range(8)), name=name, language=language,
                email=f"bakery{n + 1}@demo.example", joined_at=self.at(60 - n * 7),
            )  # fmt: skip
            for days_ago in range(55 - n * 7, 0, -9 - n):
                rewards_services.stamp_add(
                    member=member, program=program, count=1, staff=self.baker, idempotency_key=self.key(),
                    at=self.at(days_ago, hour=8 + n),
                )  # fmt: skip
        self.offers(regulars)

    def offers(self, regulars: dict[str, Member]) -> None:
        pastry = partners.offer_propose(
            shop=self.cafe, partner=self.shop, ours=True, title="10% off any pastry",
            terms="Show your Demo Café card's QR code. Not with other offers.", period=PartnerOffer.Period.WEEK,
            ends_on=None, by=self.cafe_owner,
        )  # fmt: skip
        partners.offer_answer(offer=pastry, shop=self.shop, accept=True, by=self.baker)
        PartnerOffer.objects.filter(pk=pastry.pk).update(proposed_at=self.at(38), answered_at=self.at(37))
        for key, days in USES.items():
            for days_ago in days:
                partners.redeem(
                    offer=pastry, member=regulars[key], shop=self.shop, staff=self.baker,
                    now=self.at(days_ago, hour=15),
                )  # fmt: skip
        pour_over = partners.offer_propose(
            shop=self.shop, partner=self.cafe, ours=True, title="NT$20 off a pour-over",
            terms="", period=PartnerOffer.Period.MONTH, ends_on=None, by=self.baker,
        )  # fmt: skip
        PartnerOffer.objects.filter(pk=pour_over.pk).update(proposed_at=self.at(2))
