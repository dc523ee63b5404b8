import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from members.models import Member
from rewards import services
from rewards.ledger import LoyaltyError
from rewards.models import TierChange
from rewards.services.tiers import months_before, standing, tiers_review
from rewards.tasks import review_tiers

from ..conftest import key
from ..factories import PointsRuleFactory, TierFactory, TierPolicyFactory

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


def local(*args):
    return datetime(*args, tzinfo=TAIPEI)


@pytest.fixture
def tiers(world, program):
    world.shop.time_zone = "Asia/Taipei"
    world.shop.save()
    TierPolicyFactory(shop=world.shop, basis="visits", window_months=12, grace_days=30)
    return (
        TierFactory(shop=world.shop, name="Silver", threshold=3, multiplier=Decimal("1.5")),
        TierFactory(shop=world.shop, name="Gold", threshold=5, multiplier=2),
    )


def visit(member, program, staff, at):
    return services.stamp_add(member=member, program=program, count=1, staff=staff, idempotency_key=key(), at=at)


def fresh(member):
    return Member.objects.select_related("tier").get(pk=member.pk)


def test_months_before_handles_short_months():
    from datetime import date

    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2024, 2, 29), 12) == date(2023, 2, 28)
    assert months_before(date(2026, 1, 15), 12) == date(2025, 1, 15)


def test_members_move_up_at_once_with_the_change_recorded(world, member, program, tiers):
    silver, _gold = tiers
    for day in (1, 2):
        visit(member, program, world.carol, local(2026, 11, day, 10))
    assert fresh(member).tier is None
    visit(member, program, world.carol, local(2026, 11, 3, 10))
    assert fresh(member).tier == silver
    change = TierChange.objects.get(member=member)
    assert (change.from_tier, change.to_tier, change.reason) == (None, silver, "qualified")


def test_a_visit_counts_through_its_date_a_year_on_in_the_shops_time_zone(world, member, program, tiers):
    visit(member, program, world.carol, local(2025, 11, 23, 10))
    member = fresh(member)
    # 23:30 on 23 November 2026 in Taipei: still inside the twelve months.
    assert standing(member, local(2026, 11, 23, 23, 30)).value == 1
    # Ten minutes past midnight in Taipei is still the 23rd in UTC, but the visit is out.
    assert standing(member, local(2026, 11, 24, 0, 10)).value == 0


def test_review_moves_down_only_after_the_grace_period(world, member, program, tiers):
    silver, _gold = tiers
    for day in (1, 2, 3):
        visit(member, program, world.carol, local(2025, 6, day, 10))
    assert fresh(member).tier == silver
    # A year on the visits fall out of the window: the member is short from today.
    start = local(2026, 6, 4, 9)
    assert tiers_review(now=start) == 0
    assert fresh(member).tier_short_since == start.date()
    assert tiers_review(now=start) == 0  # the same day again: nothing more
    assert tiers_review(now=start + timedelta(days=29)) == 0
    assert fresh(member).tier == silver
    assert tiers_review(now=start + timedelta(days=30)) == 1
    member = fresh(member)
    assert member.tier is None and member.tier_short_since is None
    assert TierChange.objects.filter(member=member, reason="review").count() == 1


def test_a_visit_during_grace_keeps_the_tier(world, member, program, tiers):
    silver, _gold = tiers
    for day in (1, 2, 3):
        visit(member, program, world.carol, local(2025, 6, day, 10))
    tiers_review(now=local(2026, 6, 4, 9))
    assert fresh(member).tier_short_since
    visit(member, program, world.carol, local(2026, 6, 10, 10))  # 1 visit in window: still short
    visit(member, program, world.carol, local(2026, 6, 11, 10))
    visit(member, program, world.carol, local(2026, 6, 12, 10))  # 3 visits: qualifies again
    assert fresh(member).tier_short_since is None
    assert tiers_review(now=local(2026, 7, 20, 9)) == 0
    assert fresh(member).tier == silver


def test_points_basis_with_multiplier_and_refunds_taking_progress_back(world, member, program):
    TierPolicyFactory(shop=world.shop, basis="points", window_months=None, grace_days=0)
    gold = TierFactory(shop=world.shop, name="Gold", threshold=100, multiplier=2)
    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)
    bought = services.purchase_record(member=member, amount=Decimal(1000), staff=world.carol, idempotency_key=key())
    assert fresh(member).tier == gold
    doubled = services.purchase_record(member=member, amount=Decimal(100), staff=world.carol, idempotency_key=key())
    assert doubled.points == 20
    services.purchase_refund(
        shop=world.shop, purchase_id=bought.purchase.pk, amount=Decimal(1000), staff=world.bob, idempotency_key=key()
    )
    assert standing(fresh(member)).value == 20
    review_tiers.delay()
    review_tiers.delay()  # grace 0: short today, down on the next run
    assert fresh(member).tier is None


def test_shops_without_tiers_are_untouched(world, member, program):
    visit(member, program, world.carol, None)
    assert standing(fresh(member)) is None
    assert not TierChange.objects.exists()


def test_a_trial_lifts_the_tier_reminds_once_and_ends_back_where_the_member_qualifies(
    world, member, program, tiers, django_capture_on_commit_callbacks
):
    from django.core import mail
    from django.utils import timezone

    from rewards.models import TierTrial
    from rewards.services.tiers import tier_trial_start, trial_reminders, trials_end

    silver, gold = tiers
    for day in (3, 2, 1):
        visit(member, program, world.carol, timezone.now() - timedelta(days=day))
    assert fresh(member).tier == silver
    with pytest.raises(LoyaltyError) as error:
        tier_trial_start(member=fresh(member), tier=gold, days=14, staff=world.carol)
    assert error.value.code == "not_allowed"
    with pytest.raises(LoyaltyError) as error:
        tier_trial_start(member=fresh(member), tier=silver, days=14, staff=world.bob)
    assert error.value.code == "not_higher"
    trial = tier_trial_start(member=fresh(member), tier=gold, days=14, staff=world.bob)
    assert fresh(member).tier == gold
    with pytest.raises(LoyaltyError) as error:
        tier_trial_start(member=fresh(member), tier=gold, days=14, staff=world.bob)
    assert error.value.code == "running"

    # The review leaves a member on trial alone, however short they are.
    assert tiers_review(now=trial.starts_at + timedelta(days=5)) == 0

    # Three days before the end, one reminder, in the member's language, never twice.
    member.language = "zh-hant"
    member.save()
    before_end = trial.ends_at - timedelta(days=2)
    assert trial_reminders(now=trial.ends_at - timedelta(days=4)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert trial_reminders(now=before_end) == 1
    assert trial_reminders(now=before_end) == 0
    assert mail.outbox[-1].to == [member.email] and "Gold" in mail.outbox[-1].subject

    # At the end: back to Silver, which the visits still earn.
    assert trials_end(now=trial.ends_at) == 1
    assert trials_end(now=trial.ends_at) == 0
    assert fresh(member).tier == silver
    assert TierTrial.objects.get().ended_at == trial.ends_at
    reasons = list(TierChange.objects.filter(member=member).order_by("id").values_list("reason", flat=True))
    assert reasons == ["qualified", "trial", "trial_end"]


def test_manager_gives_a_trial_from_the_member_page(world, member, tiers):
    _silver, gold = tiers
    url = reverse("rewards:member_tier_trial", args=[world.shop.slug, member.public_id])
    response = world.client(world.bob).post(url, {"tier": gold.public_id, "days": "7"}, follow=True)
    assert "Trial started." in response.content.decode()
    assert fresh(member).tier == gold
    response = world.client(world.bob).post(url, {"tier": "nope", "days": "7"}, follow=True)
    assert "Choose a tier." in response.content.decode()
