from decimal import Decimal

import pytest
from django.db.models import F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from members.models import Member
from rewards import ledger, services
from rewards.ledger import LoyaltyError
from rewards.models import LedgerEntry, MemberCard, PointsRule, Purchase
from rewards.services import purchases

from ..conftest import key
from ..factories import PointsRuleFactory


@pytest.fixture
def rule(world, program):
    return PointsRuleFactory(
        shop=world.shop, is_active=True, points_per_step=1, step_amount=10, bill_points=100, bill_value=10
    )


def buy(member, staff, amount, **kwargs):
    return services.purchase_record(member=member, amount=Decimal(amount), staff=staff, idempotency_key=key(), **kwargs)


def balance(member) -> int:
    return Member.objects.get(pk=member.pk).points


@pytest.mark.parametrize(
    ("rounding", "amount", "expected"),
    [("down", "129", 12), ("nearest", "125", 13), ("nearest", "124.99", 12), ("up", "121", 13), ("down", "9.99", 0)],
)
def test_points_per_rounding_rule(rounding, amount, expected):
    rule = PointsRule(points_per_step=1, step_amount=Decimal(10), rounding=rounding, min_purchase=0)
    assert purchases.points_for(rule, Decimal(amount)) == expected


def test_minimum_purchase():
    rule = PointsRule(points_per_step=2, step_amount=Decimal(10), rounding="down", min_purchase=Decimal(50))
    assert purchases.points_for(rule, Decimal(49)) == 0
    assert purchases.points_for(rule, Decimal(50)) == 10


@pytest.mark.parametrize(
    ("currency", "pts", "expected"),
    [("TWD", 150, Decimal("15")), ("JPY", 150, Decimal("15")), ("USD", 155, Decimal("15.50"))],
)
def test_points_value_in_the_currency(currency, pts, expected):
    rule = PointsRule(bill_points=100, bill_value=Decimal(10))
    assert purchases.points_value(rule, pts, currency) == expected


def test_a_purchase_earns_points_and_the_stamp(world, member, program, rule):
    rule.purchase_stamps = program
    rule.save()
    result = buy(member, world.carol, "120")
    assert result.points == 12 and balance(member) == 12
    assert result.purchase.amount == Decimal("120") and result.purchase.points_earned == 12
    assert MemberCard.objects.get(member=member).stamps == 1
    assert {e.reason for e in result.entries} == {"purchase", "visit"}


def test_twd_amounts_have_no_cents(world, member, rule):
    result = buy(member, world.carol, "120.6")
    assert result.purchase.amount == Decimal("121")


def test_a_refused_stamp_does_not_stop_the_purchase(world, member, program, rule):
    program.min_minutes_between_visits = 30
    program.save()
    rule.purchase_stamps = program
    rule.save()
    buy(member, world.carol, "50")
    result = buy(member, world.carol, "50")
    assert result.points == 5 and balance(member) == 10
    assert result.notes and "No stamp" in result.notes[0]
    assert MemberCard.objects.get(member=member).stamps == 1


def test_same_key_twice_records_once(world, member, rule):
    k = key()
    first = services.purchase_record(member=member, amount=Decimal(100), staff=world.carol, idempotency_key=k)
    again = services.purchase_record(member=member, amount=Decimal(100), staff=world.carol, idempotency_key=k)
    assert again.replayed and again.purchase.pk == first.purchase.pk
    assert Purchase.objects.count() == 1 and balance(member) == 10


def test_points_off_means_no_purchase(world, member, rule):
    rule.is_active = False
    rule.save()
    with pytest.raises(LoyaltyError) as error:
        buy(member, world.carol, "100")
    assert error.value.code == "points_off"
    assert not Purchase.objects.exists()


def test_pay_part_of_a_bill_with_points(world, member, rule):
    buy(member, world.carol, "3000")  # 300 points
    result = buy(member, world.carol, "200", pay_points=200)
    # 200 points = NT$20 off; points are earned on the NT$180 paid in money.
    assert result.purchase.paid_with_points == Decimal(20)
    assert result.points == 18 and result.points_spent == 200
    assert balance(member) == 300 - 200 + 18


def test_points_pay_at_most_the_shops_share(world, member, rule):
    buy(member, world.carol, "9000")
    with pytest.raises(LoyaltyError) as error:
        buy(member, world.carol, "100", pay_points=600)  # NT$60 of a NT$100 bill, limit 50%
    assert error.value.code == "too_much"


def test_cannot_spend_points_one_does_not_have(world, member, rule):
    buy(member, world.carol, "100")
    with pytest.raises(LoyaltyError) as error:
        buy(member, world.carol, "1000", pay_points=100)
    assert error.value.code == "not_enough_points"


def refund(world, purchase, amount, staff=None):
    return services.purchase_refund(
        shop=world.shop,
        purchase_id=purchase.pk,
        amount=Decimal(amount),
        staff=staff or world.bob,
        idempotency_key=key(),
    )


def test_partial_refunds_add_up_to_the_whole_and_only_once(world, member, program, rule):
    rule.purchase_stamps = program
    rule.save()
    purchase = buy(member, world.carol, "95").purchase  # 9 points, 1 stamp
    refund(world, purchase, "30")  # int(9 * 30/95) = 2
    assert balance(member) == 7
    refund(world, purchase, "30")  # int(9 * 60/95) = 5 -> 3 more
    assert balance(member) == 4
    assert MemberCard.objects.get(member=member).stamps == 1
    refund(world, purchase, "35")  # the rest: all 9, and the stamp
    assert balance(member) == 0
    assert MemberCard.objects.get(member=member).stamps == 0
    with pytest.raises(LoyaltyError) as error:
        refund(world, purchase, "1")
    assert error.value.code == "too_much"


def test_refund_after_spending_leaves_a_negative_balance_that_blocks_spending(world, member, rule):
    purchase = buy(member, world.carol, "1000").purchase  # 100 points
    buy(member, world.carol, "200", pay_points=100)  # spent them: NT$10 off, 19 earned on NT$190
    refund(world, purchase, "1000")
    assert balance(member) == 19 - 100
    with pytest.raises(LoyaltyError) as error:
        buy(member, world.carol, "100", pay_points=1)
    assert error.value.code == "not_enough_points"


def test_refunding_a_bill_paid_with_points_gives_them_back(world, member, rule):
    buy(member, world.carol, "3000")  # 300
    purchase = buy(member, world.carol, "200", pay_points=200).purchase  # -200 +18
    refund(world, purchase, "200")
    assert balance(member) == 300


def test_only_managers_refund(world, member, rule):
    purchase = buy(member, world.carol, "100").purchase
    with pytest.raises(LoyaltyError) as error:
        refund(world, purchase, "100", staff=world.carol)
    assert error.value.code == "not_allowed"


def test_an_undone_purchase_cannot_be_refunded(world, member, rule):
    result = buy(member, world.carol, "100")
    services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    assert balance(member) == 0
    with pytest.raises(LoyaltyError):
        refund(world, result.purchase, "100")


def test_another_shops_purchase_is_not_found(world, member, rule):
    purchase = buy(member, world.carol, "100").purchase
    with pytest.raises(LoyaltyError) as error:
        services.purchase_refund(
            shop=world.other_shop, purchase_id=purchase.pk, amount=Decimal(10), staff=world.dave, idempotency_key=key()
        )
    assert error.value.code in {"not_found", "not_allowed"}
    assert balance(member) == 10


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["buy", "pay", "refund"]), st.integers(min_value=1, max_value=5000)),
        min_size=1,
        max_size=12,
    )
)
def test_any_mix_of_purchases_payments_and_refunds_reconciles(world, rule, steps):
    from ..factories import MemberFactory

    member = MemberFactory(shop=world.shop)
    for action, n in steps:
        try:
            if action == "buy":
                buy(member, world.carol, str(n))
            elif action == "pay":
                buy(member, world.carol, str(n), pay_points=min(max(balance(member), 0), n))
            else:
                purchase = Purchase.objects.filter(member=member, refunded_amount__lt=F("amount")).first()
                if purchase:
                    refund(world, purchase, str(min(n, purchase.refundable)))
        except LoyaltyError:
            pass
    total = sum(LedgerEntry.objects.filter(member=member).values_list("points", flat=True))
    assert balance(member) == total
    assert ledger.drift() == []
    for purchase in Purchase.objects.filter(member=member):
        # Refunds never take back more than a purchase earned, nor give back more than it spent.
        assert 0 <= purchase.points_reversed <= purchase.points_earned
        assert 0 <= purchase.points_returned <= purchase.points_spent
        assert purchase.refunded_amount <= purchase.amount
    # Without refunds, nothing can push the balance below zero.
    if not any(action == "refund" for action, _n in steps):
        assert balance(member) >= 0
