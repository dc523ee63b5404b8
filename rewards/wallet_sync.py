"""Which wallets this installation issues passes for, and telling a member's passes their balances
changed. Below the services (it reads settings and the models only), so the ledger, the one door
every balance change goes through, can call it.

Apple's wallets fetch a pass again when its Last-Modified moves (``updated_at``), which they ask
about when Apple's push service tells them to: one ``WalletPush`` row per registered device, sent
by the worker (``rewards.tasks.apple_wallet_push``, rewards.services.wallet_push). Google's pass is
updated by the worker (``rewards.tasks.google_wallet_update``). Both are asked for after the commit.
"""

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from members.outbox import enqueue

from .models import WalletDevice, WalletPass, WalletPush

GOOGLE_UPDATE_TASK = "rewards.tasks.google_wallet_update"
APPLE_PUSH_TASK = "rewards.tasks.apple_wallet_push"
# A push is tried this many times (rewards.services.wallet_push); one that has tries left is to come.
PUSH_ATTEMPTS = 5


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
    moves to now, each device holding an Apple pass is pushed to and each Google pass is updated by
    the worker. One UPDATE, and more only for the wallets that are on: two for Apple (the devices,
    one insert for all of them), one for Google; how many passes it touched."""
    now = timezone.now()
    live = WalletPass.objects.filter(member_id=member_id, revoked_at__isnull=True)
    touched = live.update(updated_at=now)
    if not touched:
        return 0
    kinds = issuers()
    if WalletPass.Kind.APPLE in kinds:
        _push_to_devices(member_id, version=now)
    if WalletPass.Kind.GOOGLE in kinds:
        for pass_id in live.filter(kind=WalletPass.Kind.GOOGLE).values_list("pk", flat=True):
            enqueue(GOOGLE_UPDATE_TASK, pass_id)
    return touched


def pass_voided(wallet_pass: WalletPass) -> None:
    """A pass stopped working (revoked, or its member erased): the devices holding it are pushed to
    so they fetch it and show it void now, not whenever they next look."""
    if wallet_pass.kind == WalletPass.Kind.APPLE and WalletPass.Kind.APPLE in issuers():
        _push_to_devices(wallet_pass.member_id, version=timezone.now(), pass_id=wallet_pass.pk)


def _push_to_devices(member_id: int, *, version, pass_id: int | None = None) -> None:
    """A push row for each device registered to the member's live Apple pass, sent after the commit.

    A device with a push still to come (waiting, or failed with tries left) gets no second one: the
    wallet asks which passes changed and fetches their latest version, whichever version the push
    was written for, and that push leaves after this change is stored (the ledger calls this once
    the action has committed), so it carries this change too. A second push would only wake the
    phone twice for one fetch. A push already being sent may have been answered before this change,
    so it does not count."""
    coming = WalletPush.objects.filter(
        device=OuterRef("pk"),
        status__in=[WalletPush.Status.PENDING, WalletPush.Status.FAILED],
        attempts__lt=PUSH_ATTEMPTS,
    )
    # The member's live Apple pass, or the one pass just voided.
    which = {"wallet_pass_id": pass_id} if pass_id else {"wallet_pass__revoked_at__isnull": True}
    devices = (
        WalletDevice.objects.filter(wallet_pass__member_id=member_id, wallet_pass__kind=WalletPass.Kind.APPLE, **which)
        .exclude(Exists(coming))
        .values_list("pk", "wallet_pass_id")
    )
    rows = [WalletPush(device_id=device, wallet_pass_id=held, pass_version=version) for device, held in devices]
    if not rows:
        return
    # A row already there for this device and version (a repeated call) is returned, not doubled:
    # the update is a no-op that makes the database hand back its id.
    pushes = WalletPush.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["device", "pass_version"],
        update_fields=["pass_version"],
    )
    for push in pushes:
        enqueue(APPLE_PUSH_TASK, push.pk)
