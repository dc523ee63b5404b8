"""The benchmark shop generator: realistic, drift-free and the same for the same seed."""

from collections import Counter

import pytest

from campaigns.models import Campaign, Reach
from loyalty_site.generate import code_for, generate
from members.models import Member, Shop
from rewards import ledger
from rewards.models import LedgerEntry

pytestmark = pytest.mark.django_db


def fingerprint(shop):
    members = sorted(Member.objects.filter(shop=shop).values_list("public_id", "code", "points", "tier__name"))
    rows = sorted(
        LedgerEntry.objects.filter(shop=shop).values_list(
            "member__public_id", "reason", "stamps", "points", "created_at"
        )
    )
    return members, rows


def test_a_generated_shop_has_every_kind_of_history_and_no_drift():
    shop = generate(slug="bench-test", members=300, seed=7)
    assert ledger.drift() == []
    assert shop.members.count() == 300
    rows = shop.ledger.count()
    assert 12 * 300 <= rows <= 30 * 300
    reasons = Counter(shop.ledger.values_list("reason", flat=True))
    Reason = LedgerEntry.Reason
    assert {Reason.VISIT, Reason.PURCHASE, Reason.CARD_COMPLETE, Reason.REDEEM, Reason.REFUND, Reason.CAMPAIGN} <= set(
        reasons
    )
    assert shop.members.filter(tier__isnull=False).exists() and shop.members.filter(tier__isnull=True).exists()
    kinds = set(Campaign.objects.filter(shop=shop).values_list("kind", flat=True))
    assert kinds == set(Campaign.Kind.values)
    assert Reach.objects.filter(shop=shop, held_out=True).exists()
    assert Reach.objects.filter(shop=shop, message__isnull=False).exists()


def test_the_same_seed_makes_the_same_shop():
    first = fingerprint(generate(slug="same", members=60, seed=3))
    Shop.objects.filter(slug="same").delete()
    assert fingerprint(generate(slug="same", members=60, seed=3)) == first


def test_codes_never_collide():
    codes = {code_for(n, salt=7) for n in range(200_000)}
    assert len(codes) == 200_000


# Any hour of a UTC day: the shop's (Taipei's) day starts at 22:00 UTC, the server's at 00:00. On 30 November
# 2026 members redeemed a birthday voucher after their last win-back; at 23:59 UTC on 2 December a "now" of
# 6:00 on the server's date was 26 hours old, too old for a member last seen at 7:58 in Taipei on 1 November.
WHEN = ["2026-11-30 00:30", "2026-11-30 06:00", "2026-11-30 12:00", "2026-11-30 17:00", "2026-11-30 21:59",
        "2026-11-30 22:00", "2026-11-30 23:30", "2026-12-02 23:59"]  # fmt: skip


@pytest.mark.parametrize("when", WHEN)
def test_the_win_back_campaign_is_as_its_daily_run_left_it(when):
    """Every lapse before the shop's generated "now" was reached once, members who came back and
    lapsed again included (to redeem a win-back or a birthday voucher): the benchmark's win-back run
    measures one day's work, not years'."""
    from datetime import UTC, datetime, timedelta

    import time_machine
    from django.utils import timezone

    from campaigns.services import _lapsed

    with time_machine.travel(datetime.fromisoformat(when).replace(tzinfo=UTC), tick=False):
        shop = generate(slug="winback", members=300, seed=11)
        now = timezone.now()
    winback = Campaign.objects.get(shop=shop, kind=Campaign.Kind.WINBACK)
    # The shop is generated up to its latest 6:00, less than a day ago and never ahead of the clock; two
    # days back leaves the day that win-back waits (a lapse is reached the day after) and more.
    assert not LedgerEntry.objects.filter(shop=shop, created_at__gt=now).exists()
    assert not Reach.objects.filter(shop=shop, created_at__gt=now).exists()
    assert _lapsed(winback, now - timedelta(days=2)).count() == 0
    assert (
        Reach.objects.filter(campaign=winback).values("member").distinct().count()
        < Reach.objects.filter(campaign=winback).count()
    ), "some members lapsed twice"
