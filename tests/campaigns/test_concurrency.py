"""Campaigns racing on PostgreSQL: two beat runs at once, a friend's two visits at once."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, Reach
from rewards import ledger
from rewards import services as rewards_services
from rewards.models import LedgerEntry, Voucher

from ..factories import CampaignFactory, MemberFactory, ShopFactory, StaffFactory, StampProgramFactory
from ..rewards.test_concurrency import race
from .conftest import at

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only"),
]


def test_two_birthday_runs_at_once_give_one_gift():
    shop = ShopFactory()
    CampaignFactory(
        shop=shop, kind=Campaign.Kind.BIRTHDAY, name="Cake", gift="voucher", voucher_title="Cake", days_before=0
    )
    members = [MemberFactory(shop=shop, birthday=date(1990, 3, 10), marketing_consent=True) for _ in range(5)]
    results = race(4, lambda i: services.birthdays_run(now=at("2027-03-10 10:00")))
    assert sum(results) == 5, results
    assert Voucher.objects.filter(member__in=members).count() == 5
    assert Reach.objects.count() == 5


def test_a_friends_two_first_visits_at_once_reward_the_referral_once():
    shop = ShopFactory()
    staff = StaffFactory(shop=shop).user
    program = StampProgramFactory(shop=shop, name="Card", reward="Free", min_minutes_between_visits=0)
    CampaignFactory(
        shop=shop, kind=Campaign.Kind.REFERRAL, name="Friends", gift="points", gift_points=100,
        starts_at=timezone.now() - timedelta(days=1),
    )  # fmt: skip
    referrer = MemberFactory(shop=shop, joined_at=timezone.now() - timedelta(hours=2))
    friend = MemberFactory(shop=shop, referred_by=referrer)

    def visit(i):
        return rewards_services.stamp_add(
            member=friend, program=program, count=1, staff=staff, idempotency_key=f"race-{i}"
        )

    results = race(4, visit)
    assert not [r for r in results if isinstance(r, Exception)], results
    referrer.refresh_from_db()
    friend.refresh_from_db()
    assert (referrer.points, friend.points) == (100, 100)
    assert LedgerEntry.objects.filter(reason=LedgerEntry.Reason.CAMPAIGN).count() == 2
    assert ledger.drift() == []
