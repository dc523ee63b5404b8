"""Apple Wallet's "this pass changed" pushes, sent by the worker with the e-mail outbox's guarantees
(members.outbox): rows written when a pass changes (rewards.wallet_sync), each claimed with a
conditional update before it is sent, so the task, its redelivery and the beat's flush never send
one twice; retried with backoff when APNs is unreachable or busy; given up on when a worker died
while sending (a second push could be a duplicate, and the wallet also checks on its own).

A device APNs says is gone (the pass was deleted from the wallet, the token is not for our pass
type) loses its registration: nothing is pushed to it again, and the web service no longer lists
the pass for it.
"""

import logging
from datetime import datetime, timedelta

import httpx
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import apns
from ..models import WalletDevice, WalletPass, WalletPush
from ..wallet_sync import PUSH_ATTEMPTS, issuers

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = PUSH_ATTEMPTS
STUCK_AFTER = timedelta(minutes=30)
BATCH = 500
DUE = [WalletPush.Status.PENDING, WalletPush.Status.FAILED]


def _apple_on() -> bool:
    return WalletPass.Kind.APPLE in issuers()


def push_send(push_id: int, *, now: datetime | None = None, client: httpx.Client | None = None) -> bool:
    """Send one push if it is due and nobody else has claimed it; True when APNs took it now.
    ``client``: a connection to reuse (the flush sends a batch over one)."""
    if not _apple_on():
        return False
    answer = _send(push_id, now=now or timezone.now(), client=client)
    return answer is not None and answer.delivered


def _send(push_id: int, *, now: datetime, client: httpx.Client | None) -> apns.Answer | None:
    """Claim, send and record one push; APNs' answer, None when it was not this call's to send."""
    claimed = WalletPush.objects.filter(
        pk=push_id, status__in=DUE, next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS
    ).update(status=WalletPush.Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=now)
    if claimed != 1:
        return None
    push = WalletPush.objects.select_related("device").get(pk=push_id)
    if push.device is None:
        # The wallet unregistered (or was found gone) after the push was written.
        _give_up(push_id, _("The device no longer holds the pass."))
        return None
    try:
        # Inside the try: a certificate that cannot be read is this push's error, like APNs' own.
        if client is None:
            with apns.connect() as own:
                answer = apns.send(own, push.device.push_token)
        else:
            answer = apns.send(client, push.device.push_token)
    except Exception as error:
        logger.warning("Apple Wallet push %s not sent: %s", push_id, error)
        answer = apns.Answer(0, f"{type(error).__name__}: {error}"[:300])
    if answer.delivered:
        WalletPush.objects.filter(pk=push_id).update(
            status=WalletPush.Status.SENT, sent_at=timezone.now(), last_error=""
        )
        return answer
    if answer.gone:
        # The wallet is gone from the device: its registration goes (the push stays, saying why).
        WalletDevice.objects.filter(pk=push.device_id).delete()
        _give_up(push_id, _("The pass was removed from the device (APNs: %(reason)s).") % _reason(answer))
    elif answer.worth_retrying:
        WalletPush.objects.filter(pk=push_id).update(
            status=WalletPush.Status.FAILED,
            # The admin shows the attempts; after the last one the push is not due again.
            last_error=_("Apple's push service did not take it (%(reason)s).") % _reason(answer),
            next_attempt_at=now + timedelta(minutes=2**push.attempts),
        )
    else:
        # Our request or certificate is wrong (a bad topic, an expired certificate): the same push
        # would be refused again, so it is not retried; the operator sees why here.
        _give_up(push_id, _("Apple's push service refused it (APNs: %(reason)s).") % _reason(answer))
    return answer


def _reason(answer: apns.Answer) -> dict:
    return {"reason": f"{answer.status} {answer.reason}".strip() if answer.status else answer.reason}


def _give_up(push_id: int, error: str) -> None:
    WalletPush.objects.filter(pk=push_id).update(
        status=WalletPush.Status.FAILED, attempts=MAX_ATTEMPTS, last_error=error[:1000]
    )


def pushes_flush(*, now: datetime | None = None) -> int:
    """Beat: send the pushes that wait (the broker was down, or a retry is due) over one connection;
    give up on sends that got stuck. How many APNs took. No query without Apple Wallet."""
    if not _apple_on():
        return 0
    now = now or timezone.now()
    WalletPush.objects.filter(status=WalletPush.Status.SENDING, next_attempt_at__lte=now - STUCK_AFTER).update(
        status=WalletPush.Status.FAILED,
        attempts=MAX_ATTEMPTS,
        last_error=_("Interrupted while sending; not resent, to avoid a duplicate."),
    )
    due = list(
        WalletPush.objects.filter(status__in=DUE, next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    if not due:
        return 0
    try:
        client = apns.connect()
    except Exception:
        # A certificate that cannot be read: the first push records why; the rest wait.
        push_send(due[0], now=now)
        return 0
    sent = 0
    with client:
        for pk in due:
            answer = _send(pk, now=now, client=client)
            if answer is None:
                continue
            if answer.status == 0 or answer.status >= 500:
                # APNs is unreachable or in trouble: the rest wait for the next minute rather than
                # each waiting out its own timeout now. (429 is about one device: go on.)
                break
            sent += answer.delivered
    return sent
