"""Anniversary of joining: a gift on the day each member joined, in the shop's calendar, every
year, once per year of membership, growing with the years up to ten."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from campaigns import services
from campaigns.models import Campaign, Reach
from members.models import Member, Message

from ..factories import MemberFactory

TAIPEI = ZoneInfo("Asia/Taipei")


def taipei(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TAIPEI)


@pytest.fixture
def anniversary(world, make):
    world.shop.time_zone = "Asia/Taipei"
    world.shop.save()
    return make(Campaign.Kind.ANNIVERSARY, gift="points", gift_points=20)


def points(member) -> int:
    return Member.objects.get(pk=member.pk).points


def test_once_a_year_on_the_shops_day_and_growing_with_the_years(world, anniversary):
    # Joined at half past midnight in Taipei on 10 March: still 9 March in UTC.
    member = MemberFactory(shop=world.shop, joined_at=taipei("2025-03-10 00:30"), marketing_consent=True)
    assert services.anniversaries_run(now=taipei("2026-03-09 18:00")) == 0
    assert services.anniversaries_run(now=taipei("2026-03-10 10:00")) == 1
    for hour in (11, 15, 20):
        assert services.anniversaries_run(now=taipei(f"2026-03-10 {hour}:00")) == 0
    assert points(member) == 20
    assert services.anniversaries_run(now=taipei("2027-03-10 09:30")) == 1
    assert points(member) == 20 + 40
    assert sorted(Reach.objects.filter(member=member).values_list("occasion", flat=True)) == ["1", "2"]
    message = Message.objects.filter(member=member).latest("created_at")
    assert message.context["years"] == 2


def test_a_missed_day_is_caught_up_for_a_week_and_no_longer(world, anniversary):
    late = MemberFactory(shop=world.shop, joined_at=taipei("2025-03-10 12:00"))
    later = MemberFactory(shop=world.shop, joined_at=taipei("2025-03-02 12:00"))
    assert services.anniversaries_run(now=taipei("2026-03-15 10:00")) == 1
    assert (points(late), points(later)) == (20, 0)


def test_the_29th_of_february_is_the_28th_in_other_years(world, anniversary):
    leap = MemberFactory(shop=world.shop, joined_at=taipei("2024-02-29 15:00"))
    assert services.anniversaries_run(now=taipei("2025-02-28 10:00")) == 1
    assert services.anniversaries_run(now=taipei("2025-03-01 10:00")) == 0
    assert services.anniversaries_run(now=taipei("2028-02-29 10:00")) == 1
    assert points(leap) == 20 + 80


def test_not_before_a_year_and_at_most_ten_times_the_gift(world, anniversary):
    new = MemberFactory(shop=world.shop, joined_at=taipei("2026-03-10 10:00"))
    old = MemberFactory(shop=world.shop, joined_at=taipei("2010-03-10 10:00"))
    assert services.anniversaries_run(now=taipei("2026-03-10 10:00")) == 1
    assert (points(new), points(old)) == (0, 200)


def test_nothing_at_night_or_when_paused(world, anniversary):
    member = MemberFactory(shop=world.shop, joined_at=taipei("2025-03-10 12:00"))
    assert services.anniversaries_run(now=taipei("2026-03-10 03:00")) == 0
    Campaign.objects.filter(pk=anniversary.pk).update(is_active=False)
    assert services.anniversaries_run(now=taipei("2026-03-10 10:00")) == 0
    assert points(member) == 0


def test_the_owner_sets_one_up(world):
    client = world.client(world.bob)
    url = f"/s/{world.shop.slug}/campaigns/new/anniversary/"
    page = client.get(url).content.decode()
    assert "for each year the member has been with you" in page.lower()
    data = {
        "name": "Thank you for the years", "audience": "all", "holdout_percent": "0", "gift": "points",
        "gift_points": "20", "gift_stamps": "", "voucher_title": "", "voucher_valid_days": "14", "is_active": "on",
    }  # fmt: skip
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get(kind=Campaign.Kind.ANNIVERSARY)
    assert campaign.gift_points == 20
