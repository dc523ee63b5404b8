"""A partner offer given from two tills at once on PostgreSQL: one use per member and period, and an
owner ending the offer while a till gives it leaves no use after the end."""

import pytest
from django.db import connection

from members.models import Role
from rewards.models import PartnerOffer, PartnerRedemption
from rewards.services import partners

from ..factories import MemberFactory, ShopFactory, StaffFactory
from .test_concurrency import race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only"),
]


@pytest.fixture
def offer():
    cafe, bakery = ShopFactory(), ShopFactory()
    owner_cafe = StaffFactory(shop=cafe, role=Role.OWNER).user
    owner_bakery = StaffFactory(shop=bakery, role=Role.OWNER).user
    offer = partners.offer_propose(
        shop=cafe, partner=bakery, ours=True, title="10% off", terms="", period="week", ends_on=None, by=owner_cafe
    )
    return partners.offer_answer(offer=offer, shop=bakery, accept=True, by=owner_bakery)


def test_two_tills_giving_the_offer_at_once_give_it_once(offer):
    member = MemberFactory(shop=offer.members_shop)
    tills = [StaffFactory(shop=offer.partner_shop).user for _ in range(6)]

    def give(i):
        return partners.redeem(offer=offer, member=member, shop=offer.partner_shop, staff=tills[i])

    results = race(6, give)
    done = [result for result in results if isinstance(result, PartnerRedemption)]
    refused = [result for result in results if isinstance(result, partners.LoyaltyError)]
    assert len(done) == 1 and len(refused) == 5, results
    assert PartnerRedemption.objects.count() == 1


def test_an_offer_ended_while_tills_give_it_has_no_use_after_its_end(offer):
    members = [MemberFactory(shop=offer.members_shop) for _ in range(5)]

    def act(i):
        if i == 0:
            return partners.offer_end(offer=offer, shop=offer.members_shop, by=None)
        return partners.redeem(offer=offer, member=members[i], shop=offer.partner_shop, staff=None)

    race(5, act)
    offer.refresh_from_db()
    assert offer.status == PartnerOffer.Status.ENDED
    assert not PartnerRedemption.objects.filter(redeemed_at__gt=offer.ended_at).exists()
