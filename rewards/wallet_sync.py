"""Which wallets this installation issues passes for, and telling a member's passes their balances
changed. Below the services (it reads settings and the models only), so the ledger, the one door
every balance change goes through, can call it.

Apple's wallets fetch a pass again when its Last-Modified moves (``updated_at``); Google's pass is
updated by the worker (``rewards.tasks.google_wallet_update``), asked for after the commit.
"""

from django.conf import settings
from django.utils import timezone

from members.outbox import enqueue

from .models import WalletPass

GOOGLE_UPDATE_TASK = "rewards.tasks.google_wallet_update"


def issuers() -> list[str]:
    """The wallets this installation issues passes for: those whose certificates or keys are named."""
    found = []
    if settings.WALLET_APPLE_PASS_TYPE_ID and settings.WALLET_APPLE_CERT_FILE and settings.WALLET_APPLE_KEY_FILE:
        found.append(WalletPass.Kind.APPLE)
    if settings.WALLET_GOOGLE_ISSUER_ID and settings.WALLET_GOOGLE_SERVICE_ACCOUNT_FILE:
        found.append(WalletPass.Kind.GOOGLE)
    return found


def passes_changed(member_id: int) -> int:
    """What the member's live passes show changed (balances, vouchers, tier): their Last-Modified
    moves to now, so Apple's wallets fetch them again, and each Google pass is updated by the
    worker. One UPDATE, and one query more only when Google Wallet is on; how many passes it touched."""
    live = WalletPass.objects.filter(member_id=member_id, revoked_at__isnull=True)
    touched = live.update(updated_at=timezone.now())
    if touched and WalletPass.Kind.GOOGLE in issuers():
        for pass_id in live.filter(kind=WalletPass.Kind.GOOGLE).values_list("pk", flat=True):
            enqueue(GOOGLE_UPDATE_TASK, pass_id)
    return touched
