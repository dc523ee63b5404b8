"""Memberships and prepaid bundles: sold at the counter, each drink used in one tap, undone within
the window, refunded once; the items left always equal the ledger's."""

import io
import uuid
import zoneinfo
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from members.models import Member
from members.services import member_erase
from rewards import ledger, services
from rewards.ledger import LoyaltyError
from rewards.models import LedgerEntry, Membership, MembershipPlan
from rewards.services.merge import member_merge, merge_undo
from rewards.services.plans import period_end

from ..conftest import key
from ..factories import MemberFactory, ShopFactory, StaffFactory, TierFactory
from .test_concurrency import race

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
UTC = zoneinfo.ZoneInfo("UTC")
Kind = MembershipPlan.Kind
Reason = LedgerEntry.Reason


def bundle_plan(shop, **fields) -> MembershipPlan:
    """Ten lattes for the price of eight, valid for 90 days."""
    values = {
        "name": "10 lattes for the price of 8", "kind": Kind.BUNDLE, "price": Decimal(800), "items": 10,
        "item_name": "latte", "valid_days": 90, **fields,
    }  # fmt: skip
    return MembershipPlan.objects.create(shop=shop, **values)


def club_plan(shop, **fields) -> MembershipPlan:
    """The monthly coffee club."""
    values = {"name": "Coffee club", "kind": Kind.PERIOD, "price": Decimal(300), "period_months": 1, **fields}
    return MembershipPlan.objects.create(shop=shop, **values)


@pytest.fixture
def bundle(world):
    return bundle_plan(world.shop)


@pytest.fixture
def club(world):
    return club_plan(world.shop)


def sell(member, plan, staff, **kwargs) -> ledger.ActionResult:
    kwargs.setdefault("idempotency_key", key())
    kwargs.setdefault("payment_method", Membership.PaymentMethod.CASH)
    return services.plan_sell(member=member, plan=plan, staff=staff, **kwargs)


def redeem(member, membership, staff, **kwargs) -> ledger.ActionResult:
    kwargs.setdefault("idempotency_key", key())
    return services.bundle_redeem(member=member, membership=membership, staff=staff, **kwargs)


def refund(membership, staff, **kwargs) -> ledger.ActionResult:
    kwargs.setdefault("idempotency_key", key())
    return services.membership_refund(membership=membership, staff=staff, **kwargs)


def undo(world, result, staff=None) -> ledger.ActionResult:
    return services.action_undo(shop=world.shop, group=result.group, staff=staff or world.carol, idempotency_key=key())


def fresh(membership) -> Membership:
    return Membership.objects.get(pk=membership.pk)


def refused(code, action, *args, **kwargs) -> LoyaltyError:
    with pytest.raises(LoyaltyError) as error:
        action(*args, **kwargs)
    assert error.value.code == code, error.value.message
    return error.value


def ledger_items(membership) -> int:
    return sum(LedgerEntry.objects.filter(membership=membership).values_list("items", flat=True))


# Selling


def test_selling_a_bundle_puts_its_items_on_a_membership(world, member, bundle):
    now = timezone.now()
    result = sell(member, bundle, world.carol, payment_method=Membership.PaymentMethod.CARD, receipt=" A-1042 ", at=now)
    held = result.membership
    assert (held.items_total, held.items_left, held.status) == (10, 10, Membership.Status.ACTIVE)
    assert fresh(held).items_left == 10
    assert (held.kind, held.price_paid, held.payment_method, held.receipt) == (Kind.BUNDLE, 800, "card", "A-1042")
    assert held.ends_at == now + timedelta(days=90) and held.sold_by == world.carol
    [row] = result.entries
    assert (row.reason, row.items, row.money_amount, row.membership, row.note) == (
        Reason.PLAN_SOLD, 10, 800, held, "A-1042",
    )  # fmt: skip
    assert result.items == 10
    # The member was at the counter; a sale is not a visit (the drink bought with it is).
    assert Member.objects.get(pk=member.pk).last_visit_at == now
    assert not row.opens_visit


def test_a_bundle_without_a_validity_never_expires(world, member):
    held = sell(member, bundle_plan(world.shop, valid_days=None), world.carol).membership
    assert held.ends_at is None
    assert redeem(member, held, world.carol, at=timezone.now() + timedelta(days=3650)).membership.items_left == 9


def test_selling_a_period_plan(world, member, club):
    sold = datetime(2026, 3, 10, 9, 30, tzinfo=TAIPEI)
    result = sell(member, club, world.carol, at=sold)
    held = result.membership
    assert (held.kind, held.items_total, held.items_left, held.price_paid) == (Kind.PERIOD, 0, 0, 300)
    assert held.starts_at == sold
    assert held.ends_at == datetime(2026, 4, 10, 9, 30, tzinfo=TAIPEI)
    assert result.entries[0].items == 0 and result.entries[0].money_amount == 300


@pytest.mark.parametrize(
    ("tz", "sold", "months", "ends"),
    [
        # 31 January + a month is the end of February, 28 or 29 days long.
        (TAIPEI, datetime(2026, 1, 31, 10), 1, datetime(2026, 2, 28, 10)),
        (TAIPEI, datetime(2028, 1, 31, 10), 1, datetime(2028, 2, 29, 10)),
        (UTC, datetime(2026, 1, 31, 10), 1, datetime(2026, 2, 28, 10)),
        (TAIPEI, datetime(2025, 11, 30, 18), 3, datetime(2026, 2, 28, 18)),
        (TAIPEI, datetime(2028, 2, 29, 8), 12, datetime(2029, 2, 28, 8)),
    ],
)
def test_a_period_runs_calendar_months_of_the_shops_time_zone(tz, sold, months, ends):
    assert period_end(sold.replace(tzinfo=tz), months, tz) == ends.replace(tzinfo=tz)


@pytest.mark.parametrize(
    ("time_zone", "ends"),
    [
        # 31 January 20:00 in London is already 1 February 04:00 in Taipei: the month ends 1 March there.
        ("Asia/Taipei", datetime(2026, 3, 1, 4, tzinfo=TAIPEI)),
        ("UTC", datetime(2026, 2, 28, 20, tzinfo=UTC)),
    ],
)
def test_the_same_moment_sold_in_taipei_and_in_utc(world, club, time_zone, ends):
    world.shop.time_zone = time_zone
    world.shop.save(update_fields=["time_zone"])
    member = MemberFactory(shop=world.shop)
    held = sell(member, club, world.carol, at=datetime(2026, 1, 31, 20, tzinfo=UTC)).membership
    assert held.ends_at == ends


def test_the_same_key_twice_sells_once(world, member, bundle):
    k = key()
    first = sell(member, bundle, world.carol, idempotency_key=k)
    again = sell(member, bundle, world.carol, idempotency_key=k)
    assert again.replayed and again.group == first.group
    assert again.membership.pk == first.membership.pk
    assert Membership.objects.filter(member=member).count() == 1


def test_paused_and_retired_plans_are_not_sold_but_memberships_keep_working(world, member, bundle):
    held = sell(member, bundle, world.carol).membership
    for status in (MembershipPlan.Status.PAUSED, MembershipPlan.Status.RETIRED):
        MembershipPlan.objects.filter(pk=bundle.pk).update(status=status)
        # The plan object the counter holds still says "active": the service reads it again.
        error = refused("not_on_sale", sell, member, bundle, world.carol)
        assert error.message == "10 lattes for the price of 8 is not on sale at the moment."
        assert redeem(member, held, world.carol).membership.items_left in (9, 8)
    assert Membership.objects.filter(member=member).count() == 1
    assert refund(held, world.bob).membership.status == Membership.Status.REFUNDED


def test_another_shops_plan_and_another_members_bundle_are_refused(world, member, bundle):
    theirs = bundle_plan(world.other_shop)
    error = refused("wrong_shop", sell, member, theirs, world.carol)
    assert error.message == "This plan belongs to another shop."
    held = sell(member, bundle, world.carol).membership
    someone = MemberFactory(shop=world.shop)
    refused("wrong_member", redeem, someone, held, world.carol)
    stranger = MemberFactory(shop=world.other_shop)
    refused("wrong_member", redeem, stranger, held, world.dave)
    refused("not_allowed", refund, held, world.dave)
    assert fresh(held).items_left == 10
    assert not Membership.objects.filter(shop=world.other_shop).exists()


def test_how_the_member_paid_is_one_of_the_list(world, member, bundle):
    refused("bad_payment", sell, member, bundle, world.carol, payment_method="bitcoin")
    assert not Membership.objects.exists()


# Using a bundle's items


def test_redeeming_until_none_left_then_refused(world, member):
    plan = bundle_plan(world.shop, items=3, name="Three teas")
    held = sell(member, plan, world.carol).membership
    start = timezone.now() - timedelta(days=3)
    left = [redeem(member, held, world.carol, at=start + timedelta(days=n)).membership.items_left for n in range(3)]
    assert left == [2, 1, 0]
    error = refused("none_left", redeem, member, held, world.carol)
    assert error.message == "None left: all 3 items of this bundle are used."
    held = fresh(held)
    # Used up, still held: the status says whether the member holds it, items_left what is in it.
    assert (held.items_left, held.status) == (0, Membership.Status.ACTIVE)
    assert ledger_items(held) == 0
    assert LedgerEntry.objects.filter(membership=held, reason=Reason.PLAN_ITEM).count() == 3


def test_the_only_item_of_a_bundle(world, member):
    held = sell(member, bundle_plan(world.shop, items=1), world.carol).membership
    redeem(member, held, world.carol)
    assert refused("none_left", redeem, member, held, world.carol).message == (
        "None left: the 1 item of this bundle is used."
    )


def test_an_expired_bundle_is_refused(world, member, bundle):
    sold = datetime(2026, 1, 5, 12, tzinfo=TAIPEI)
    held = sell(member, bundle, world.carol, at=sold).membership
    assert redeem(member, held, world.carol, at=sold + timedelta(days=89)).membership.items_left == 9
    error = refused("expired", redeem, member, held, world.carol, at=sold + timedelta(days=90))
    assert error.message == "This bundle expired on 2026-04-05."
    assert fresh(held).items_left == 9


def test_a_drink_is_a_visit(world, member, bundle):
    held = sell(member, bundle, world.carol).membership
    now = timezone.now()
    first = redeem(member, held, world.carol, at=now)
    # A second drink within the hour is the same visit.
    second = redeem(member, held, world.carol, at=now + timedelta(minutes=5))
    later = redeem(member, held, world.carol, at=now + timedelta(days=1))
    assert [r.entries[0].opens_visit for r in (first, second, later)] == [True, False, True]
    assert LedgerEntry.objects.filter(member=member).visits().count() == 2
    assert Member.objects.get(pk=member.pk).last_visit_at == now + timedelta(days=1)
    assert first.entries[0].items == -1 and first.items == -1


def test_a_period_membership_has_no_items_to_use(world, member, club):
    held = sell(member, club, world.carol).membership
    refused("wrong_kind", redeem, member, held, world.carol)


def test_the_same_key_twice_uses_one_item(world, member, bundle):
    held = sell(member, bundle, world.carol).membership
    k = key()
    first = redeem(member, held, world.carol, idempotency_key=k)
    again = redeem(member, held, world.carol, idempotency_key=k)
    assert again.replayed and again.group == first.group and again.membership.pk == held.pk
    assert fresh(held).items_left == 9


# Undo


def test_undo_of_a_used_item_within_the_window_gives_it_back(world, member, bundle):
    held = sell(member, bundle, world.carol).membership
    used = redeem(member, held, world.carol)
    assert fresh(held).items_left == 9
    voided = undo(world, used)
    assert voided.is_undo and voided.entries[0].items == 1 and voided.entries[0].membership == held
    assert fresh(held).items_left == 10
    # An undone drink is no visit.
    assert not LedgerEntry.objects.filter(member=member).visits().exists()
    refused("already_undone", undo, world, used)


def test_undo_of_a_used_item_after_the_window_is_refused(world, member, bundle):
    held = sell(member, bundle, world.carol).membership
    used = redeem(member, held, world.carol, at=timezone.now() - timedelta(minutes=30))
    refused("too_late", undo, world, used)
    assert fresh(held).items_left == 9


def test_undo_of_a_sale_is_refused_once_an_item_was_used(world, member, bundle):
    sold = sell(member, bundle, world.carol)
    used = redeem(member, sold.membership, world.carol)
    error = refused("already_spent", undo, world, sold)
    assert "already used" in error.message
    assert fresh(sold.membership).items_left == 9
    # Once the drink is given back, the sale itself can go.
    undo(world, used)
    voided = undo(world, sold)
    assert voided.entries[0].items == -10
    held = fresh(sold.membership)
    assert (held.items_left, held.status) == (0, Membership.Status.ENDED)
    assert refused("membership_ended", redeem, member, held, world.carol).message == "This bundle has ended."
    refused("membership_ended", refund, held, world.bob)


def test_undo_of_a_period_sale_ends_it(world, member, club):
    sold = sell(member, club, world.carol)
    undo(world, sold)
    assert fresh(sold.membership).status == Membership.Status.ENDED


# Refunds


def test_a_pro_rata_refund_gives_back_the_unused_part_exactly_once(world, member, bundle):
    held = sell(member, bundle, world.carol).membership
    start = timezone.now() - timedelta(days=3)
    used = [redeem(member, held, world.carol, at=start + timedelta(days=n)) for n in range(3)]
    k = key()
    result = refund(held, world.bob, idempotency_key=k)
    [row] = result.entries
    assert (row.reason, row.items, row.money_amount) == (Reason.PLAN_REFUND, -7, Decimal(-560))
    held = fresh(held)
    assert (held.status, held.items_left, held.refunded_amount) == (Membership.Status.REFUNDED, 0, 560)
    assert held.refunded_at == row.created_at
    # The same form sent again is the first refund; another refund is refused.
    again = refund(held, world.bob, idempotency_key=k)
    assert again.replayed and again.group == result.group and again.membership.pk == held.pk
    error = refused("already_refunded", refund, held, world.bob)
    assert error.message.startswith("This membership was already refunded on ")
    assert LedgerEntry.objects.filter(membership=held, reason=Reason.PLAN_REFUND).count() == 1
    # Nothing more to use, and what came before the refund stays as it is.
    refused("membership_ended", redeem, member, held, world.carol)
    refused("refund", undo, world, result)
    refused("membership_ended", undo, world, used[-1])
    assert fresh(held).items_left == 0 == ledger_items(held)


@pytest.mark.parametrize(("currency", "expected"), [("TWD", Decimal(67)), ("USD", Decimal("66.67"))])
def test_a_refund_rounds_as_the_currency_rounds(world, member, currency, expected):
    world.shop.currency = currency
    world.shop.save(update_fields=["currency"])
    plan = bundle_plan(world.shop, items=3, price=Decimal(100))
    held = sell(member, plan, world.carol).membership
    redeem(member, held, world.carol)
    assert refund(held, world.bob).membership.refunded_amount == expected


def test_a_refund_of_a_period_gives_back_the_days_not_yet_begun(world, member, club):
    sold = datetime(2026, 1, 1, 10, tzinfo=TAIPEI)
    held = sell(member, club, world.carol, at=sold).membership
    # Refunded on 11 January: 21 of January's 31 days unused (today included), NT$300 x 21 / 31.
    result = refund(held, world.bob, at=datetime(2026, 1, 11, 18, tzinfo=TAIPEI))
    assert result.membership.refunded_amount == Decimal(203)
    assert result.entries[0].money_amount == Decimal(-203) and result.entries[0].items == 0


def test_a_refund_on_the_day_of_the_sale_gives_back_everything(world, member, club):
    sold = datetime(2026, 1, 1, 10, tzinfo=TAIPEI)
    held = sell(member, club, world.carol, at=sold).membership
    assert refund(held, world.bob, at=sold + timedelta(hours=2)).membership.refunded_amount == 300


def test_nothing_is_refunded_once_it_is_over(world, member, club, bundle):
    sold = datetime(2026, 1, 1, 10, tzinfo=TAIPEI)
    period = sell(member, club, world.carol, at=sold).membership
    assert refund(period, world.bob, at=sold + timedelta(days=40)).membership.refunded_amount == 0
    expired = sell(member, bundle, world.carol, at=sold).membership
    result = refund(expired, world.bob, at=sold + timedelta(days=91))
    # Expired items are worth nothing, but they leave the membership with it.
    assert result.membership.refunded_amount == 0 and result.entries[0].items == -10


def test_a_plan_without_refunds_refunds_nothing_but_ends(world, member):
    plan = bundle_plan(world.shop, refund_rule=MembershipPlan.RefundRule.NONE)
    held = sell(member, plan, world.carol).membership
    redeem(member, held, world.carol)
    result = refund(held, world.bob)
    assert (result.entries[0].items, result.entries[0].money_amount) == (-9, 0)
    held = fresh(held)
    assert (held.status, held.items_left, held.refunded_amount) == (Membership.Status.REFUNDED, 0, 0)


def test_only_managers_and_owners_refund(world, member, bundle):
    held = sell(member, bundle, world.carol).membership
    error = refused("not_allowed", refund, held, world.carol)
    assert error.message == "Only a manager or owner can refund a membership."
    assert refund(held, world.alice).membership.refunded_amount == 800


# The ledger


def test_drift_finds_a_membership_whose_items_differ_from_its_ledger(world, member, bundle):
    held = sell(member, bundle, world.carol).membership
    Membership.objects.filter(pk=held.pk).update(items_left=4)
    [(balance, cached, counted)] = ledger.drift()
    assert (balance, cached, counted) == (held, 4, 10)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_verify", stderr=err)
    assert f"prepaid items of membership {held.public_id}: cached 4, ledger 10" in err.getvalue()
    Membership.objects.filter(pk=held.pk).update(items_left=10)


# Plans as the owner sets them up


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"kind": Kind.PERIOD, "period_months": 1}, set()),
        ({"kind": Kind.PERIOD}, {"period_months"}),
        ({"kind": Kind.PERIOD, "period_months": 1, "items": 10, "valid_days": 30}, {"items", "valid_days"}),
        ({"kind": Kind.BUNDLE, "items": 10, "item_name": "latte"}, set()),
        ({"kind": Kind.BUNDLE}, {"items", "item_name"}),
        ({"kind": Kind.BUNDLE, "items": 10, "item_name": "latte", "period_months": 3}, {"period_months"}),
        ({"kind": Kind.BUNDLE, "items": 0, "item_name": "latte"}, {"items"}),
        ({"kind": Kind.PERIOD, "period_months": 2}, {"period_months"}),
        ({"kind": Kind.PERIOD, "period_months": 1, "price": Decimal("99.50")}, {"price"}),
        ({"kind": Kind.PERIOD, "period_months": 1, "price": Decimal(-1)}, {"price"}),
        ({"kind": Kind.PERIOD, "period_months": 1, "discount_percent": 101}, {"discount_percent"}),
        ({"kind": Kind.PERIOD, "period_months": 1, "points_multiplier": Decimal("0.5")}, {"points_multiplier"}),
    ],
)
def test_a_plans_fields_depend_on_its_kind(world, fields, errors):
    plan = MembershipPlan(shop=world.shop, name="Plan", **{"price": Decimal(300), **fields})
    if not errors:
        plan.full_clean()
        return
    with pytest.raises(ValidationError) as error:
        plan.full_clean()
    assert set(error.value.message_dict) == errors


def test_a_plans_tier_is_of_its_shop(world):
    plan = MembershipPlan(
        shop=world.shop, name="Gold club", kind=Kind.PERIOD, period_months=12, price=3000,
        tier=TierFactory(shop=world.other_shop),
    )  # fmt: skip
    with pytest.raises(ValidationError) as error:
        plan.full_clean()
    assert set(error.value.message_dict) == {"tier"}


# Any sequence of actions


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["sell", "redeem", "undo", "refund"]), st.integers(min_value=0, max_value=20)),
        min_size=1,
        max_size=25,
    )
)
def test_any_sequence_keeps_the_items_left_equal_to_the_ledger(world, steps):
    member = MemberFactory(shop=world.shop)
    plan = MembershipPlan.objects.filter(shop=world.shop, items=3).first() or bundle_plan(world.shop, items=3)
    groups = []
    for action, n in steps:
        held = list(Membership.objects.filter(member=member).order_by("pk"))
        try:
            if action == "sell":
                groups.append(sell(member, plan, world.carol).group)
            elif action == "redeem" and held:
                groups.append(redeem(member, held[n % len(held)], world.carol).group)
            elif action == "undo" and groups:
                services.action_undo(
                    shop=world.shop, group=groups[n % len(groups)], staff=world.carol, idempotency_key=key()
                )
            elif action == "refund" and held:
                refund(held[n % len(held)], world.bob)
        except LoyaltyError:
            pass
    for held in Membership.objects.filter(member=member):
        assert 0 <= held.items_left <= held.items_total
        assert held.items_left == ledger_items(held)
        if held.status != Membership.Status.ACTIVE:
            assert held.items_left == 0
        assert held.refunded_amount <= held.price_paid
    assert ledger.drift() == []


# Races on PostgreSQL (SQLite serialises every writer, so it cannot prove locking)


@pytest.fixture
def counter():
    shop = ShopFactory()
    staff = StaffFactory(shop=shop).user
    return shop, staff, MemberFactory(shop=shop), bundle_plan(shop, items=2)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only")
def test_the_last_item_used_twice_at_once_only_once(counter):
    _shop, staff, member, plan = counter
    for _round in range(5):
        held = sell(member, plan, staff).membership
        redeem(member, held, staff)
        results = race(10, lambda i, held=held: redeem(member, held, staff, idempotency_key=uuid.uuid4().hex))
        wins = [r for r in results if isinstance(r, ledger.ActionResult)]
        assert len(wins) == 1, results
        assert {r.code for r in results if isinstance(r, LoyaltyError)} == {"none_left"}
        assert fresh(held).items_left == 0
        assert LedgerEntry.objects.filter(membership=held, reason=Reason.PLAN_ITEM).count() == 2
        assert ledger.drift() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only")
def test_a_sale_sent_twice_at_once_sells_one_membership(counter):
    _shop, staff, member, plan = counter
    k = uuid.uuid4().hex
    results = race(10, lambda i: sell(member, plan, staff, idempotency_key=k))
    assert all(isinstance(r, ledger.ActionResult) for r in results), results
    assert len({r.group for r in results}) == 1
    assert len({r.membership.pk for r in results}) == 1
    assert Membership.objects.filter(member=member).count() == 1
    assert LedgerEntry.objects.filter(idempotency_key=k).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only")
def test_using_an_item_locks_the_member_row(counter):
    _shop, staff, member, plan = counter
    held = sell(member, plan, staff).membership
    with CaptureQueriesContext(connection) as queries:
        redeem(member, held, staff)
    assert any("FOR UPDATE" in q["sql"] and '"members_member"' in q["sql"] for q in queries.captured_queries)


def test_an_erased_members_unused_items_are_closed_and_the_bundle_ends(world, bundle):
    mia = MemberFactory(shop=world.shop, name="Mia")
    held = sell(mia, bundle, world.carol).membership
    redeem(mia, held, world.carol)
    member_erase(member=mia, by=world.alice, note="asked")
    held.refresh_from_db()
    assert (held.items_left, held.status) == (0, Membership.Status.ENDED)
    closing = LedgerEntry.objects.get(membership=held, reason=LedgerEntry.Reason.CLOSED)
    assert closing.items == -(bundle.items - 1)
    assert ledger.drift() == []


def test_a_merge_moves_the_bundle_with_its_items_and_an_undo_moves_it_back(world, bundle):
    keep = MemberFactory(shop=world.shop, name="Mia Chen", phone="")
    merge = MemberFactory(shop=world.shop, name="Mia Chen", email="")
    held = sell(merge, bundle, world.carol).membership
    record = member_merge(shop=world.shop, keep=keep, merge=merge, by=world.bob)
    held.refresh_from_db()
    assert held.member_id == keep.pk and held.items_left == bundle.items
    # The kept member drinks from it at the counter.
    redeem(keep, held, world.carol)
    held.refresh_from_db()
    assert held.items_left == bundle.items - 1
    merge_undo(merge_record=record, by=world.bob)
    held.refresh_from_db()
    assert held.member_id == merge.pk and held.items_left == bundle.items - 1
    assert ledger.drift() == []
