"""Expiry across changes of the rule, over two years of daily runs, in the shop's time zone.

A hypothesis state machine earns, spends, refunds, undoes, changes the rule and runs the daily
expiry task, with the clock moved by time-machine, and checks after every step that the balance is
the ledger's, that nothing expires twice, and that nothing expires before its date. Regression for
"a change of the expiry rule eats old points" (expiry rows were taken from the oldest lots again).
"""

import contextlib
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from members.models import Member
from rewards import services
from rewards.ledger import LoyaltyError
from rewards.models import LedgerEntry, PointsRule, Purchase
from rewards.services.expiry import _add_months, points_expire

from ..conftest import key
from ..factories import CatalogueRewardFactory, MemberFactory, ShopFactory, StaffFactory
from .test_expiry import balance, earn, local

TAIPEI = ZoneInfo("Asia/Taipei")


def test_old_points_survive_a_shorter_rule_and_daily_runs(world, member):
    """The reported case: 12 months, earn 100, change to 6 months, run the task every day."""
    world.shop.time_zone = "Asia/Taipei"
    world.shop.save()
    rule = PointsRule(shop=world.shop, is_active=True, step_amount=1)
    with time_machine.travel(local(2025, 5, 1, 9), tick=False):
        services.points_rule_save(rule=rule)
    earn(member, world.carol, 30, local(2025, 6, 1, 12))  # no expiry yet: these never expire
    rule.expiry, rule.expiry_months = "earned", 12
    with time_machine.travel(local(2026, 1, 1, 9), tick=False):
        services.points_rule_save(rule=rule)
    earn(member, world.carol, 100, local(2026, 1, 10, 12))
    rule.expiry_months = 6
    with time_machine.travel(local(2026, 2, 1, 9), tick=False):
        services.points_rule_save(rule=rule)
    earn(member, world.carol, 20, local(2026, 2, 10, 12))  # under 6 months: 10 August
    day = local(2026, 2, 11, 3)
    while day < local(2027, 3, 1):
        points_expire(now=day)
        if day.date() == local(2026, 8, 11).date():
            assert balance(member) == 130, "only the 20 earned under six months expired"
        day += timedelta(days=1)
    assert balance(member) == 30, "the points from before any rule stay"
    expired = sorted(
        -p for p in LedgerEntry.objects.filter(member=member, reason="expiry").values_list("points", flat=True)
    )
    assert expired == [20, 100]


class Expiry(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.now = local(2026, 1, 5, 10)
        self.traveller = time_machine.travel(self.now, tick=False)
        self.traveller.start()
        self.shop = ShopFactory(time_zone="Asia/Taipei")
        self.staff = StaffFactory(shop=self.shop, role="manager").user
        self.member = MemberFactory(shop=self.shop)
        self.rule = PointsRule(shop=self.shop, is_active=True, step_amount=1, bill_points=1, bill_value=1,
                               bill_max_percent=100)  # fmt: skip
        services.points_rule_save(rule=self.rule)
        self.cookie = CatalogueRewardFactory(shop=self.shop, name="Cookie", cost_points=15)
        # The oracle: every earning with the months it expires after (None: never).
        self.earned: list[tuple[datetime, int, int | None]] = []
        self.last_action = None

    def teardown(self):
        self.traveller.stop()

    def _at(self, moment):
        self.traveller.stop()
        self.traveller = time_machine.travel(moment, tick=False)
        self.traveller.start()

    def _months(self):
        return self.rule.expiry_months if self.rule.expiry == "earned" else None

    @rule(days=st.integers(0, 45), hour=st.integers(0, 23))
    def wait(self, days, hour):
        self.now = (self.now + timedelta(days=days)).replace(hour=hour)
        self._at(self.now)

    @rule(amount=st.integers(1, 400))
    def earn(self, amount):
        result = services.purchase_record(member=self.member, amount=Decimal(amount), staff=self.staff,
                                        idempotency_key=key())  # fmt: skip
        self.earned.append((self.now, result.purchase.points_earned, self._months()))
        self.last_action = result.group

    @precondition(lambda self: self.balance() >= 15)
    @rule()
    def spend(self):
        self.last_action = services.reward_redeem(member=self.member, reward_id=self.cookie.pk, staff=self.staff,
                                                   idempotency_key=key()).group  # fmt: skip

    @rule(share=st.sampled_from([Decimal("0.5"), Decimal(1)]))
    def refund(self, share):
        purchase = Purchase.objects.filter(member=self.member, refunded_amount=0).order_by("-created_at").first()
        if purchase is None:
            return
        amount = (purchase.amount * share).quantize(1)
        with contextlib.suppress(LoyaltyError):
            services.purchase_refund(shop=self.shop, purchase_id=purchase.pk, amount=amount, staff=self.staff,
                                   idempotency_key=key())  # fmt: skip

    @rule()
    def undo(self):
        if self.last_action is None:
            return
        with contextlib.suppress(LoyaltyError):
            services.action_undo(shop=self.shop, group=self.last_action, staff=self.staff, idempotency_key=key())
        self.last_action = None

    @rule(terms=st.sampled_from([("never", None), ("earned", 3), ("earned", 6), ("earned", 12)]))
    def change_rule(self, terms):
        self.rule.expiry, self.rule.expiry_months = terms
        services.points_rule_save(rule=self.rule)

    @rule(days=st.integers(1, 20))
    def daily_expiry(self, days):
        for _ in range(days):
            self.now += timedelta(days=1)
            self._at(self.now)
            points_expire(now=self.now)

    def balance(self) -> int:
        return Member.objects.get(pk=self.member.pk).points

    @invariant()
    def balance_is_the_ledger(self):
        rows = LedgerEntry.objects.filter(member=self.member)
        assert self.balance() == sum(rows.values_list("points", flat=True))

    @invariant()
    def nothing_expires_twice_or_early(self):
        """All that expired so far is at most what was earned under terms whose date has come."""
        expired = -sum(LedgerEntry.objects.filter(member=self.member, reason="expiry").values_list("points", flat=True))
        could = sum(n for at, n, months in self.earned if months and _add_months(at, months, TAIPEI) <= self.now)
        assert 0 <= expired <= could


@pytest.mark.django_db
def test_expiry_over_two_years_of_rule_changes(db):
    run_state_machine_as_test(
        Expiry,
        settings=settings(max_examples=15, stateful_step_count=25, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]),
    )  # fmt: skip
