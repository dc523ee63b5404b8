"""Members' cards in Apple Wallet and Google Wallet: issuing a pass (a new one replaces the old one
of its kind), revoking one from the card, and finding the member a pass's barcode belongs to.

A wallet keeps its barcode for ever, unlike the card's QR code, which goes stale in minutes: so a
pass is taken at the counter like a typed member code (staff confirm the person before anything is
spent), and the member can revoke it, after which its barcode finds nobody.
"""

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, Shop
from members.outbox import enqueue

from ..models import WalletPass
from ..wallet_sync import GOOGLE_UPDATE_TASK, issuers, pass_voided, passes_changed

PREFIX = "W:"
# The wallets an installation can issue, and the card's link to each (rewards.views.wallet).
LINKS = {WalletPass.Kind.APPLE: "rewards:card_wallet_apple", WalletPass.Kind.GOOGLE: "rewards:card_wallet_google"}


def card_context(member: Member, token: str) -> dict:
    """What the card shows of wallets: an "add" link per wallet offered, and the passes held (one
    query, none in an installation that issues no passes)."""
    kinds = issuers()
    if not kinds:
        return {"wallet_offer": [], "wallet_passes": []}
    labels = {WalletPass.Kind.APPLE: _("Add to Apple Wallet"), WalletPass.Kind.GOOGLE: _("Save to Google Wallet")}
    offer = [{"kind": kind, "label": labels[kind], "url": reverse(LINKS[kind], args=[token])} for kind in kinds]
    return {"wallet_offer": offer, "wallet_passes": active_passes(member)}


def pass_issue(*, member: Member, kind: str) -> WalletPass:
    """A new pass of ``kind`` for the member; the one they had of that kind stops working."""
    with transaction.atomic():
        Member.objects.select_for_update().filter(pk=member.pk).exists()
        now = timezone.now()
        old = list(WalletPass.objects.filter(member=member, kind=kind, revoked_at__isnull=True))
        WalletPass.objects.filter(pk__in=[p.pk for p in old]).update(revoked_at=now, updated_at=now)
        for replaced in old:
            _tell_the_wallet(replaced)
        return WalletPass.objects.create(shop_id=member.shop_id, member=member, kind=kind)


def pass_held_or_issued(*, member: Member, kind: str) -> WalletPass:
    """The member's live pass of ``kind``, or a new one: downloading or saving a pass twice (or on a
    second phone) keeps the first working. Under the member's lock, so two clicks make one pass."""
    with transaction.atomic():
        Member.objects.select_for_update().filter(pk=member.pk).exists()
        held = WalletPass.objects.filter(member=member, kind=kind, revoked_at__isnull=True).first()
        return held or pass_issue(member=member, kind=kind)


def pass_revoke(*, member: Member, wallet_pass: WalletPass) -> bool:
    """The member revokes a pass (a lost phone): its barcode finds nobody from now on."""
    if wallet_pass.member_id != member.pk:
        return False
    now = timezone.now()
    revoked = WalletPass.objects.filter(pk=wallet_pass.pk, revoked_at__isnull=True).update(
        revoked_at=now, updated_at=now
    )
    if revoked:
        _tell_the_wallet(wallet_pass)
    return bool(revoked)


def _tell_the_wallet(wallet_pass: WalletPass) -> None:
    """A pass stopped working: Apple's wallets are pushed to and fetch it void (its Last-Modified
    moved); Google's is made inactive by the worker, after the commit."""
    pass_voided(wallet_pass)
    if wallet_pass.kind == WalletPass.Kind.GOOGLE and WalletPass.Kind.GOOGLE in issuers():
        enqueue(GOOGLE_UPDATE_TASK, wallet_pass.pk)


def active_passes(member: Member) -> list[WalletPass]:
    return list(WalletPass.objects.filter(member=member, revoked_at__isnull=True).order_by("kind"))


def member_for_barcode(shop: Shop, barcode: str) -> tuple[Member, WalletPass] | None:
    """The member of ``shop`` whose live pass shows ``barcode``; None for a revoked or unknown one."""
    if not barcode.startswith(PREFIX):
        return None
    found = (
        WalletPass.objects.select_related("member")
        .filter(shop=shop, barcode=barcode, revoked_at__isnull=True, member__erased_at__isnull=True)
        .first()
    )
    return (found.member, found) if found else None


__all__ = ["issuers", "passes_changed"]
