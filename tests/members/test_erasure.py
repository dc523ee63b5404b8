"""A member asks to leave: the owner erases their personal data. Nothing names them afterwards,
their history stays (naming nobody), the balances they held are closed through the ledger, and
every page that used to find them no longer does."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Reach
from members.models import AuditEntry, Member, Message
from members.services import ERASED, member_erase, member_join
from members.tokens import card_token
from rewards import services as rewards
from rewards.models import LedgerEntry, MemberCard, TierTrial, Voucher

from ..conftest import key
from ..factories import (
    CampaignFactory,
    MessageFactory,
    PointsRuleFactory,
    TierFactory,
    TierPolicyFactory,
    VoucherFactory,
)

pytestmark = pytest.mark.usefixtures("ledger_reconciles")


@pytest.fixture
def leaving(world, program):
    """Mia: stamps on her card, points, a voucher ready, a tier trial, a message sent and one waiting."""
    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)
    mia, _created = member_join(
        shop=world.shop, name="Mia Chen", email="mia@example.com", phone="0912 345 678", birthday=None,
        marketing_consent=True, language="en",
    )  # fmt: skip
    rewards.stamp_add(member=mia, program=program, count=3, staff=world.carol, idempotency_key=key())
    rewards.purchase_record(member=mia, amount=250, staff=world.carol, idempotency_key=key())
    VoucherFactory(shop=world.shop, member=mia, program=program, title="Free latte")
    TierPolicyFactory(shop=world.shop)
    gold = TierFactory(shop=world.shop, name="Gold", threshold=99)
    rewards.tier_trial_start(member=mia, tier=gold, days=14, staff=world.bob)
    MessageFactory(shop=world.shop, member=mia, campaign="news", occasion="2", to_email=mia.email,
                   status=Message.Status.PENDING, context={"name": mia.name})  # fmt: skip
    MessageFactory(shop=world.shop, member=mia, campaign="news", occasion="1", to_email=mia.email,
                   status=Message.Status.SENT, context={"name": mia.name})  # fmt: skip
    mia.refresh_from_db()
    return mia


def erase_page(world, member):
    return reverse("rewards:member_erase", args=[world.shop.slug, member.public_id])


def test_erasing_leaves_nothing_that_names_the_member_and_closes_what_they_held(world, leaving):
    code, points = leaving.code, leaving.points
    assert points > 0
    assert member_erase(member=leaving, by=world.alice, note="asked at the counter") is True

    row = Member.all_objects.get(pk=leaving.pk)
    assert (row.name, row.email, row.email_canonical, row.phone, row.birthday) == ("", "", "", "", None)
    assert (row.marketing_consent, row.consent_at, row.consent_version, row.user_id) == (False, None, "", None)
    assert row.erased_at is not None and row.code == code
    assert str(row) == "Erased member"
    assert not Member.objects.filter(pk=leaving.pk).exists()

    # The balances are closed by ledger rows of their own, by the owner; the history stays.
    assert row.points == 0
    assert list(MemberCard.objects.filter(member=row).values_list("stamps", flat=True)) == [0]
    closed = LedgerEntry.objects.filter(member=row, reason=LedgerEntry.Reason.CLOSED)
    assert sorted((e.stamps, e.points) for e in closed) == [(-3, 0), (0, -points)]
    assert {e.staff for e in closed} == {world.alice}
    assert LedgerEntry.objects.filter(member=row).exclude(reason=LedgerEntry.Reason.CLOSED).count() >= 2

    assert set(Voucher.objects.filter(member=row).values_list("status", flat=True)) == {Voucher.Status.VOIDED}
    assert not TierTrial.objects.filter(member=row, ended_at__isnull=True).exists()
    messages = Message.objects.filter(member=row)
    assert set(messages.values_list("to_email", flat=True)) == {""}
    assert all(context == {} for context in messages.values_list("context", flat=True))
    assert messages.get(campaign="news", occasion="2").last_error == ERASED
    assert messages.get(campaign="news", occasion="1").status == Message.Status.SENT

    entry = AuditEntry.objects.get(shop=world.shop)
    assert (entry.actor, entry.action, entry.subject, entry.note) == (
        world.alice, AuditEntry.Action.MEMBER_ERASED, code, "asked at the counter"
    )  # fmt: skip


def test_erasing_twice_is_erasing_once(world, leaving):
    assert member_erase(member=leaving, by=world.alice) is True
    rows = LedgerEntry.objects.count()
    assert member_erase(member=leaving, by=world.alice) is False
    assert LedgerEntry.objects.count() == rows
    assert AuditEntry.objects.count() == 1


def test_after_erasing_nothing_finds_the_member(world, leaving, alice_client):
    voucher = Voucher.objects.get(member=leaving)
    token = card_token(leaving)
    member_erase(member=leaving, by=world.alice)

    counter = reverse("rewards:counter", args=[world.shop.slug])
    for query in (leaving.code, "mia@example.com", "0912 345 678", "Mia", voucher.code):
        page = alice_client.get(counter, {"q": query}).content.decode()
        assert "No member matches" in page
        assert str(leaving.public_id) not in page and "Mia Chen" not in page
    assert alice_client.get(reverse("rewards:card", args=[token])).status_code == 404
    assert (
        alice_client.get(reverse("rewards:member_detail", args=[world.shop.slug, leaving.public_id])).status_code == 404
    )
    members = alice_client.get(reverse("members:member_list", args=[world.shop.slug])).content.decode()
    assert "Mia" not in members
    # The messages page shows what was sent, naming nobody, and offers nothing to send again.
    page = alice_client.get(reverse("campaigns:message_list", args=[world.shop.slug])).content.decode()
    assert "mia@example.com" not in page and "Mia" not in page
    assert "Erased member" in page

    # She may join again: a new member, starting from nothing.
    again, created = member_join(
        shop=world.shop, name="Mia Chen", email="mia@example.com", phone="0912 345 678", birthday=None,
        marketing_consent=False, language="en",
    )  # fmt: skip
    assert created and again.pk != leaving.pk and again.points == 0


def test_the_owner_reads_what_is_erased_and_kept_then_confirms(world, leaving, alice_client):
    url = erase_page(world, leaving)
    page = alice_client.get(url).content.decode()
    assert "Erase Mia Chen's personal data" in page
    assert "3 stamps on their cards." in page
    assert f"{leaving.points} points." in page
    assert "1 voucher ready to use." in page

    # Without the box ticked, nothing happens.
    response = alice_client.post(url, {"note": "by e-mail"})
    assert response.status_code == 400
    assert "Tick the box" in response.content.decode()
    assert Member.objects.filter(pk=leaving.pk).exists()

    response = alice_client.post(url, {"confirm": "on", "note": "by e-mail"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("members:member_list", args=[world.shop.slug])
    assert "personal data was erased" in response.content.decode()
    assert not Member.objects.filter(pk=leaving.pk).exists()

    trail = alice_client.get(reverse("members:audit_list", args=[world.shop.slug])).content.decode()
    assert leaving.code in trail and "by e-mail" in trail and "alice@example.com" in trail
    assert "Mia" not in trail


@pytest.mark.parametrize("who", ["bob", "carol"])
def test_only_the_owner_erases_and_sees_the_audit_trail(world, leaving, who):
    client = world.client(getattr(world, who))
    assert client.get(erase_page(world, leaving)).status_code == 403
    assert client.post(erase_page(world, leaving), {"confirm": "on"}).status_code == 403
    assert client.get(reverse("members:audit_list", args=[world.shop.slug])).status_code == 403
    assert Member.objects.filter(pk=leaving.pk).exists()


def test_the_member_page_offers_erasure_to_the_owner_only(world, leaving, alice_client):
    url = reverse("rewards:member_detail", args=[world.shop.slug, leaving.public_id])
    assert erase_page(world, leaving) in alice_client.get(url).content.decode()
    assert erase_page(world, leaving) not in world.client(world.bob).get(url).content.decode()


def test_a_friend_of_an_erased_referrer_still_gets_stamped(world, program):
    CampaignFactory(shop=world.shop, kind=Campaign.Kind.REFERRAL, gift="stamps", gift_stamps=1,
                    starts_at=timezone.now() - timedelta(days=1))  # fmt: skip
    amy, _ = member_join(shop=world.shop, name="Amy", email="amy@example.com", phone="", birthday=None,
                         marketing_consent=False, language="en")  # fmt: skip
    ben, _ = member_join(shop=world.shop, name="Ben", email="ben@example.com", phone="", birthday=None,
                         marketing_consent=False, language="en", referrer=amy)  # fmt: skip
    member_erase(member=amy, by=world.alice)
    result = rewards.stamp_add(member=ben, program=program, count=1, staff=world.carol, idempotency_key=key())
    assert result.stamps == 1
    assert not Reach.objects.filter(member=ben).exists()
