"""The audience rules that run in SQL for previews and beat tasks give what the Python rules give,
member by member: the birthday window (29 February included) and the hold-out hash."""

from datetime import date, timedelta

import pytest

from campaigns.audience import birthday_within, held_out_count, is_held_out, next_birthday
from campaigns.models import Campaign
from members.models import Member

from ..factories import CampaignFactory, MemberFactory, ShopFactory

pytestmark = pytest.mark.django_db


def test_the_birthday_window_in_sql_is_next_birthday_in_python():
    shop = ShopFactory()
    born = [date(1992, 1, 1) + timedelta(days=n) for n in range(366)]  # 1992 is a leap year
    for n, day in enumerate(born):
        MemberFactory(shop=shop, birthday=day, email=f"b{n}@example.com")
    for today in (date(2026, 2, 20), date(2028, 2, 20), date(2026, 12, 25), date(2027, 6, 30)):
        for days in (0, 7, 14):
            horizon = today + timedelta(days=days)
            in_sql = set(
                Member.objects.filter(shop=shop)
                .filter(birthday_within(today, horizon))
                .values_list("birthday", flat=True)
            )
            in_python = {day for day in born if next_birthday(day, today) <= horizon}
            assert in_sql == in_python, (today, days)


def test_the_holdout_count_in_the_database_is_the_python_hash():
    shop = ShopFactory()
    members = [MemberFactory(shop=shop, email=f"h{n}@example.com") for n in range(300)]
    campaign = CampaignFactory(shop=shop, kind=Campaign.Kind.WINBACK, name="Back", days_away=30, holdout_percent=20)
    expected = sum(is_held_out(campaign, member) for member in members)
    assert 30 < expected < 90
    assert held_out_count(campaign, Member.objects.filter(shop=shop)) == expected
