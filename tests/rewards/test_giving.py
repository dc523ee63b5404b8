"""Giving to a shop's causes: the shop's gift per visit or purchase, members' points given and
matched, undo, refunds and a manager's reversal, the partner's report; each proven by what the
member, the owner and the partner's report see afterwards."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.urls import reverse

from members.tokens import card_token
from rewards import services
from rewards.ledger import LoyaltyError, Reason
from rewards.models import Cause, Contribution, LedgerEntry
from rewards.services import giving

from ..conftest import key
from ..factories import CauseFactory, MemberFactory, PointsRuleFactory

TAIPEI = ZoneInfo("Asia/Taipei")


@pytest.fixture
def rule(world):
    """A point for every NT$1, so a purchase of NT$n gives n points."""
    return PointsRuleFactory(shop=world.shop, points_per_step=1, step_amount=1, max_purchase=100_000)


@pytest.fixture
def trees(world):
    """NT$10 for each visit; a tree costs NT$10, so a visit plants one."""
    return CauseFactory(shop=world.shop, unit_cost=10, goal=500)


def buy(member, staff, amount, **kwargs):
    return services.purchase_record(member=member, amount=Decimal(amount), staff=staff, idempotency_key=key(), **kwargs)


def stamp(member, program, staff, **kwargs):
    return services.stamp_add(member=member, program=program, count=1, staff=staff, idempotency_key=key(), **kwargs)


def raised(cause) -> Decimal:
    cache.clear()
    [progress] = giving.progress(cause.shop, [cause])
    return progress.raised


def points_of(member) -> int:
    member.refresh_from_db()
    return member.points


def donate(member, cause, points, **kwargs):
    return giving.points_donate(member=member, cause=cause, points=points, idempotency_key=key(), **kwargs)


# The shop's own gift


def test_a_visit_gives_once_however_many_stamps_and_purchases_it_holds(world, program, rule, member, trees):
    stamp(member, program, world.carol)
    stamp(member, program, world.carol)  # the same visit: within minutes
    buy(member, world.carol, 120)
    [gift] = Contribution.objects.filter(cause=trees)
    assert (gift.kind, gift.amount, gift.member) == (Contribution.Kind.VISIT, Decimal(10), member)
    assert raised(trees) == Decimal(10)
    later = datetime.now(tz=TAIPEI) + timedelta(hours=2)
    stamp(member, program, world.carol, at=later)
    assert raised(trees) == Decimal(20)


def test_a_cause_per_purchase_gives_for_each_purchase_and_takes_it_back_on_a_full_refund(world, rule, member):
    cause = CauseFactory(shop=world.shop, basis=Cause.Basis.PURCHASE, amount_per=5, unit_cost=5)
    first = buy(member, world.carol, 100)
    buy(member, world.carol, 50)
    assert raised(cause) == Decimal(10)
    services.purchase_refund(
        shop=world.shop, purchase_id=first.purchase.pk, amount=Decimal(40), staff=world.bob, idempotency_key=key()
    )  # partly: the purchase still happened
    assert raised(cause) == Decimal(10)
    services.purchase_refund(
        shop=world.shop, purchase_id=first.purchase.pk, amount=Decimal(60), staff=world.bob, idempotency_key=key()
    )
    assert raised(cause) == Decimal(5)
    reversal = Contribution.objects.get(cause=cause, amount__lt=0)
    assert reversal.reverses.entry.purchase == first.purchase
    assert reversal.entry.reason == Reason.REFUND


def test_undo_at_the_counter_takes_the_visits_gift_back(world, program, member, trees):
    result = stamp(member, program, world.carol)
    assert raised(trees) == Decimal(10)
    services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    assert raised(trees) == 0
    assert Contribution.objects.filter(cause=trees).count() == 2  # the gift and its reversal: nothing deleted


def test_a_paused_cause_takes_nothing_and_a_shop_without_causes_pays_no_query(
    world, program, member, trees, django_assert_num_queries
):
    services_cause = giving.cause_save(shop=world.shop, cause=trees, fields={"status": "paused"}, by=world.alice)
    assert services_cause.status == Cause.Status.PAUSED
    stamp(member, program, world.carol)
    assert not Contribution.objects.exists()


def test_a_cause_that_takes_nothing_per_visit_only_counts_gifts(world, program, member):
    cause = CauseFactory(shop=world.shop, basis=Cause.Basis.NONE, amount_per=0, point_value=1)
    stamp(member, program, world.carol)
    assert raised(cause) == 0


# Members' points


@pytest.fixture
def fund(world):
    """Members give points (NT$0.5 each); the shop matches up to NT$30."""
    return CauseFactory(shop=world.shop, basis=Cause.Basis.NONE, amount_per=0, point_value="0.5", match_limit=30)


def test_points_given_are_spent_valued_and_matched_up_to_the_limit(world, rule, member, fund):
    buy(member, world.carol, 200)
    donate(member, fund, 40)  # NT$20, matched NT$20
    assert points_of(member) == 160
    entry = LedgerEntry.objects.get(member=member, reason=Reason.DONATION)
    assert (entry.points, entry.money_amount) == (-40, Decimal(20))
    donate(member, fund, 60)  # NT$30, matched NT$10: the limit is reached
    fund.refresh_from_db()
    assert fund.matched == Decimal(30)
    assert raised(fund) == Decimal(20 + 20 + 30 + 10)
    donate(member, fund, 10)  # no match left
    assert raised(fund) == Decimal(85)
    [progress] = giving.progress(world.shop, [fund], member)
    assert progress.mine == Decimal(85)


@pytest.mark.parametrize(
    ("points", "code"),
    [(0, "bad_points"), (-5, "bad_points"), (1, "bad_points"), (101, "not_enough_points")],
)
def test_a_gift_that_cannot_be_made_changes_nothing(world, rule, member, points, code):
    # NT$0.4 a point: one point is worth less than NT$1, which a TWD shop cannot pay.
    cause = CauseFactory(shop=world.shop, basis=Cause.Basis.NONE, amount_per=0, point_value="0.4")
    buy(member, world.carol, 100)
    with pytest.raises(LoyaltyError) as refused:
        donate(member, cause, points)
    assert refused.value.code == code
    assert points_of(member) == 100
    assert not Contribution.objects.exists()


def test_a_cause_not_taking_points_refuses_them(world, rule, member, trees):
    buy(member, world.carol, 100)
    with pytest.raises(LoyaltyError) as refused:
        donate(member, trees, 10)  # trees takes no points (point_value 0)
    assert refused.value.code == "cause_closed"
    ended = CauseFactory(shop=world.shop, point_value=1, status=Cause.Status.ENDED)
    with pytest.raises(LoyaltyError):
        donate(member, ended, 10)
    other = CauseFactory(shop=world.other_shop, point_value=1)
    with pytest.raises(LoyaltyError) as refused:
        donate(member, other, 10)
    assert refused.value.code == "wrong_shop"
    assert points_of(member) == 100 + 0  # a purchase visit: trees got NT$10, the member's points stay


def test_a_resent_gift_gives_once(world, rule, member, fund):
    buy(member, world.carol, 100)
    same = key()
    first = giving.points_donate(member=member, cause=fund, points=20, idempotency_key=same)
    again = giving.points_donate(member=member, cause=fund, points=20, idempotency_key=same)
    assert again.replayed and again.group == first.group
    assert points_of(member) == 80
    assert Contribution.objects.filter(kind=Contribution.Kind.DONATION).count() == 1


def test_a_gift_is_not_undone_at_the_counter(world, rule, member, fund):
    buy(member, world.carol, 100)
    gift = donate(member, fund, 20)
    with pytest.raises(LoyaltyError) as refused:
        services.action_undo(shop=world.shop, group=gift.group, staff=world.bob, idempotency_key=key())
    assert refused.value.code == "donation_final"
    assert points_of(member) == 80


# A manager's reversal


def test_a_manager_reverses_a_gift_with_a_reason_once(world, rule, member, fund):
    buy(member, world.carol, 100)
    donate(member, fund, 40)
    gift = Contribution.objects.get(kind=Contribution.Kind.DONATION)
    with pytest.raises(LoyaltyError) as refused:
        giving.donation_reverse(contribution=gift, staff=world.carol, reason="asked")
    assert refused.value.code == "not_allowed"
    with pytest.raises(LoyaltyError) as refused:
        giving.donation_reverse(contribution=gift, staff=world.bob, reason="  ")
    assert refused.value.code == "note_required"
    giving.donation_reverse(contribution=gift, staff=world.bob, reason="Pressed by mistake")
    assert points_of(member) == 100
    fund.refresh_from_db()
    assert fund.matched == 0
    assert raised(fund) == 0
    void = LedgerEntry.objects.get(member=member, reason=Reason.VOID)
    assert (void.points, void.staff, void.note, void.voids.reason) == (40, world.bob, "Pressed by mistake", "donation")
    with pytest.raises(LoyaltyError) as refused:
        giving.donation_reverse(contribution=gift, staff=world.bob, reason="again")
    assert refused.value.code == "already_undone"
    assert points_of(member) == 100
    # The match's room came back: the next gift is matched again.
    donate(member, fund, 20)
    fund.refresh_from_db()
    assert fund.matched == Decimal(10)


# The partner's report


def test_the_report_counts_the_shops_days_and_a_reversal_on_its_own_day(world, program, rule, member):
    world.shop.timezone = "Asia/Taipei"
    world.shop.save()
    cause = CauseFactory(shop=world.shop, point_value=1, match_limit=1000)
    late = datetime(2026, 3, 1, 23, 30, tzinfo=TAIPEI)  # 15:30 UTC: still 1 March in Taipei
    early = datetime(2026, 3, 2, 0, 30, tzinfo=TAIPEI)  # 16:30 UTC on 1 March, but 2 March in Taipei
    stamp(member, program, world.carol, at=late)
    buy(member, world.carol, 100, at=early)
    donate(member, cause, 30, at=early + timedelta(minutes=5))
    gift = Contribution.objects.get(kind=Contribution.Kind.DONATION)
    giving.donation_reverse(
        contribution=gift, staff=world.bob, reason="mistake", now=datetime(2026, 3, 3, 9, tzinfo=TAIPEI)
    )
    days, total = giving.report(cause, date(2026, 3, 1), date(2026, 3, 3))
    assert [(line.day, line.visits, line.for_visits) for line in days] == [
        (date(2026, 3, 1), 1, Decimal(10)),
        (date(2026, 3, 2), 1, Decimal(10)),
        (date(2026, 3, 3), 0, 0),
    ]
    assert (days[1].points, days[1].donated, days[1].matched) == (30, Decimal(30), Decimal(30))
    assert (days[2].points, days[2].donated, days[2].matched, days[2].total) == (-30, -30, -30, -60)
    assert (total.visits, total.total) == (2, Decimal(20))
    _days, first_total = giving.report(cause, date(2026, 3, 1), date(2026, 3, 1))
    assert first_total.total == Decimal(10)


# Pages


def test_the_card_shows_the_progress_and_the_members_part_and_gives_points(world, rule, member, fund, client):
    fund.name, fund.unit, fund.unit_cost = "Meals for Wanhua", "meals", Decimal(5)
    fund.save()
    buy(member, world.carol, 100)
    card = reverse("rewards:card", args=[card_token(member)])
    page = client.get(card).content.decode()
    assert "Meals for Wanhua" in page and "0 of 500 meals" in page
    assert "Every 2 points you give send NT$1 to Green Taiwan." in page
    response = client.post(reverse("rewards:card_donate", args=[card_token(member), fund.public_id]),
                           {"points": "20", "key": key()}, follow=True)  # fmt: skip
    page = response.content.decode()
    assert "Thank you: 20 points given to Meals for Wanhua." in page
    # NT$10 given and NT$10 matched: four meals, all the member's part.
    assert "4 of 500 meals" in page and "Your part: 4 meals" in page
    assert points_of(member) == 80


@pytest.mark.parametrize("points", ["", "abc", "0", "-3", "1e9", "20\x00"])
def test_the_card_refuses_bad_points_and_changes_nothing(world, rule, member, fund, client, points):
    buy(member, world.carol, 100)
    url = reverse("rewards:card_donate", args=[card_token(member), fund.public_id])
    response = client.post(url, {"points": points, "key": key()}, follow=True)
    assert response.status_code in (200, 400)
    assert points_of(member) == 100
    assert not Contribution.objects.filter(kind=Contribution.Kind.DONATION).exists()


def test_a_card_cannot_give_to_another_shops_cause(world, rule, member, client):
    other = CauseFactory(shop=world.other_shop, point_value=1)
    buy(member, world.carol, 100)
    url = reverse("rewards:card_donate", args=[card_token(member), other.public_id])
    assert client.post(url, {"points": "10", "key": key()}).status_code == 404
    assert (
        client.post(reverse("rewards:card_donate", args=["not-a-token", other.public_id]), {"points": "1"}).status_code
        == 404
    )
    assert points_of(member) == 100


def test_the_public_page_shows_the_cause_to_anyone(world, program, member, trees, client, django_assert_num_queries):
    stamp(member, program, world.carol)
    cache.clear()
    url = reverse("rewards:cause_page", args=[world.shop.slug, trees.public_id])
    with django_assert_num_queries(3):  # the shop, the cause, its sum
        page = client.get(url).content.decode()
    assert "Trees for Taipei" in page and "1 of 500 trees" in page and "Green Taiwan" in page
    assert "For every visit, Alice&#x27;s Café gives NT$10." in page
    assert client.get(reverse("rewards:cause_page", args=[world.other_shop.slug, trees.public_id])).status_code == 404
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert 'lang="zh-hant"' in page.lower()


def test_an_owner_sets_up_a_cause_and_bad_input_changes_nothing(world, alice_client):
    url = reverse("rewards:cause_create", args=[world.shop.slug])
    data = {
        "name": "Trees for Taipei", "partner": "Green Taiwan", "unit": "trees", "unit_cost": "100", "goal": "500",
        "basis": "visit", "amount_per": "10", "point_value": "0.5", "match_limit": "1000", "status": "active",
    }  # fmt: skip
    for bad in ({"goal": "0"}, {"amount_per": "0"}, {"unit_cost": "0"}, {"amount_per": "10.5"}, {"name": ""},
                {"point_value": "-1"}, {"goal": "100000000000"}):  # fmt: skip
        response = alice_client.post(url, {**data, **bad})
        assert response.status_code == 400, bad
        assert not Cause.objects.exists()
    response = alice_client.post(url, data)
    assert response.status_code == 302
    cause = Cause.objects.get()
    assert (cause.amount_per, cause.point_value, cause.match_limit) == (Decimal(10), Decimal("0.5"), Decimal(1000))
    page = alice_client.get(reverse("rewards:cause_list", args=[world.shop.slug])).content.decode()
    assert "Trees for Taipei" in page and "0 of 500 trees" in page


def test_a_cause_picture_that_is_not_an_image_is_refused(world, alice_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("rewards:cause_create", args=[world.shop.slug])
    data = {
        "name": "Trees", "partner": "Green Taiwan", "unit": "trees", "unit_cost": "100", "goal": "500",
        "basis": "visit", "amount_per": "10", "point_value": "0", "match_limit": "0", "status": "active",
        "picture": SimpleUploadedFile("tree.png", b"<script>not a picture</script>", content_type="image/png"),
    }  # fmt: skip
    response = alice_client.post(url, data)
    assert response.status_code == 400
    assert "not an image" in response.content.decode()
    assert not Cause.objects.exists()


def test_the_member_page_lists_gifts_and_a_manager_reverses_one(world, rule, member, fund):
    buy(member, world.carol, 100)
    donate(member, fund, 40)
    gift = Contribution.objects.get(kind=Contribution.Kind.DONATION)
    page_url = reverse("rewards:member_detail", args=[world.shop.slug, member.public_id])
    page = world.client(world.bob).get(page_url).content.decode()
    assert "Gifts to causes" in page and "Reverse and give the points back" in page
    url = reverse("rewards:donation_reverse", args=[world.shop.slug, member.public_id, gift.public_id])
    response = world.client(world.bob).post(url, {"reason": ""}, follow=True)
    assert "Say why the gift is reversed." in response.content.decode()
    assert points_of(member) == 60
    response = world.client(world.bob).post(url, {"reason": "Pressed by mistake"}, follow=True)
    page = response.content.decode()
    assert "The gift was reversed and the points given back." in page and "Reversed" in page
    assert points_of(member) == 100
    card = world.client(None).get(reverse("rewards:card", args=[card_token(member)])).content.decode()
    assert "0 of 500 trees" in card


def test_the_report_page_and_its_csv(world, program, member, trees, alice_client, django_assert_num_queries):
    stamp(member, program, world.carol)
    today = datetime.now(tz=world.shop.tz).date()
    url = reverse("rewards:cause_report", args=[world.shop.slug, trees.public_id])
    page = alice_client.get(url).content.decode()
    assert today.isoformat() in page and "NT$10" in page
    response = alice_client.get(url, {"start": today.isoformat(), "end": today.isoformat(), "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("day,visits,for_visits")
    assert lines[1].startswith(f"{today.isoformat()},1,10")
    assert lines[-1].startswith("total,1,10")
    bad = alice_client.get(url, {"start": "2026-03-05", "end": "2026-03-01"})
    assert bad.status_code == 400
    assert alice_client.get(url, {"start": "2024-01-01", "end": "2026-03-01"}).status_code == 400
    assert world.client(world.bob).get(url).status_code == 403  # the owner's
    assert world.client(world.dave).get(url).status_code == 404


def test_the_join_poster_line_shows_the_progress_when_chosen(world, program, member, trees):
    from members import offers

    assert not any("Trees for Taipei" in line for line in offers.lines(world.shop, "en"))
    giving.cause_save(shop=world.shop, cause=trees, fields={"on_poster": True}, by=world.alice)
    stamp(member, program, world.carol)
    cache.clear()
    assert "Every visit helps Trees for Taipei: 1 of 500 trees" in offers.lines(world.shop, "en")


def test_the_card_of_a_shop_with_a_cause_costs_one_query_more(world, member, trees, client, django_assert_num_queries):
    other = MemberFactory(shop=world.other_shop)
    url_other = reverse("rewards:card", args=[card_token(other)])
    url = reverse("rewards:card", args=[card_token(member)])
    client.get(url_other), client.get(url)  # settings and progress held
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as without:
        client.get(url_other)
    with CaptureQueriesContext(connection) as with_cause:
        client.get(url)
    assert len(with_cause) == len(without) + 1
