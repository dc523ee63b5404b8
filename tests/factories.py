from datetime import timedelta

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from campaigns.models import Campaign
from members.models import Invitation, Member, Message, Shop, StaffMember, User
from members.roles import Role
from rewards.models import CatalogueReward, Cause, MemberCard, PointsRule, StampProgram, Tier, TierPolicy, Voucher

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = factory.Faker("first_name")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        if create:
            EmailAddress.objects.create(user=self, email=self.email, primary=True, verified=True)


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

    name = factory.Sequence(lambda n: f"Café {n}")
    slug = factory.Sequence(lambda n: f"cafe-{n}")
    currency = "TWD"
    time_zone = "Asia/Taipei"
    language = "en"


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMember

    shop = factory.SubFactory(ShopFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.STAFF


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    shop = factory.SubFactory(ShopFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"member{n}@example.com")


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    shop = factory.SubFactory(ShopFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.STAFF
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class MessageFactory(factory.django.DjangoModelFactory):
    """One e-mail in the outbox; its shop is its member's."""

    class Meta:
        model = Message

    member = factory.SubFactory(MemberFactory)
    shop = factory.SelfAttribute("member.shop")
    campaign = "news"
    occasion = factory.Sequence(str)
    kind = Message.Kind.MARKETING
    template = "campaigns/email/campaign"
    to_email = factory.LazyAttribute(lambda message: message.member.email)


class StampProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StampProgram

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"Card {n}")
    reward = "Free latte"


class MemberCardFactory(factory.django.DjangoModelFactory):
    """An empty card (no stamps: a card's stamps only ever come from the ledger); its program is of
    its member's shop."""

    class Meta:
        model = MemberCard

    member = factory.SubFactory(MemberFactory)
    program = factory.SubFactory(StampProgramFactory, shop=factory.SelfAttribute("..member.shop"))


class VoucherFactory(factory.django.DjangoModelFactory):
    """An issued voucher, as tests set one up; its shop is its member's."""

    class Meta:
        model = Voucher

    member = factory.SubFactory(MemberFactory)
    shop = factory.SelfAttribute("member.shop")
    title = "Free latte"


class PointsRuleFactory(factory.django.DjangoModelFactory):
    """A shop's points rule (one per shop), switched on."""

    class Meta:
        model = PointsRule

    shop = factory.SubFactory(ShopFactory)
    is_active = True


class TierPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TierPolicy

    shop = factory.SubFactory(ShopFactory)


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"Tier {n}")
    # Unique per shop.
    threshold = factory.Sequence(lambda n: (n + 1) * 10)


class CatalogueRewardFactory(factory.django.DjangoModelFactory):
    """A reward paid in points; ``paid_in_stamps=True`` makes it cost stamps from a card of its shop."""

    class Meta:
        model = CatalogueReward

    class Params:
        paid_in_stamps = factory.Trait(
            cost_points=None,
            cost_stamps=5,
            stamp_program=factory.SubFactory(StampProgramFactory, shop=factory.SelfAttribute("..shop")),
        )

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"Reward {n}")
    cost_points = 10


class CampaignFactory(factory.django.DjangoModelFactory):
    """An announcement by default: it does nothing until it is sent."""

    class Meta:
        model = Campaign

    shop = factory.SubFactory(ShopFactory)
    kind = Campaign.Kind.ANNOUNCEMENT
    name = factory.LazyAttribute(lambda campaign: Campaign.Kind(campaign.kind).label)


class CauseFactory(factory.django.DjangoModelFactory):
    """Trees for Taipei: NT$10 a visit, a tree for NT$100, a goal of 500 trees."""

    class Meta:
        model = Cause

    shop = factory.SubFactory(ShopFactory)
    name = "Trees for Taipei"
    partner = "Green Taiwan"
    unit = "trees"
    unit_cost = 100
    goal = 500
    basis = Cause.Basis.VISIT
    amount_per = 10
