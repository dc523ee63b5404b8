"""The owner's membership plans pages: plans made and changed through the form, paused, resumed and
retired without touching what was sold, and the figures on the list against a direct count."""

import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from members.currency import quantize
from members.errors import Code, LoyaltyError
from members.models import Shop
from rewards import services
from rewards.models import LedgerEntry, Membership, MembershipPlan
from rewards.plan_figures import plans_summary

from ..conftest import key
from ..factories import MemberFactory, TierFactory

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
Status = MembershipPlan.Status


def bundle_data(**overrides) -> dict:
    data = {
        "kind": "bundle", "name": "10 lattes for the price of 8", "price": "1040", "items": "10",
        "item_name": "latte", "valid_days": "180", "refund_rule": "pro_rata",
    }  # fmt: skip
    return {**data, **overrides}


def period_data(**overrides) -> dict:
    data = {
        "kind": "period", "name": "Coffee club", "price": "490", "period_months": "1", "refund_rule": "pro_rata",
        "discount_percent": "10", "benefits": "A free drip coffee every month",
    }  # fmt: skip
    return {**data, **overrides}


def make_plan(shop, **fields) -> MembershipPlan:
    values = {"name": "10 lattes", "kind": "bundle", "price": Decimal(1000), "items": 10, "item_name": "latte"}
    return MembershipPlan.objects.create(shop=shop, **{**values, **fields})


def sell(member, plan, staff, **kwargs) -> Membership:
    return services.plan_sell(
        member=member, plan=plan, staff=staff, payment_method="cash", idempotency_key=key(), **kwargs
    ).membership


def redeem(member, held, staff, **kwargs):
    return services.bundle_redeem(member=member, membership=held, staff=staff, idempotency_key=key(), **kwargs)


def plan_urls(shop, plan) -> list[tuple[str, str]]:
    return [
        ("get", reverse("rewards:plan_list", args=[shop.slug])),
        ("get", reverse("rewards:plan_create", args=[shop.slug])),
        ("post", reverse("rewards:plan_create", args=[shop.slug])),
        ("get", reverse("rewards:plan_edit", args=[shop.slug, plan.public_id])),
        ("post", reverse("rewards:plan_edit", args=[shop.slug, plan.public_id])),
        ("post", reverse("rewards:plan_status", args=[shop.slug, plan.public_id])),
    ]


def status_url(world, plan) -> str:
    return reverse("rewards:plan_status", args=[world.shop.slug, plan.public_id])


# Making and changing plans


def test_a_bundle_and_a_membership_made_through_the_pages_are_listed(world, alice_client):
    create = reverse("rewards:plan_create", args=[world.shop.slug])
    form = alice_client.get(create).content.decode()
    assert form.index('name="kind"') < form.index('name="price"') < form.index('name="items"')
    assert "Prepaid bundle only" in form and "Membership for a period only" in form
    assert alice_client.post(create, bundle_data()).status_code == 302
    assert alice_client.post(create, period_data()).status_code == 302

    bundle = MembershipPlan.objects.get(kind="bundle")
    club = MembershipPlan.objects.get(kind="period")
    assert (bundle.shop, bundle.items, bundle.item_name, bundle.valid_days) == (world.shop, 10, "latte", 180)
    assert (club.period_months, club.discount_percent, club.status) == (1, 10, Status.ACTIVE)
    page = alice_client.get(reverse("rewards:plan_list", args=[world.shop.slug])).content.decode()
    assert "Prepaid drinks (寄杯)" in page
    assert "10 lattes for the price of 8" in page and "Coffee club" in page
    assert "NT$1,040" in page and "NT$490" in page
    assert "10 × latte, valid 180 days" in page
    assert "1 month" in page and "10% off at the counter" in page


def test_a_change_reaches_the_next_sale_and_keeps_the_status(world, alice_client, member):
    plan = make_plan(world.shop)
    held = sell(member, plan, world.carol)
    services.plan_set_status(plan=plan, status=Status.PAUSED, by=world.alice)
    edit = reverse("rewards:plan_edit", args=[world.shop.slug, plan.public_id])
    assert 'value="1000"' in alice_client.get(edit).content.decode()  # no cents for NT$
    refused = alice_client.post(edit, bundle_data(name="", price="1200"))
    assert refused.status_code == 400 and "<h1>10 lattes</h1>" in refused.content.decode()
    response = alice_client.post(edit, bundle_data(name="10 lattes", price="1200", valid_days=""))
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.price, plan.valid_days, plan.status) == (Decimal(1200), None, Status.PAUSED)
    held.refresh_from_db()
    assert (held.price_paid, held.items_total) == (Decimal(1000), 10)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bundle_data(items=""), "Enter how many items the bundle holds."),
        (bundle_data(item_name=""), "Name the item, e.g. latte."),
        (bundle_data(price="1040.5"), "Enter a whole amount: NT$ has no cents."),
        (bundle_data(price="-1"), "greater than or equal to 0"),
        (period_data(discount_percent="-5"), "greater than or equal to"),
        (period_data(discount_percent="120"), "less than or equal to 100"),
        (period_data(period_months=""), "Choose how long the membership runs."),
        (period_data(items="10"), "Only a prepaid bundle has this; leave it empty."),
        (bundle_data(period_months="1"), "A prepaid bundle runs until its items are used; leave this empty."),
        (bundle_data(name=""), "This field is required."),
    ],
)
def test_bad_plans_are_refused_with_the_reason_and_change_nothing(world, alice_client, data, message):
    response = alice_client.post(reverse("rewards:plan_create", args=[world.shop.slug]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MembershipPlan.objects.exists()


def test_a_price_in_cents_is_fine_where_the_currency_has_them(world, alice_client):
    Shop.objects.filter(pk=world.shop.pk).update(currency="USD")
    response = alice_client.post(reverse("rewards:plan_create", args=[world.shop.slug]), period_data(price="19.50"))
    assert response.status_code == 302
    assert MembershipPlan.objects.get().price == Decimal("19.50")
    assert "US$19.50" in alice_client.get(reverse("rewards:plan_list", args=[world.shop.slug])).content.decode()


def test_the_tier_offered_is_one_of_this_shops(world, alice_client):
    ours = TierFactory(shop=world.shop, name="Gold", threshold=10)
    theirs = TierFactory(shop=world.other_shop, name="Theirs", threshold=10)
    create = reverse("rewards:plan_create", args=[world.shop.slug])
    form = alice_client.get(create).content.decode()
    assert "Gold" in form and "Theirs" not in form
    assert alice_client.post(create, period_data(tier=theirs.pk)).status_code == 400
    assert alice_client.post(create, period_data(tier=ours.pk)).status_code == 302
    assert MembershipPlan.objects.get().tier == ours


# Pausing, resuming, retiring


def test_a_paused_plan_is_not_sold_but_its_bundles_are_still_used(world, alice_client, member):
    plan = make_plan(world.shop)
    held = sell(member, plan, world.carol)
    response = alice_client.post(status_url(world, plan), {"status": "paused"}, follow=True)
    assert "10 lattes is paused" in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == Status.PAUSED
    with pytest.raises(LoyaltyError) as refused:
        sell(member, plan, world.carol)
    assert refused.value.code == Code.NOT_ON_SALE
    assert redeem(member, held, world.carol).membership.items_left == 9
    assert Membership.objects.get(pk=held.pk).status == Membership.Status.ACTIVE

    alice_client.post(status_url(world, plan), {"status": "active"})
    assert sell(member, plan, world.carol).plan == plan


def test_a_retired_plan_leaves_the_list_for_its_own_and_what_was_sold_runs_on(world, alice_client, member):
    plan = make_plan(world.shop)
    held = sell(member, plan, world.carol)
    assert alice_client.post(status_url(world, plan), {"status": "retired"}).status_code == 302
    assert MembershipPlan.objects.get(pk=plan.pk).status == Status.RETIRED
    page = alice_client.get(reverse("rewards:plan_list", args=[world.shop.slug])).content.decode()
    retired = page[page.index("Retired plans") :]
    assert "10 lattes" in retired and "Put back on sale" in retired
    with pytest.raises(LoyaltyError):
        sell(member, plan, world.carol)
    assert redeem(member, held, world.carol).membership.items_left == 9
    assert services.membership_refund(membership=held, staff=world.bob, idempotency_key=key()).membership.status == (
        Membership.Status.REFUNDED
    )


def test_a_status_that_is_none_of_the_three_changes_nothing(world, alice_client):
    plan = make_plan(world.shop)
    response = alice_client.post(status_url(world, plan), {"status": "deleted"}, follow=True)
    assert "Choose whether the plan is on sale, paused or retired." in response.content.decode()
    assert MembershipPlan.objects.get(pk=plan.pk).status == Status.ACTIVE


def test_a_plan_change_reaches_the_counter_at_once(world):
    """The counter holds the shop's settings until they change: a plan paused renews the key."""
    plan = make_plan(world.shop)
    before = Shop.objects.get(pk=world.shop.pk).config_key
    services.plan_set_status(plan=plan, status=Status.PAUSED, by=world.alice)
    after = Shop.objects.get(pk=world.shop.pk).config_key
    assert after != before
    services.plan_save(shop=world.shop, plan=plan, fields={"price": Decimal(900)}, by=world.alice)
    assert Shop.objects.get(pk=world.shop.pk).config_key != after


# Who may


def test_the_services_ask_for_a_manager_or_owner_and_this_shop(world):
    plan = make_plan(world.shop)
    for call in (
        lambda: services.plan_save(shop=world.shop, fields={"name": "x"}, by=world.carol),
        lambda: services.plan_set_status(plan=plan, status=Status.PAUSED, by=world.carol),
        lambda: services.plan_set_status(plan=plan, status=Status.PAUSED, by=world.dave),
    ):
        with pytest.raises(LoyaltyError) as refused:
            call()
        assert refused.value.code == Code.NOT_ALLOWED
    with pytest.raises(LoyaltyError) as refused:
        services.plan_save(shop=world.other_shop, plan=plan, fields={"name": "x"}, by=world.dave)
    assert refused.value.code == Code.WRONG_SHOP
    with pytest.raises(ValueError, match="status"):
        services.plan_save(shop=world.shop, plan=plan, fields={"status": Status.RETIRED}, by=world.alice)
    plan.refresh_from_db()
    assert (plan.name, plan.status) == ("10 lattes", Status.ACTIVE)


def test_staff_get_403_and_the_menu_has_no_link_for_them(world):
    plan = make_plan(world.shop)
    carol = world.client(world.carol)
    for method, url in plan_urls(world.shop, plan):
        assert getattr(carol, method)(url, {"status": "paused", **bundle_data()}).status_code == 403, url
    assert MembershipPlan.objects.get(pk=plan.pk).status == Status.ACTIVE
    home = reverse("members:shop_home", args=[world.shop.slug])
    list_url = reverse("rewards:plan_list", args=[world.shop.slug])
    assert list_url not in carol.get(home).content.decode()
    assert list_url in world.client(world.bob).get(home).content.decode()


def test_another_shops_owner_gets_404_on_every_plan_url(world):
    plan = make_plan(world.shop)
    dave = world.client(world.dave)
    for shop in (world.shop, world.other_shop):  # Alice's shop, and Alice's plan through Dave's own shop
        for method, url in plan_urls(shop, plan)[3:] if shop == world.other_shop else plan_urls(shop, plan):
            response = getattr(dave, method)(url, {"status": "paused", **bundle_data(name="Taken")})
            assert response.status_code == 404, url
    plan.refresh_from_db()
    assert (plan.name, plan.status) == ("10 lattes", Status.ACTIVE)
    assert not MembershipPlan.objects.filter(shop=world.other_shop).exists()


# The figures


@pytest.fixture
def sales(world):
    """A month of a café's plans, seen on 20 May 2026 at noon in Taipei: bundles used, expired,
    refunded and undone, a club membership, and sales each side of the month's first moment."""
    now = datetime(2026, 5, 20, 12, tzinfo=TAIPEI)
    shop = world.shop
    lattes = make_plan(shop, name="7 lattes", price=Decimal(1000), items=7, valid_days=180)
    cakes = make_plan(shop, name="5 cakes", price=Decimal(500), items=5, item_name="cake", valid_days=30)
    club = MembershipPlan.objects.create(shop=shop, name="Club", kind="period", price=Decimal(300), period_months=1)
    people = [MemberFactory(shop=shop) for _ in range(6)]

    def at(*args) -> datetime:
        return datetime(*args, tzinfo=TAIPEI)

    with time_machine.travel(now, tick=False):
        # In April by Taipei's clock (15:30 UTC): last month, but within the last 30 days.
        first = sell(people[0], lattes, world.carol, at=at(2026, 4, 30, 23, 30))
        for day in (2, 3, 4, 5):
            redeem(people[0], first, world.carol, at=at(2026, 5, day, 9))  # 3 left of 7: NT$428.57 owed
        # In May by Taipei's clock, still April in UTC (16:30 UTC on the 30th).
        sell(people[1], lattes, world.carol, at=at(2026, 5, 1, 0, 30))  # 7 left: NT$1,000 owed
        sell(people[2], cakes, world.carol, at=at(2026, 3, 1, 10))  # expired after 30 days: nothing owed
        refunded = sell(people[3], cakes, world.carol, at=at(2026, 5, 10, 10))
        services.membership_refund(membership=refunded, staff=world.bob, idempotency_key=key(), at=at(2026, 5, 11))
        undone = services.plan_sell(
            member=people[4], plan=cakes, staff=world.carol, payment_method="card", idempotency_key=key()
        )
        services.action_undo(shop=shop, group=undone.group, staff=world.carol, idempotency_key=key())
        sell(people[4], club, world.carol, at=at(2026, 5, 19, 18))
        sell(people[5], club, world.carol, at=at(2026, 3, 20, 18))  # a month from 20 March: over
    return now


def expected_figures(shop, now) -> dict:
    """The same figures counted in Python from the rows, one by one."""
    held = [
        m
        for m in Membership.objects.filter(shop=shop, status=Membership.Status.ACTIVE)
        if not m.is_over(now) and (m.kind == "period" or m.items_left > 0)
    ]
    bundles = [m for m in held if m.kind == "bundle"]
    start = datetime(now.astimezone(TAIPEI).year, now.astimezone(TAIPEI).month, 1, tzinfo=TAIPEI)
    sold = [
        e
        for e in LedgerEntry.objects.filter(shop=shop, reason=LedgerEntry.Reason.PLAN_SOLD)
        if start <= e.created_at <= now and not LedgerEntry.objects.filter(voids=e).exists()
    ]
    return {
        "memberships": len(held) - len(bundles),
        "bundles": len(bundles),
        "items_left": sum(m.items_left for m in bundles),
        "items_value": sum((Decimal(m.items_left) * m.price_paid / m.items_total for m in bundles), Decimal(0)),
        "sold_this_month": len(sold),
        "sold_this_month_amount": sum((e.money_amount for e in sold), Decimal(0)),
    }


def test_the_summary_against_a_direct_count(world, sales):
    now = sales
    summary = plans_summary(world.shop, now)
    expected = expected_figures(world.shop, now)
    assert expected["items_value"] == Decimal(1000) * 3 / 7 + Decimal(1000)
    found = {name: getattr(summary, name) for name in expected}
    # Money to the currency's unit: NT$1,428.57 owed is NT$1,429 (whole-number division would say 1,428).
    for name in ("items_value", "sold_this_month_amount"):
        found[name], expected[name] = quantize(found[name], "TWD"), quantize(expected[name], "TWD")
    assert found == expected
    assert found == {
        "memberships": 1, "bundles": 2, "items_left": 10, "items_value": Decimal(1429),
        "sold_this_month": 3, "sold_this_month_amount": Decimal(1800),
    }  # fmt: skip
    assert summary.since == datetime(2026, 5, 1, tzinfo=TAIPEI)
    lattes = MembershipPlan.objects.get(name="7 lattes")
    cakes = MembershipPlan.objects.get(name="5 cakes")
    assert (summary.of(lattes).held, summary.of(lattes).items_left) == (2, 10)
    # The last 30 days: both lattes bundles (30 April is in), one cake bundle refunded (still a sale),
    # the undone one left out.
    assert (summary.of(lattes).sold_recently, summary.of(lattes).sold_recently_amount) == (2, Decimal(2000))
    assert (summary.of(cakes).sold_recently, summary.of(cakes).held) == (1, 0)


def test_the_owner_sees_the_figures_and_the_money(world, sales, alice_client):
    with time_machine.travel(sales, tick=False):
        page = alice_client.get(reverse("rewards:plan_list", args=[world.shop.slug])).content.decode()
    summary = page[: page.index("<h2>Plans</h2>")]
    assert "Prepaid items still to serve" in summary and "worth NT$1,429" in summary
    assert "Sales this month" in summary and "NT$1,800" in summary
    row = page[page.index('id="plan-' + str(MembershipPlan.objects.get(name="7 lattes").public_id)) :]
    row = row[: row.index("</tr>")]
    assert "7 × latte, valid 180 days" in row and "NT$2,000" in row


def test_a_manager_sees_the_counts_without_the_money(world, sales):
    with time_machine.travel(sales, tick=False):
        page = world.client(world.bob).get(reverse("rewards:plan_list", args=[world.shop.slug])).content.decode()
    assert "Prepaid items still to serve" in page and "Sales this month" in page
    assert "worth NT$" not in page and "NT$1,800" not in page and "NT$2,000" not in page
    assert "NT$1,000" in page  # a plan's price is not a figure of the business


# Queries


def test_the_list_is_a_fixed_number_of_queries(world, alice_client, django_assert_num_queries):
    url = reverse("rewards:plan_list", args=[world.shop.slug])
    tier = TierFactory(shop=world.shop, name="Gold", threshold=10)

    def grow(n: int) -> None:
        for i in range(n):
            plan = make_plan(world.shop, name=f"Plan {i}-{n}")
            club = MembershipPlan.objects.create(
                shop=world.shop, name=f"Club {i}-{n}", kind="period", price=Decimal(300), period_months=1, tier=tier,
                allowance_title="Free coffee",
            )  # fmt: skip
            for _ in range(2):
                member = MemberFactory(shop=world.shop)
                redeem(member, sell(member, plan, world.carol), world.carol)
                held = sell(member, club, world.carol)
                sell(member, club, world.carol, renews=held)  # renewed early
            # A new price scheduled for each club (its invitations wait for the worker here).
            day = timezone.localdate(timezone=world.shop.tz) + timedelta(days=9)
            services.price_change_schedule(plan=club, new_price=Decimal(350), from_day=day, staff=world.alice)

    grow(1)
    alice_client.get(url)
    # user and role; the shop switcher; plans with their tiers and scheduled prices; memberships held;
    # sales; memberships around the month's start (churn); monthly vouchers
    with django_assert_num_queries(7):
        page = alice_client.get(url).content.decode()
    assert page.count("Cancel the new price") == 1
    grow(4)
    services.plan_set_status(plan=MembershipPlan.objects.first(), status=Status.RETIRED, by=world.alice)
    with django_assert_num_queries(7):
        page = alice_client.get(url).content.decode()
    assert page.count("Cancel the new price") == 5 and page.count("Schedule a new price") == 4


def test_the_form_is_a_fixed_number_of_queries(world, alice_client, django_assert_num_queries):
    TierFactory(shop=world.shop, name="Gold", threshold=10)
    plan = make_plan(world.shop)
    edit = reverse("rewards:plan_edit", args=[world.shop.slug, plan.public_id])
    alice_client.get(edit)
    # user and role; the plan; whether it was sold (its kind stays); the shop switcher; the tiers to
    # choose from, for the tier it gives and the VIP tier
    with django_assert_num_queries(6):
        assert alice_client.get(edit).status_code == 200
    with django_assert_num_queries(4):
        assert alice_client.get(reverse("rewards:plan_create", args=[world.shop.slug])).status_code == 200
