"""One person, many addresses: aliases of a member are that member, for joining, for referrals and
at the counter (regression: a plus-address or Gmail's dots joined again through one's own referral
link and paid the referral bonus each time)."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign, ReferralRefusal
from members.emails import canonical_email
from members.models import Member
from members.tokens import referral_token
from rewards import services as rewards_services

from ..conftest import key
from ..factories import CampaignFactory, MemberFactory, UserFactory


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Amy.Lo+friend@Example.com", "amy.lo@example.com"),
        ("a.m.y.lo+2@googlemail.com", "amylo@gmail.com"),
        ("AMYLO@GMAIL.COM", "amylo@gmail.com"),
        ("not-an-address", "not-an-address"),
        ("", ""),
    ],
)
def test_canonical_form(typed, canonical):
    assert canonical_email(typed) == canonical


@pytest.fixture
def referral(world):
    from datetime import timedelta

    from django.utils import timezone

    return CampaignFactory(
        shop=world.shop, kind=Campaign.Kind.REFERRAL, name="Bring a friend", gift="stamps", gift_stamps=2,
        referral_limit=10, starts_at=timezone.now() - timedelta(days=1),
    )  # fmt: skip


def join_through_link(client, world, referrer, **fields):
    url = reverse("members:join", args=[world.shop.slug]) + f"?ref={referral_token(referrer)}"
    return client.post(url, {"name": "Amy again", "phone": "", **fields})


@pytest.mark.parametrize("alias", ["amy.lo+1@gmail.com", "a.m.y.l.o@gmail.com", "AmyLo+x@googlemail.com"])
def test_an_alias_is_the_same_member_and_earns_no_referral(world, program, client, referral, alias):
    amy = MemberFactory(shop=world.shop, name="Amy Lo", email="amylo@gmail.com")
    response = join_through_link(client, world, amy, email=alias)
    assert response.status_code in (200, 302)
    assert Member.objects.filter(shop=world.shop).count() == 1, "no second member for the same mailbox"


def test_the_counter_finds_a_member_by_any_alias(world, client):
    amy = MemberFactory(shop=world.shop, name="Amy Lo", email="amylo@gmail.com")
    carol = world.client(world.carol)
    response = carol.get(reverse("rewards:counter", args=[world.shop.slug]), {"q": "Amy.Lo+coffee@gmail.com"})
    assert amy.code in response.content.decode()


def test_a_refused_referral_is_recorded_with_its_reason(world, program, referral):
    """A second address of the same account (the phone and mailbox differ) pays nothing, and the
    owner can see why."""
    amy = MemberFactory(shop=world.shop, name="Amy Lo", email="amy@example.com", phone="+886912000014")
    twin = MemberFactory(shop=world.shop, name="Amy", email="amy.work@example.com", referred_by=amy)
    account = UserFactory(email="amy@example.com")
    Member.objects.filter(pk__in=[amy.pk, twin.pk]).update(user=account)
    amy.refresh_from_db()
    twin.refresh_from_db()
    rewards_services.stamp_add(member=twin, program=program, count=1, staff=world.carol, idempotency_key=key())
    refusal = ReferralRefusal.objects.get(friend=twin)
    assert (refusal.referrer, refusal.reason) == (amy, ReferralRefusal.Reason.SAME_PERSON)
    assert not amy.cards.filter(stamps__gt=0).exists()


def test_the_owner_sees_refused_referrals_on_the_campaign(world, program, referral):
    amy = MemberFactory(shop=world.shop, name="Amy Lo", email="amy@example.com")
    twin = MemberFactory(shop=world.shop, name="Amy", email="amy.work@example.com", referred_by=amy)
    Member.objects.filter(pk=twin.pk).update(joined_at=amy.joined_at)  # joined before the referrer did: refused
    twin.refresh_from_db()
    rewards_services.stamp_add(member=twin, program=program, count=1, staff=world.carol, idempotency_key=key())
    page = world.client(world.bob).get(reverse("campaigns:campaign_edit", args=[world.shop.slug, referral.public_id]))
    assert "Referrals refused" in page.content.decode()
    assert "joined before the referrer" in page.content.decode()
