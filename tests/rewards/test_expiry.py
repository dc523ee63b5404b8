import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from members.models import Member
from rewards import ledger, services
from rewards.models import LedgerEntry
from rewards.services.expiry import next_expiry, points_expire

from ..conftest import key
from ..factories import PointsRuleFactory

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


def local(*args):
    return datetime(*args, tzinfo=TAIPEI)


@pytest.fixture
def rule(world):
    world.shop.time_zone = "Asia/Taipei"
    world.shop.save()
    return PointsRuleFactory(
        shop=world.shop, is_active=True, step_amount=1, bill_points=1, bill_value=1, bill_max_percent=100,
        expiry="earned", expiry_months=6, expiry_since=local(2026, 1, 1),
    )  # fmt: skip


def earn(member, staff, amount, at):
    return services.purchase_record(member=member, amount=Decimal(amount), staff=staff, idempotency_key=key(), at=at)


def spend(member, staff, pts, at):
    return services.purchase_record(
        member=member, amount=Decimal(pts), staff=staff, idempotency_key=key(), pay_points=pts, at=at
    )


def balance(member):
    return Member.objects.get(pk=member.pk).points


def test_first_earned_first_spent_and_expired(world, member, rule):
    earn(member, world.carol, 100, local(2026, 1, 10, 12))
    earn(member, world.carol, 50, local(2026, 3, 10, 12))
    spend(member, world.carol, 120, local(2026, 4, 1, 12))  # pays 120 of the oldest first; earns 0
    assert balance(member) == 30
    fresh = Member.objects.get(pk=member.pk)
    assert next_expiry(fresh, rule, TAIPEI, now=local(2026, 5, 1)) == (30, local(2026, 9, 10, 12))
    assert points_expire(now=local(2026, 7, 11)) == 0  # the January points were all spent
    assert points_expire(now=local(2026, 9, 10, 12)) == 1
    assert balance(member) == 0
    assert points_expire(now=local(2026, 9, 10, 12)) == 0  # the same day again
    assert points_expire(now=local(2026, 9, 11)) == 0  # and the next day
    entry = LedgerEntry.objects.get(reason="expiry")
    assert entry.points == -30


def test_a_new_rule_never_expires_points_earned_before_it(world, member, rule):
    earn(member, world.carol, 100, local(2025, 12, 1, 12))
    earn(member, world.carol, 10, local(2026, 2, 1, 12))
    assert points_expire(now=local(2027, 1, 1)) == 1
    assert balance(member) == 100


def test_expiry_after_months_without_a_visit(world, member, rule):
    rule.expiry = "inactive"
    rule.expiry_months = 3
    rule.save()
    earn(member, world.carol, 80, local(2026, 2, 1, 12))
    fresh = Member.objects.get(pk=member.pk)
    assert next_expiry(fresh, rule, TAIPEI, now=local(2026, 3, 1)) == (80, local(2026, 5, 1, 12))
    assert points_expire(now=local(2026, 4, 30)) == 0
    assert points_expire(now=local(2026, 5, 1, 12)) == 1
    assert balance(member) == 0


def test_a_changed_expiry_rule_applies_to_points_earned_from_then_on(world, member, rule):
    """The rule keeps its start date; points keep the terms they were earned under."""
    from rewards import services
    from rewards.models import PointsExpiryTerms

    earn(member, world.carol, 100, local(2026, 2, 1, 12))  # under 6 months: expires 1 August
    rule.expiry_months = 12
    services.points_rule_save(rule=rule, expiry_from=local(2026, 3, 1))
    rule.refresh_from_db()
    assert rule.expiry_since == local(2026, 1, 1)
    assert list(PointsExpiryTerms.objects.values_list("months", flat=True)) == [6, 12]
    earn(member, world.carol, 50, local(2026, 3, 15, 12))  # under 12 months: expires March 2027
    services.points_rule_save(rule=rule)  # nothing about expiry changed: no new terms
    assert PointsExpiryTerms.objects.count() == 2
    assert points_expire(now=local(2026, 8, 1, 12)) == 1
    assert balance(member) == 50
    for day in range(2, 30):  # the daily job, again and again: nothing more
        points_expire(now=local(2026, 8, day, 12))
    assert balance(member) == 50
    assert points_expire(now=local(2027, 3, 15, 12)) == 1
    assert balance(member) == 0


def test_the_card_says_what_expires_when(world, member, rule, client):
    from django.urls import reverse
    from django.utils import timezone

    from members.tokens import card_token

    rule.expiry_since = timezone.now() - timedelta(days=1)
    rule.save()
    earn(member, world.carol, 120, None)
    body = client.get(reverse("rewards:card", args=[card_token(member)])).content.decode()
    assert "120 points expire on" in body


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["earn", "spend", "expire"]), st.integers(1, 300), st.integers(1, 40)),
        min_size=1,
        max_size=10,
    )
)
def test_expiry_never_takes_more_than_was_earned(world, rule, steps):
    from ..factories import MemberFactory

    member = MemberFactory(shop=world.shop)
    when = local(2026, 1, 2, 12)
    for action, n, days in steps:
        when += timedelta(days=days)
        if action == "earn":
            earn(member, world.carol, n, when)
        elif action == "spend" and balance(member) > 0:
            spend(member, world.carol, min(n, balance(member)), when)
        else:
            points_expire(now=when)
    points_expire(now=when + timedelta(days=800))
    entries = LedgerEntry.objects.filter(member=member)
    earned = sum(e.points for e in entries if e.points > 0)
    expired = -sum(e.points for e in entries if e.reason == "expiry")
    assert 0 <= expired <= earned
    assert balance(member) >= 0
    assert balance(member) == sum(e.points for e in entries)
    assert ledger.drift() == []
    # Long after everything was earned, nothing earned under the rule is left.
    assert balance(member) == 0


def test_the_owner_schedules_new_terms_and_cannot_backdate_them(world, rule):
    from django.urls import reverse
    from django.utils import timezone

    from rewards.models import PointsExpiryTerms

    url = reverse("rewards:points_settings", args=[world.shop.slug])
    data = {"is_active": "on", "points_per_step": "1", "step_amount": "1", "rounding": "down", "min_purchase": "0",
            "bill_points": "1", "bill_value": "1", "bill_max_percent": "100", "max_purchase": "10000",
            "expiry": "earned", "expiry_months": "12"}  # fmt: skip
    bob = world.client(world.bob)
    yesterday = timezone.localdate(timezone=TAIPEI) - timedelta(days=1)
    response = bob.post(url, {**data, "expiry_from": yesterday.isoformat()})
    assert response.status_code == 400 and "cannot start in the past" in response.content.decode()
    assert not PointsExpiryTerms.objects.exists()
    later = timezone.localdate(timezone=TAIPEI) + timedelta(days=30)
    assert bob.post(url, {**data, "expiry_from": later.isoformat()}).status_code == 302
    terms = list(PointsExpiryTerms.objects.values_list("months", "valid_from"))
    assert terms[0] == (6, local(2026, 1, 1))
    assert terms[1][0] == 12 and timezone.localtime(terms[1][1], TAIPEI).date() == later
