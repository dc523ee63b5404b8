"""The demo café: every feature on, six months of history, a member of every kind, and the same
café every time it is built."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.insights import figures
from campaigns.models import Campaign, Reach, ShopDay
from campaigns.services import results
from loyalty_site.demo import DEMO_PASSWORD, persona_member
from members.models import Invitation, Message, Shop, StaffMember
from members.roles import Role
from rewards import ledger
from rewards.models import CatalogueReward, LedgerEntry, MemberCard, StampProgram, TierTrial, Voucher


@pytest.fixture
def cafe(db):
    call_command("demo")
    return Shop.objects.get(slug="demo-cafe")


person = persona_member


def test_the_demo_is_idempotent_and_holds_every_feature(cafe):
    before = LedgerEntry.objects.count()
    call_command("demo")
    assert LedgerEntry.objects.count() == before
    roles = dict(StaffMember.objects.filter(shop=cafe).values_list("user__email", "role"))
    assert roles == {"owner@demo.example": Role.OWNER, "manager@demo.example": Role.MANAGER,
                     "staff@demo.example": Role.STAFF}  # fmt: skip
    assert cafe.logo
    assert cafe.points_rule.is_active and cafe.points_rule.expiry != "never"
    assert cafe.tiers.count() == 2 and cafe.tier_policy
    assert set(CatalogueReward.objects.filter(shop=cafe).values_list("kind", flat=True)) == set(
        CatalogueReward.Kind.values
    )
    assert set(Campaign.objects.filter(shop=cafe).values_list("kind", flat=True)) == set(Campaign.Kind.values)
    assert StampProgram.objects.filter(shop=cafe, is_active=False).exists(), "a paused card"
    assert Invitation.objects.filter(shop=cafe).exists()
    assert ledger.drift() == []


def test_history_spreads_over_six_months_at_opening_hours_in_the_shops_time_zone(cafe):
    times = list(LedgerEntry.objects.filter(shop=cafe, staff__isnull=False).values_list("created_at", flat=True))
    now = timezone.now()
    assert min(times) < now - timedelta(days=150)
    assert len({t.replace(second=0, microsecond=0) for t in times}) > len(times) / 3, "not all at one minute"
    hours = [timezone.localtime(t, cafe.tz).hour for t in times if t < now - timedelta(days=1)]
    assert set(hours) - {23} <= set(range(7, 20)) and len(set(hours)) > 6
    # Two stamps late at night, for the owner's flag about stamps when the shop is closed.
    assert hours.count(23) == 2


def test_the_insights_have_something_to_show(cafe):
    """Six months of days counted, every group of customers filled, and each kind of flag raised."""
    assert ShopDay.objects.filter(shop=cafe).count() > 180
    period = figures.period_for(cafe, 30)
    counts, _day = figures.segments(cafe)
    assert all(count > 0 for _value, _label, count in counts), counts
    joined, returned = figures.second_visits(cafe, period)
    assert 0 < returned < joined
    assert sum(1 for cohort in figures.retention(cafe) if cohort.size) >= 6
    programme = figures.programme(cafe, period)
    assert programme.cards_filled and programme.rewards and programme.moves
    kinds = {flag.kind for flag in figures.flags(cafe, period, figures.staff(cafe, period))}
    assert {"quiet", "member", "joins"} <= kinds


def test_a_member_of_every_kind(cafe):
    program = StampProgram.objects.get(shop=cafe, is_active=True)
    now = timezone.now()
    assert person(cafe, "new").joined_at > now - timedelta(days=1)
    assert person(cafe, "new").ledger.filter(reason="campaign", staff__isnull=True).exists(), "welcome gift"
    assert person(cafe, "regular").ledger.count() > 50
    assert person(cafe, "reward").vouchers.filter(status=Voucher.Status.ISSUED).exists()
    assert MemberCard.objects.get(member=person(cafe, "short"), program=program).stamps == program.stamps_needed - 1
    lapsed = person(cafe, "lapsed")
    assert lapsed.last_visit_at < now - timedelta(days=60) and lapsed.ledger.filter(reason="expiry").exists()
    wonback = person(cafe, "wonback")
    assert Reach.objects.filter(member=wonback, campaign__kind="winback", held_out=False).exists()
    assert wonback.last_visit_at > now - timedelta(days=21)
    assert Reach.objects.filter(member=person(cafe, "birthday"), campaign__kind="birthday").exists()
    assert TierTrial.objects.filter(member=person(cafe, "trial"), ended_at__isnull=True).exists()
    assert person(cafe, "negative").points < 0
    assert person(cafe, "phone").email == "" and person(cafe, "phone").phone
    assert person(cafe, "email").phone == "" and person(cafe, "email").email
    soon = person(cafe, "expiring").vouchers.get(status=Voucher.Status.ISSUED)
    assert now < soon.expires_at < now + timedelta(days=3)
    assert MemberCard.objects.filter(member=person(cafe, "paused"), program__is_active=False, stamps__gt=0).exists()
    assert person(cafe, "referred").referred_by == person(cafe, "referrer")
    assert Reach.objects.filter(campaign__kind="referral").count() == 2, "both friends rewarded"
    assert person(cafe, "corrected").ledger.filter(reason="adjustment").exists()
    assert person(cafe, "corrected").ledger.filter(reason="void").exists()
    # Today at the counter: a reward off a purchase, a manager's override with its reason, and how
    # each member was found; an invitation opened under another address.
    assert person(cafe, "regular").purchases.filter(discount=30).exists()
    assert person(cafe, "phone").ledger.filter(override=True, override_reason="paper_card", found_by="phone").exists()
    assert person(cafe, "regular").ledger.filter(found_by="qr").count() >= 3
    assert Invitation.objects.get(shop=cafe).requested_by is not None


def test_every_kind_of_ledger_row_is_in_the_demo(cafe):
    from loyalty_site.demo import ledger_reasons

    # Nothing writes a plain "bonus" row today (member-day bonuses are campaign rows).
    assert ledger_reasons(cafe) == set(LedgerEntry.Reason.values) - {LedgerEntry.Reason.BONUS}


def test_win_back_results_have_numbers_and_a_hold_out(cafe):
    winback = results(Campaign.objects.get(shop=cafe, kind=Campaign.Kind.WINBACK))
    assert winback["reached"]["members"] >= 5 and winback["held_out"]["members"] >= 1
    assert winback["reached"]["returned"] and winback["issued"] and winback["redeemed"]


def test_the_first_start_sends_nothing_from_the_past(cafe):
    """Past campaigns' e-mails went out at the time; one bounced, for the owner's list of failures."""
    assert not Message.objects.filter(status__in=[Message.Status.PENDING, Message.Status.SENDING]).exists()
    assert Message.objects.filter(status=Message.Status.FAILED).count() == 1


def test_the_demo_is_the_same_every_time(db, django_db_blocker):
    from django.db import transaction

    def snapshot():
        call_command("demo")
        shop = Shop.objects.get(slug="demo-cafe")
        members = list(shop.members.order_by("code").values_list("public_id", "code", "name", "points"))
        reach = sorted(Reach.objects.values_list("campaign__name", "member__code", "held_out"))
        rows = LedgerEntry.objects.filter(shop=shop).count()
        return members, reach, rows

    with transaction.atomic():
        first = snapshot()
        transaction.set_rollback(True)
    with transaction.atomic():
        second = snapshot()
        transaction.set_rollback(True)
    assert first == second


def test_demo_owner_can_log_in_and_see_the_cafe(cafe, client):
    response = client.post("/accounts/login/", {"login": "owner@demo.example", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    response = client.get("/s/demo-cafe/")
    assert response.status_code == 200
    assert "Demo Café" in response.content.decode()
