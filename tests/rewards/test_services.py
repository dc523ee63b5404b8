from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rewards import services
from rewards.ledger import LoyaltyError
from rewards.models import LedgerEntry, MemberCard, StampProgram, Voucher

from ..conftest import key
from ..factories import CatalogueRewardFactory, MemberFactory, PointsRuleFactory, StampProgramFactory, VoucherFactory

Reason = LedgerEntry.Reason


def stamp(member, program, staff, count=1, **kwargs):
    return services.stamp_add(member=member, program=program, count=count, staff=staff, idempotency_key=key(), **kwargs)


def card(member, program):
    return MemberCard.objects.get(member=member, program=program)


def test_a_new_shop_gets_a_default_program(world):
    from django.utils import translation

    from members import services as shop_services

    # In the language the owner is using as they create the shop, whatever the shop's customers read.
    with translation.override("zh-hant"):
        shop = shop_services.shop_create(owner=world.alice, name="Tea", slug="tea", language="en")
        coffee_card, free_drink = translation.gettext("Coffee card"), translation.gettext("Free drink")
    program = StampProgram.objects.get(shop=shop)
    assert (program.stamps_needed, program.name, program.reward) == (10, coffee_card, free_drink)
    assert coffee_card != "Coffee card" and free_drink == "免費飲品"


def test_a_stamp_is_one_ledger_row_and_moves_the_card(world, member, program):
    result = stamp(member, program, world.carol)
    assert card(member, program).stamps == 1
    [entry] = result.entries
    assert (entry.reason, entry.stamps, entry.staff, entry.member) == (Reason.VISIT, 1, world.carol, member)
    member.refresh_from_db()
    assert member.last_visit_at == entry.created_at


def test_the_tenth_stamp_issues_the_voucher_in_the_same_action(world, member, program):
    program.voucher_valid_days = 30
    program.save()
    for _ in range(9):
        stamp(member, program, world.carol)
    result = stamp(member, program, world.carol)
    [voucher] = result.vouchers_issued
    assert voucher.title == "Free latte" and voucher.status == Voucher.Status.ISSUED
    assert timedelta(days=29) < voucher.expires_at - timezone.now() <= timedelta(days=30)
    assert card(member, program).stamps == 0
    assert [e.reason for e in result.entries] == [Reason.VISIT, Reason.CARD_COMPLETE]


def test_stamps_beyond_a_full_card_carry_over(world, member, program):
    for _ in range(8):
        stamp(member, program, world.carol)
    result = stamp(member, program, world.carol, count=3)
    assert len(result.vouchers_issued) == 1
    assert card(member, program).stamps == 1


def test_the_same_key_twice_acts_once(world, member, program):
    k = key()
    first = services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=k)
    second = services.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=k)
    assert second.replayed and second.group == first.group
    assert card(member, program).stamps == 1
    assert LedgerEntry.objects.count() == 1


def test_too_many_stamps_per_visit_is_refused(world, member, program):
    with pytest.raises(LoyaltyError) as error:
        stamp(member, program, world.carol, count=4)
    assert error.value.code == "too_many"
    assert not LedgerEntry.objects.exists()


def test_a_visit_too_soon_is_refused_unless_a_manager_overrides(world, member, program):
    program.min_minutes_between_visits = 30
    program.save()
    stamp(member, program, world.carol)
    with pytest.raises(LoyaltyError) as error:
        stamp(member, program, world.carol)
    assert error.value.code == "too_soon"
    with pytest.raises(LoyaltyError) as error:
        stamp(member, program, world.carol, override=True)
    assert error.value.code == "not_allowed"
    result = stamp(member, program, world.bob, override=True, override_reason="correction")
    assert result.entries[0].override and result.entries[0].staff == world.bob
    assert card(member, program).stamps == 2


def test_the_frequency_limit_is_checked_under_the_lock(world, member, program):
    """The classic bug is reading the last visit before taking the lock."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks to order against")
    program.min_minutes_between_visits = 30
    program.save()
    with CaptureQueriesContext(connection) as queries:
        stamp(member, program, world.carol)
    sql = [q["sql"] for q in queries.captured_queries]
    lock = next(i for i, s in enumerate(sql) if "FOR UPDATE" in s and '"members_member"' in s)
    last_visit = next(i for i, s in enumerate(sql) if s.startswith("SELECT") and "'visit'" in s)
    insert = next(i for i, s in enumerate(sql) if s.startswith('INSERT INTO "rewards_ledgerentry"'))
    assert lock < last_visit < insert


def test_a_paused_program_stamps_nothing(world, member, program):
    program.is_active = False
    program.save()
    with pytest.raises(LoyaltyError) as error:
        stamp(member, program, world.carol)
    assert error.value.code == "paused"


def test_another_shops_program_is_refused(world, member):
    other = StampProgramFactory(shop=world.other_shop, name="x", reward="y")
    with pytest.raises(LoyaltyError) as error:
        stamp(member, other, world.carol)
    assert error.value.code == "wrong_shop"


def test_changing_the_program_keeps_stamps_earned(world, member, program):
    for _ in range(5):
        stamp(member, program, world.carol)
    program.stamps_needed = 8
    program.save()
    assert card(member, program).stamps == 5


def test_redeem_once_only(world, member, program):
    for _ in range(10):
        stamp(member, program, world.carol)
    voucher = Voucher.objects.get()
    result = services.voucher_redeem(shop=world.shop, voucher_id=voucher.pk, staff=world.carol, idempotency_key=key())
    assert result.voucher_redeemed.status == Voucher.Status.REDEEMED
    with pytest.raises(LoyaltyError) as error:
        services.voucher_redeem(shop=world.shop, voucher_id=voucher.pk, staff=world.carol, idempotency_key=key())
    assert error.value.code == "redeemed"


def test_an_expired_voucher_cannot_be_redeemed(world, member):
    voucher = VoucherFactory(
        shop=world.shop, member=member, title="x", expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(LoyaltyError) as error:
        services.voucher_redeem(shop=world.shop, voucher_id=voucher.pk, staff=world.carol, idempotency_key=key())
    assert error.value.code == "not_usable"


def test_another_shops_voucher_is_not_found(world):
    outsider = MemberFactory(shop=world.other_shop)
    voucher = VoucherFactory(shop=world.other_shop, member=outsider, title="x")
    with pytest.raises(LoyaltyError) as error:
        services.voucher_redeem(shop=world.shop, voucher_id=voucher.pk, staff=world.carol, idempotency_key=key())
    assert error.value.code == "not_found"


def test_undo_a_stamp(world, member, program):
    result = stamp(member, program, world.carol)
    undo = services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    assert card(member, program).stamps == 0
    [void] = undo.entries
    assert (void.reason, void.stamps, void.voids) == (Reason.VOID, -1, result.entries[0])
    with pytest.raises(LoyaltyError) as error:
        services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    assert error.value.code == "already_undone"


def test_undo_the_stamp_that_completed_a_card_voids_its_voucher(world, member, program):
    for _ in range(9):
        stamp(member, program, world.carol)
    result = stamp(member, program, world.carol)
    services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    assert card(member, program).stamps == 9
    assert Voucher.objects.get().status == Voucher.Status.VOIDED


def test_undo_is_refused_once_the_reward_was_used(world, member, program):
    for _ in range(9):
        stamp(member, program, world.carol)
    result = stamp(member, program, world.carol)
    services.voucher_redeem(
        shop=world.shop, voucher_id=result.vouchers_issued[0].pk, staff=world.carol, idempotency_key=key()
    )
    with pytest.raises(LoyaltyError) as error:
        services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    assert error.value.code == "voucher_used"
    assert card(member, program).stamps == 0


def test_undo_a_redemption_makes_the_voucher_usable_again(world, member):
    voucher = VoucherFactory(shop=world.shop, member=member, title="x")
    result = services.voucher_redeem(shop=world.shop, voucher_id=voucher.pk, staff=world.carol, idempotency_key=key())
    services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ISSUED and voucher.redeemed_at is None


def test_undo_only_within_the_window(world, member, program, settings):
    result = stamp(member, program, world.carol)
    settings.COUNTER_UNDO_MINUTES = 0
    with pytest.raises(LoyaltyError) as error:
        services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    assert error.value.code == "too_late"


def test_undo_takes_back_only_what_is_still_there(world, member, program):
    """A stamp that went into a completed card is spent: its undo is refused. Before that, an earlier
    stamp can be undone after a later one."""
    first = stamp(member, program, world.carol)
    stamp(member, program, world.carol)
    services.action_undo(shop=world.shop, group=first.group, staff=world.carol, idempotency_key=key())
    assert card(member, program).stamps == 1
    slip = stamp(member, program, world.carol)
    services.stamps_adjust(
        member=member, program=program, stamps=program.stamps_needed - 2, note="paper card", staff=world.bob,
        idempotency_key=key(),
    )  # fmt: skip
    assert card(member, program).stamps == 0, "the card completed and issued its voucher"
    with pytest.raises(LoyaltyError) as error:
        services.action_undo(shop=world.shop, group=slip.group, staff=world.carol, idempotency_key=key())
    assert error.value.code == "already_spent"
    assert card(member, program).stamps == 0


def test_another_shop_cannot_undo(world, member, program):
    result = stamp(member, program, world.carol)
    with pytest.raises(LoyaltyError):
        services.action_undo(shop=world.other_shop, group=result.group, staff=world.dave, idempotency_key=key())
    assert card(member, program).stamps == 1


def test_adjustments_need_a_reason_and_a_manager(world, member, program):
    with pytest.raises(LoyaltyError) as error:
        services.stamps_adjust(
            member=member, program=program, stamps=3, note=" ", staff=world.bob, idempotency_key=key()
        )
    assert error.value.code == "note_required"
    with pytest.raises(LoyaltyError) as error:
        services.stamps_adjust(
            member=member, program=program, stamps=3, note="x", staff=world.carol, idempotency_key=key()
        )
    assert error.value.code == "not_allowed"
    result = services.stamps_adjust(
        member=member, program=program, stamps=3, note="Paper card moved over", staff=world.bob, idempotency_key=key()
    )
    assert result.entries[0].reason == Reason.ADJUSTMENT and result.entries[0].note == "Paper card moved over"
    with pytest.raises(LoyaltyError) as error:
        services.stamps_adjust(
            member=member, program=program, stamps=-4, note="x", staff=world.bob, idempotency_key=key()
        )
    assert error.value.code == "negative"
    assert card(member, program).stamps == 3


def test_the_ledger_is_append_only(world, member, program):
    entry = stamp(member, program, world.carol).entries[0]
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(pk=entry.pk).update(stamps=5)
    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(pk=entry.pk).delete()


def test_verify_command_reports_drift(world, member, program, capsys):
    stamp(member, program, world.carol)
    call_command("ledger_verify")
    MemberCard.objects.filter(member=member).update(stamps=7)
    with pytest.raises(Exception, match="drift"):
        call_command("ledger_verify")
    MemberCard.objects.filter(member=member).update(stamps=1)


def test_vouchers_past_their_date_expire_once(world, member):
    from rewards.tasks import expire_vouchers

    old = VoucherFactory(shop=world.shop, member=member, title="x", expires_at=timezone.now() - timedelta(days=1))
    fresh = VoucherFactory(shop=world.shop, member=member, title="y", expires_at=timezone.now() + timedelta(days=1))
    assert expire_vouchers.delay().get() == 1
    assert expire_vouchers.delay().get() == 0
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == (Voucher.Status.EXPIRED, Voucher.Status.ISSUED)


def test_deleting_a_shop_takes_its_ledger_with_it(world, member, program):
    """Rows are never deleted one by one, but a shop that leaves takes all its data."""
    from members import services as shop_services

    result = stamp(member, program, world.carol)
    services.action_undo(shop=world.shop, group=result.group, staff=world.carol, idempotency_key=key())
    shop_services.shop_delete(shop=world.shop)
    assert not LedgerEntry.objects.exists()
    assert not MemberCard.objects.exists()


def test_undoing_a_purchase_whose_points_were_spent_is_refused(world, member, program):
    """Regression: the balance went negative without a refund's rules."""
    from decimal import Decimal

    from rewards import services

    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)
    cookie = CatalogueRewardFactory(shop=world.shop, name="Cookie", cost_points=10)
    bought = services.purchase_record(member=member, amount=Decimal(100), staff=world.carol, idempotency_key=key())
    services.reward_redeem(member=member, reward_id=cookie.pk, staff=world.carol, idempotency_key=key())
    with pytest.raises(LoyaltyError) as error:
        services.action_undo(shop=world.shop, group=bought.group, staff=world.carol, idempotency_key=key())
    assert error.value.code == "already_spent" and "refund" in error.value.message
    member.refresh_from_db()
    assert member.points == 0
