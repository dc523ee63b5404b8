"""The insights pages through their doors: what each role sees, what a figure on the page says
after the counter's work, exports, bad input, a campaign for a group of customers, and queries
that do not grow with the shop."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse

from campaigns import tasks
from campaigns.audience import audience, in_audience
from campaigns.insights import rollup, stats
from campaigns.insights.export import cell
from campaigns.models import Campaign, MemberActivity, ShopDay
from members.models import Member
from rewards import services

from ..conftest import key
from ..factories import MemberFactory, PointsRuleFactory
from .conftest import at


def url(world, name="insights", **kwargs):
    return reverse(f"campaigns:{name}", kwargs={"shop_slug": world.shop.slug, **kwargs})


@pytest.fixture
def history(world, program):
    """A week in Alice's café: Mia comes five times, Tom once, and one of Mia's stamps is undone."""
    world.shop.time_zone = "Asia/Taipei"
    world.shop.save()
    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10, bill_points=100, bill_value=10)
    with time_machine.travel(at("2026-10-01 09:00"), tick=False):
        mia = MemberFactory(shop=world.shop, name="Mia Chen", joined_at=at("2026-10-01 09:00"))
        tom = MemberFactory(shop=world.shop, name='=HYPERLINK("x")', joined_at=at("2026-10-01 09:00"))
    for day in range(1, 6):
        moment = at(f"2026-10-0{day + 1} 08:30")
        with time_machine.travel(moment, tick=False):
            services.purchase_record(
                member=mia, amount=Decimal(120), staff=world.carol, idempotency_key=key(), at=moment
            )
    with time_machine.travel(at("2026-10-03 12:00"), tick=False):
        slip = services.stamp_add(member=tom, program=program, count=1, staff=world.carol, idempotency_key=key())
        services.action_undo(shop=world.shop, group=slip.group, staff=world.carol, idempotency_key=key())
    with time_machine.travel(at("2026-10-04 15:00"), tick=False):
        services.stamp_add(member=tom, program=program, count=1, staff=world.bob, idempotency_key=key())
    now = at("2026-10-08 10:00")
    with time_machine.travel(now, tick=False):
        rollup.backfill(world.shop)
    return {"mia": mia, "tom": tom, "now": now}


def test_the_owner_sees_the_counters_work_on_the_overview(world, history):
    with time_machine.travel(history["now"], tick=False):
        response = world.client(world.alice).get(url(world), {"period": 7})
    assert response.status_code == 200
    figures = {f.key: f for f in response.context["figures"]}
    # Six visits: Mia's five purchases and Tom's second stamp; the undone stamp is no visit.
    assert figures["visits"].now == 6
    assert figures["active"].now == 2
    assert figures["spending"].now == Decimal(600)
    assert figures["average_bill"].now == Decimal(120)
    assert figures["members"].now == 2
    html = response.content.decode()
    assert "NT$600" in html and "Spending recorded" in html
    # The busiest hour: Mia at half past eight, on five weekdays.
    grid = response.context["grid"]
    assert sum(hours[8] for _weekday, hours in grid) == 5


def test_a_manager_sees_the_operational_part_only_and_staff_none(world, history):
    bob = world.client(world.bob)
    with time_machine.travel(history["now"], tick=False):
        response = bob.get(url(world))
        assert response.status_code == 200
        assert "Spending recorded" not in response.content.decode()
        assert bob.get(url(world, "insights_staff")).status_code == 200
        assert bob.get(url(world, "insights_customers")).status_code == 403
        assert bob.get(url(world, "insights_programme")).status_code == 403
        assert bob.get(url(world, "insights_segment", segment="regular")).status_code == 403
        assert world.client(world.carol).get(url(world)).status_code == 403


def test_another_shops_owner_gets_nothing(world, history):
    dave = world.client(world.dave)
    for name, kwargs in [("insights", {}), ("insights_customers", {}), ("insights_segment", {"segment": "new"}),
                         ("insights_staff", {}), ("insights_rows", {})]:  # fmt: skip
        assert dave.get(url(world, name, **kwargs)).status_code == 404


def test_the_staff_page_and_the_rows_behind_a_flag(world, history):
    with time_machine.travel(history["now"], tick=False):
        page = world.client(world.alice).get(url(world, "insights_staff"), {"period": 7})
        lines = {line.name: line for line in page.context["lines"]}
        assert lines["carol@example.com"].visits == 5 and lines["carol@example.com"].undos == 1
        assert lines["bob@example.com"].stamps == 1
        rows = world.client(world.alice).get(url(world, "insights_rows"), {"period": 7, "kind": "undo"})
    assert rows.status_code == 200
    assert [entry.reason for entry in rows.context["entries"]] == ["void"]


def test_many_joins_from_one_address_are_flagged_with_the_members_behind(world, history):
    day = at("2026-10-06 20:00")
    for n in range(5):
        MemberFactory(shop=world.shop, name=f"Burst {n}", joined_at=day + timedelta(minutes=n), joined_from="abc123")
    with time_machine.travel(history["now"], tick=False):
        rollup.backfill(world.shop)
        page = world.client(world.alice).get(url(world, "insights_staff"), {"period": 7})
        flag = next(flag for flag in page.context["flags"] if flag.kind == "joins")
        rows = world.client(world.alice).get(url(world, "insights_rows"), {"period": 7, **flag.rows})
    assert "5 members joined from one network address" in flag.text
    assert {m.name for m in rows.context["members"]} == {f"Burst {n}" for n in range(5)}


def test_the_join_page_records_a_key_of_the_address_not_the_address(client, world):
    response = client.post(
        reverse("members:join", args=[world.shop.slug]),
        {"name": "Ann", "email": "ann@example.com", "language": "en"},
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 302
    member = Member.objects.get(email="ann@example.com")
    assert len(member.joined_from) == 16 and "203" not in member.joined_from


def test_segments_lists_exports_and_a_campaign_for_them(world, history):
    alice = world.client(world.alice)
    with time_machine.travel(history["now"], tick=False):
        assert MemberActivity.objects.get(member=history["mia"]).segment == "new"
        page = alice.get(url(world, "insights_segment", segment="new"))
        assert [a.member for a in page.context["page"].object_list] == [history["mia"], history["tom"]]
        export = alice.get(url(world, "insights_segment", segment="new"), {"export": "members"})
        rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
        # A name a spreadsheet would run as a formula is written as text.
        assert rows[2][0] == '\'=HYPERLINK("x")'
        assert rows[1][0] == "Mia Chen" and rows[1][5] == "5"
        # One click from the list: a win-back for these members, saved as such.
        create = url(world, "campaign_create", kind="winback")
        form = alice.get(create, {"audience": "segment", "segment": "new"})
        assert form.context["form"].initial["audience_segment"] == "new"
        response = alice.post(create, {
            "name": "Come again", "is_active": "on", "audience": "segment", "audience_segment": "new",
            "days_away": "7", "gift": "points", "gift_points": "20", "holdout_percent": "0",
            "voucher_valid_days": "14",
        })  # fmt: skip
        assert response.status_code == 302, response.context["form"].errors
        campaign = Campaign.objects.get(name="Come again")
        assert set(audience(campaign)) == {history["mia"], history["tom"]}
        assert in_audience(campaign, history["mia"])
        MemberActivity.objects.filter(member=history["tom"]).update(segment="lapsed")
        assert not in_audience(campaign, history["tom"])


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("insights", {"by": "year"}),
        ("insights", {"export": "everything"}),
        ("insights_rows", {"kind": "salaries"}),
        ("insights_rows", {"kind": "stamps", "staff": "1 OR 1=1"}),
        ("insights_rows", {"kind": "stamps", "member": "not-a-uuid"}),
        ("insights_rows", {"kind": "joins", "day": "2026-02-30"}),
        ("insights_customers", {"export": "../etc"}),
    ],
)
def test_bad_input_is_a_404_and_changes_nothing(world, history, name, params):
    before = ShopDay.objects.count()
    assert world.client(world.alice).get(url(world, name), params).status_code == 404
    assert ShopDay.objects.count() == before


def test_an_unknown_period_says_so_and_shows_thirty_days(world, history):
    response = world.client(world.alice).get(url(world), {"period": "100000"})
    assert response.status_code == 200
    assert response.context["period"].days == 30
    assert "There is no such period" in response.content.decode()
    assert world.client(world.alice).get(url(world, "insights_segment", segment="vip")).status_code == 404


def test_csv_cells_that_a_spreadsheet_would_run_are_text():
    assert [cell(v) for v in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "Mia", 5, Decimal("-2.50"), None]] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "Mia", 5, Decimal("-2.50"), "",
    ]  # fmt: skip


def test_exports_of_each_table(world, history):
    alice = world.client(world.alice)
    with time_machine.travel(history["now"], tick=False):
        for name, table in [("insights", "trend"), ("insights", "hours"), ("insights", "headline"),
                            ("insights_customers", "segments"), ("insights_customers", "retention"),
                            ("insights_customers", "frequency"), ("insights_programme", "rewards"),
                            ("insights_programme", "tiers"), ("insights_programme", "campaigns"),
                            ("insights_staff", "staff")]:  # fmt: skip
            response = alice.get(url(world, name), {"export": table})
            assert response.status_code == 200 and response["Content-Type"].startswith("text/csv"), table
            assert b"".join(response.streaming_content).startswith("\ufeff".encode()), table


def test_pages_cost_the_same_queries_for_a_bigger_shop(world, history, django_assert_max_num_queries):
    """Pages read the roll-ups: 40 more members with visits add no query."""
    alice = world.client(world.alice)
    pages = [url(world), url(world, "insights_customers"), url(world, "insights_segment", segment="new"),
             url(world, "insights_programme"), url(world, "insights_staff")]  # fmt: skip
    with time_machine.travel(history["now"], tick=False):
        alice.get(pages[0])  # the session and the shop's settings, once
        counts = []
        for page in pages:
            with django_assert_max_num_queries(16) as captured:
                alice.get(page)
            counts.append(len(captured))
        for n in range(40):
            member = MemberFactory(shop=world.shop, joined_at=at("2026-10-02 10:00"))
            services.purchase_record(member=member, amount=Decimal(50), staff=world.carol, idempotency_key=key(),
                                     at=at("2026-10-05 11:00") + timedelta(minutes=n))  # fmt: skip
        rollup.backfill(world.shop)
        again = []
        for page in pages:
            with django_assert_max_num_queries(16) as captured:
                alice.get(page)
            again.append(len(captured))
    assert again == counts


def test_the_nightly_task_counts_each_shop_once_a_day(world, history):
    with time_machine.travel(at("2026-10-09 01:00"), tick=False):
        assert tasks.roll_up_days() > 0
        assert tasks.roll_up_days() == 0, "yesterday is counted: nothing to do until tomorrow"
        assert ShopDay.objects.filter(shop=world.shop, day=at("2026-10-08 12:00").date()).exists()


def test_a_shop_whose_run_is_still_going_is_left_alone(world, history):
    cache.add(rollup.RUNNING.format(world.shop.pk), "running")
    try:
        with time_machine.travel(at("2026-10-09 01:00"), tick=False):
            tasks.roll_up_days()
            assert not ShopDay.objects.filter(shop=world.shop, day=at("2026-10-08 12:00").date()).exists()
    finally:
        cache.delete(rollup.RUNNING.format(world.shop.pk))


def test_the_backfill_command(world, history):
    ShopDay.objects.all().delete()
    with time_machine.travel(history["now"], tick=False):
        call_command("insights_backfill", world.shop.slug, stdout=io.StringIO())
    assert ShopDay.objects.filter(shop=world.shop).count() == 7
    with pytest.raises(CommandError):
        call_command("insights_backfill", "no-such-shop")


def test_uplift_is_only_claimed_with_enough_members_and_with_its_interval():
    assert not stats.uplift(40, 30, 1, 0).enough, "one member held back tells nothing"
    # Newcombe (1998), example (a): 56/70 against 48/80, method 10: 0.0524 to 0.3339.
    found = stats.uplift(70, 56, 80, 48)
    assert found.enough and found.clear
    assert (found.lift, found.low, found.high) == (20.0, 5.2, 33.4)
    unclear = stats.uplift(40, 21, 40, 19)
    assert unclear.enough and not unclear.clear and unclear.low < 0 < unclear.high


def test_the_campaign_page_says_too_few_to_tell(world, make):
    campaign = make("winback", days_away=30, holdout_percent=20)
    response = world.client(world.alice).get(reverse("campaigns:campaign_edit", args=[world.shop.slug,
                                                                                      campaign.public_id]))  # fmt: skip
    assert response.status_code == 200
    assert "percentage points more often" not in response.content.decode()


def test_today_is_counted_live(world, history, program):
    with time_machine.travel(at("2026-10-08 11:00"), tick=False):
        services.stamp_add(member=history["tom"], program=program, count=1, staff=world.carol, idempotency_key=key())
        response = world.client(world.alice).get(url(world))
    # Today has no stored row yet; the page counts it from today's rows.
    assert not ShopDay.objects.filter(shop=world.shop, day=at("2026-10-08 12:00").date()).exists()
    assert response.context["today"]["visits"] == 1 and response.context["today"]["stamps"] == 1
