"""What rewards tells a shop's webhooks (``members.webhooks``): one call per event, from the one
place that makes it, inside its transaction. Vouchers are announced by the ledger's door
(``ledger.post_all``: every voucher given or redeemed has its row); a visit by ``stamp_add``, a
purchase by ``purchase_record``, a refund by ``purchase_refund``, a tier change by ``tiers._move``.

The data is ids, balances and amounts, never the member's name or contact (docs/webhooks.md). Each
builder runs only when an endpoint of the shop subscribes to the event; ``emit`` asks nothing of
the database in a shop without endpoints."""

from members.currency import quantize
from members.models import Member
from members.webhooks import emit, member_data

from .models import LedgerEntry, MemberCard, Purchase, Tier, Voucher

Reason = LedgerEntry.Reason

# Ledger rows that carry the voucher they give (a full card's, a campaign's or challenge's gift, a
# membership's monthly one).
ISSUING = {Reason.CARD_COMPLETE, Reason.CAMPAIGN, Reason.CHALLENGE, Reason.PLAN_ALLOWANCE, Reason.BONUS}


def _voucher(voucher: Voucher) -> dict:
    return {
        "id": str(voucher.public_id),
        "code": voucher.code,
        "title": voucher.title,
        "status": voucher.status,
        "issued_at": voucher.issued_at.isoformat() if voucher.issued_at else None,
        "expires_at": voucher.expires_at.isoformat() if voucher.expires_at else None,
        "redeemed_at": voucher.redeemed_at.isoformat() if voucher.redeemed_at else None,
    }


def _card(card: MemberCard) -> dict:
    program = card.program
    return {"program": str(program.public_id), "name": program.name, "stamps": card.stamps,
            "stamps_needed": program.stamps_needed}  # fmt: skip


def _money(amount, currency: str) -> str:
    """An amount as a string in the currency's minor units ("120" in TWD, "4.50" in EUR)."""
    return str(quantize(amount, currency))


def _purchase(purchase: Purchase, currency: str) -> dict:
    return {
        "id": str(purchase.public_id),
        "amount": _money(purchase.amount, currency),
        "currency": currency,
        "receipt": purchase.receipt,
        "points_earned": purchase.points_earned,
        "points_spent": purchase.points_spent,
        "refunded_amount": _money(purchase.refunded_amount, currency),
    }


def ledger_rows(member: Member, entries: list[LedgerEntry], now) -> None:
    """Vouchers given or redeemed by rows just written (ledger.post_all)."""
    for entry in entries:
        if entry.voucher_id is None:
            continue
        voucher = entry.voucher
        if entry.reason == Reason.REDEEM:
            event = "voucher.redeemed"
        elif entry.reason in ISSUING:
            event = "voucher.issued"
        else:
            continue
        emit(member.shop, event, lambda v=voucher: {"member": member_data(member), "voucher": _voucher(v)}, now=now)


def visit(member: Member, now, entries: list[LedgerEntry], vouchers: list[Voucher], group) -> None:
    """Stamps added at the counter for a visit (``stamp_add``)."""

    def data():
        stamped = [entry for entry in entries if entry.stamps > 0]
        card = stamped[0].card if stamped else None
        return {
            "member": member_data(member),
            "stamps": sum(entry.stamps for entry in stamped),
            "card": _card(card) if card else None,
            "vouchers_issued": [str(voucher.public_id) for voucher in vouchers],
            "action": str(group),
        }

    emit(member.shop, "visit", data, now=now)


def purchase(member: Member, now, purchase: Purchase, result) -> None:
    """A purchase recorded (``purchase_record``), with its stamp if the shop gives one."""

    def data():
        card = next((entry.card for entry in result.entries if entry.stamps > 0 and entry.card_id), None)
        return {
            "member": member_data(member),
            "purchase": _purchase(purchase, member.shop.currency),
            "card": _card(card) if card else None,
            "vouchers_issued": [str(voucher.public_id) for voucher in result.vouchers_issued],
            "action": str(result.group),
        }

    emit(member.shop, "purchase", data, now=now)


def refund(member: Member, now, purchase: Purchase, amount, refunded, entries: list[LedgerEntry], group) -> None:
    """All or part of a purchase refunded (``purchase_refund``); ``refunded``: of it all, so far."""

    def data():
        currency = member.shop.currency
        return {
            "member": member_data(member),
            "purchase": {**_purchase(purchase, currency), "refunded_amount": _money(refunded, currency)},
            "amount": _money(amount, currency),
            "points": sum(entry.points for entry in entries),
            "stamps": sum(entry.stamps for entry in entries),
            "action": str(group),
        }

    emit(member.shop, "refund", data, now=now)


def tier_changed(member: Member, old: Tier | None, new: Tier | None, reason: str, now) -> None:
    def tier(t: Tier | None):
        return {"id": str(t.public_id), "name": t.name} if t else None

    def data():
        return {"member": member_data(member), "from": tier(old), "to": tier(new), "reason": reason}

    emit(member.shop, "tier.changed", data, now=now)
