"""Undo at the counter: a slip taken back within minutes, by void rows that mirror what it wrote."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from members.config import config_changed
from members.models import Member, Shop, User

from ..ledger import ActionResult, Code, LoyaltyError, Reason, idempotent, lock_member, post, replay
from ..models import CatalogueReward, LedgerEntry, MemberCard, Membership, Purchase, Voucher
from . import challenges, giving
from .tiers import tier_settle


def undo_window() -> timedelta:
    return timedelta(minutes=settings.COUNTER_UNDO_MINUTES)


def refuse_if_spent(
    member: Member, entries: list[LedgerEntry], cards: dict[int, MemberCard],
    memberships: dict[int, Membership] | None = None,
) -> None:  # fmt: skip
    """One rule for undoing stamps, points, purchases and bundles sold: what the undo would take back
    must still be there. Stamps already turned into a reward, points already spent, or a bundle's
    items already used, stay; a manager refunds or adjusts instead. The caller holds the member
    lock."""
    items_short = any(
        held.items_left - sum(e.items for e in entries if e.membership_id == pk) < 0
        for pk, held in (memberships or {}).items()
    )
    if items_short:
        raise LoyaltyError(
            _("An item of this bundle was already used, so the sale cannot be undone. Ask a manager to refund it "
              "instead."),
            code=Code.ALREADY_SPENT,
        )  # fmt: skip
    points = sum(e.points for e in entries)
    stamps_short = any(
        card.stamps - sum(e.stamps for e in entries if e.card_id == pk) < 0 for pk, card in cards.items()
    )
    if stamps_short or (points > 0 and member.points - points < 0):
        raise LoyaltyError(
            _(
                "What this would take back is already spent. Ask a manager to refund the purchase or adjust "
                "the balance instead."
            ),
            code=Code.ALREADY_SPENT,
        )


@idempotent
def action_undo(*, shop: Shop, group: uuid.UUID, staff: User, idempotency_key: str) -> ActionResult:
    """Undo a counter action within the undo window, by writing void entries."""
    with transaction.atomic():
        entries = list(LedgerEntry.objects.filter(shop=shop, group=group).exclude(reason=Reason.VOID).order_by("id"))
        if not entries:
            raise LoyaltyError(_("Nothing to undo."), code=Code.NOT_FOUND)
        locked = lock_member(entries[0].member_id, idempotency_key)
        cards = MemberCard.objects.in_bulk({e.card_id for e in entries if e.card_id})
        vouchers = Voucher.objects.select_for_update().in_bulk([e.voucher_id for e in entries if e.voucher_id])
        memberships = Membership.objects.in_bulk({e.membership_id for e in entries if e.membership_id})
        if replayed := replay(shop, idempotency_key, locked):
            return replayed
        if LedgerEntry.objects.filter(voids__in=entries).exists():
            raise LoyaltyError(_("This was already undone."), code=Code.ALREADY_UNDONE)
        giving.refuse_donation_undo(entries)
        if any(e.reason == Reason.REFUND for e in entries):
            raise LoyaltyError(
                _("A refund cannot be undone; record the purchase again instead."), code=Code.REFUND_IS_FINAL
            )
        if any(e.reason == Reason.PLAN_REFUND for e in entries):
            raise LoyaltyError(
                _("A refund cannot be undone; sell the membership again instead."), code=Code.REFUND_IS_FINAL
            )
        if any(held.status != Membership.Status.ACTIVE for held in memberships.values()):
            raise LoyaltyError(
                _("This membership was refunded or has ended, so this cannot be undone."),
                code=Code.MEMBERSHIP_ENDED,
            )
        if Purchase.objects.filter(group=group, refunded_amount__gt=0).exists():
            raise LoyaltyError(_("This purchase was partly refunded; it cannot be undone."), code=Code.PARTLY_REFUNDED)
        now = timezone.now()
        if now - entries[0].created_at > undo_window():
            raise LoyaltyError(
                _("Undo works for %(minutes)d minutes; ask a manager to adjust the balance instead.")
                % {"minutes": settings.COUNTER_UNDO_MINUTES},
                code=Code.TOO_LATE,
            )
        refuse_if_spent(locked, entries, cards, memberships)
        for entry in entries:
            voucher = vouchers.get(entry.voucher_id)
            if entry.reason == Reason.CARD_COMPLETE and voucher:
                if voucher.status == Voucher.Status.REDEEMED:
                    raise LoyaltyError(
                        _("The reward from this card was already redeemed, so the stamp cannot be undone."),
                        code=Code.VOUCHER_USED,
                    )
                Voucher.objects.filter(pk=voucher.pk).update(status=Voucher.Status.VOIDED)
            elif entry.reason == Reason.PLAN_ALLOWANCE and voucher:
                if voucher.status == Voucher.Status.REDEEMED:
                    raise LoyaltyError(
                        _("The membership's free item was already used, so the sale cannot be undone. Ask a manager "
                          "to refund it instead."),
                        code=Code.VOUCHER_USED,
                    )  # fmt: skip
                Voucher.objects.filter(pk=voucher.pk).update(status=Voucher.Status.VOIDED)
            elif entry.reason == Reason.REDEEM and voucher:
                Voucher.objects.filter(pk=voucher.pk, status=Voucher.Status.REDEEMED).update(
                    status=Voucher.Status.ISSUED, redeemed_at=None, redeemed_by=None
                )
        void_group = uuid.uuid4()
        voids = []
        # Newest first, so the card never dips below zero on the way back.
        for index, entry in enumerate(reversed(entries)):
            voids.append(
                post(
                    locked, Reason.VOID, card=cards.get(entry.card_id), stamps=-entry.stamps, points=-entry.points,
                    membership=memberships.get(entry.membership_id), items=-entry.items,
                    voucher_id=entry.voucher_id, voids=entry, group=void_group,
                    idempotency_key=idempotency_key if index == 0 else None, staff=staff, now=now,
                )
            )  # fmt: skip
            # The reward goes back on the shelf, and the catalogue shows what is left.
            shelf = CatalogueReward.objects.filter(pk=entry.reward_id, stock__isnull=False)
            if entry.reward_id and entry.reason == Reason.REDEEM and shelf.update(stock=F("stock") + 1):
                config_changed(shop.pk)
        giving.visits_undone(voids, staff=staff, now=now)
        # A sale undone: the member no longer holds what was sold (a used item undone gives it back).
        sold = [e.membership_id for e in entries if e.reason == Reason.PLAN_SOLD]
        if sold:
            # Undone, it never renewed anything: the membership it continued can be renewed again.
            Membership.objects.filter(pk__in=sold).update(
                status=Membership.Status.ENDED, renews=None, next_allowance_at=None
            )
            for membership_id in sold:
                tier_settle(member=locked, now=now, membership=memberships[membership_id], ended=True)
        # An undone purchase counts as fully refunded, so it cannot be refunded again.
        Purchase.objects.filter(group=group).update(
            refunded_amount=F("amount"), points_reversed=F("points_earned"), points_returned=F("points_spent")
        )
        # A challenge the action completed and that is no longer met (counted once the purchase is
        # refunded too): its reward is taken back with the rest, or the completion says why not.
        voids += challenges.visits_undone(locked, voids, staff=staff, now=now)
    return ActionResult(void_group, voids)
