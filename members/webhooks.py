"""Webhooks: a shop's own systems told of what happens at the shop, signed, retried and logged.

- ``emit`` is called by the service that made the change, inside its transaction: one
  ``WebhookDelivery`` row per active endpoint subscribed to the event, all with the same event id,
  sent after the commit (``outbox.enqueue``) and still sent by the beat if the broker is down. A
  shop without endpoints costs no query: which endpoints a shop has is held with its settings
  (``members.config``; saving or deleting an endpoint changes the shop's settings key).
- ``delivery_send`` claims the row with a conditional update, as the outbox does, so two workers, a
  retry and the flush never send one attempt twice; the unique (endpoint, event id) is the
  once-per-occasion guarantee. A 2xx answer is delivered; anything else, a timeout or a refused
  address is failed and tried again after 2, 4, 8 … minutes, up to ``MAX_ATTEMPTS``.
- ``delivery_replay`` (the owner's button in the log) makes a delivered or failed row due again: the
  same event id and body, a fresh timestamp and signature.
- Addresses: HTTPS only, and never one that resolves to a private, loopback or link-local address
  (the portal must not be a way into its own network), checked when the owner saves the endpoint
  and again at each attempt, connecting to the very address checked (DNS can change in between).
  ``WEBHOOKS_ALLOW_PRIVATE`` lifts the address rule, and with it (or with ``DEBUG``) plain HTTP to
  this machine is allowed: for tests and development.

What each event carries, and how a receiver checks the signature: docs/webhooks.md.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .config import shop_cached
from .models import AuditEntry, Member, Shop, User, WebhookAttempt, WebhookDelivery, WebhookEndpoint, webhook_secret
from .outbox import enqueue

logger = logging.getLogger(__name__)

SEND_TASK = "members.tasks.send_webhook"
MAX_ATTEMPTS = 8
STUCK_AFTER = timedelta(minutes=30)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RESPONSE_KEPT = 500
USER_AGENT = "LoyaltyPortal-Webhooks/1"

# The events an endpoint may subscribe to, with the words the owner's form shows.
EVENTS = {
    "member.joined": gettext_lazy("A customer joined"),
    "visit": gettext_lazy("A visit: stamps added"),
    "purchase": gettext_lazy("A purchase recorded"),
    "voucher.issued": gettext_lazy("A voucher issued"),
    "voucher.redeemed": gettext_lazy("A voucher redeemed"),
    "refund": gettext_lazy("A purchase refunded"),
    "tier.changed": gettext_lazy("A member's tier changed"),
    "member.erased": gettext_lazy("A member erased (their details removed)"),
}
# The test event the owner sends from the endpoint's page; no endpoint subscribes to it.
PING = "ping"


class AddressRefused(Exception):
    """The endpoint's address is not one the portal sends to."""


# Which endpoints a shop has, held with its settings.


def _endpoints(shop: Shop) -> tuple[tuple[int, bool, frozenset], ...]:
    """(id, active, events) of the shop's endpoints: no query while the shop's settings are current."""
    return shop_cached(
        shop,
        "webhooks",
        lambda s: tuple(
            (pk, active, frozenset(events))
            for pk, active, events in WebhookEndpoint.objects.filter(shop=s).values_list("pk", "active", "events")
        ),
    )


def emit(shop: Shop, event: str, data: Callable[[], dict], *, now=None) -> uuid.UUID | None:
    """Tell the shop's endpoints subscribed to ``event``, once the caller's transaction commits.
    ``data`` builds the event's data, called only when an endpoint wants it. Returns the event id,
    or None when nobody listens (then nothing was asked of the database)."""
    wanted = [pk for pk, active, events in _endpoints(shop) if active and event in events]
    if not wanted:
        return None
    return _queue(shop, event, data(), wanted, now=now)


def _queue(shop: Shop, event: str, data: dict, endpoint_ids: list[int], *, now=None) -> uuid.UUID:
    now = now or timezone.now()
    event_id = uuid.uuid4()
    payload = {"id": str(event_id), "type": event, "created": now.isoformat(), "shop": shop.slug, "data": data}
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(endpoint_id=pk, event_id=event_id, event=event, payload=payload, next_attempt_at=now,
                            created_at=now)
            for pk in endpoint_ids
        ]
    )  # fmt: skip
    for delivery in deliveries:
        enqueue(SEND_TASK, delivery.pk)
    return event_id


def member_data(member: Member) -> dict:
    """Who an event is about, as integrations need it: the member's public id, code and balances;
    never their name or contact but in ``member.joined``."""
    return {
        "id": str(member.public_id),
        "code": member.code,
        "points": member.points,
        "tier": member.tier.name if member.tier_id else None,
    }


def member_joined(member: Member, now) -> None:
    def data():
        contact = {"name": member.name, "email": member.email, "phone": member.phone,
                   "marketing_consent": member.marketing_consent, "language": member.language}  # fmt: skip
        return {"member": {**member_data(member), **contact}, "joined_from": member.joined_from}

    emit(member.shop, "member.joined", data, now=now)


def member_erased(member: Member, now) -> None:
    """Tell the endpoints the member is gone, and take their name and contact out of the
    ``member.joined`` deliveries kept in the log, so that no replay sends them again."""
    emit(member.shop, "member.erased", lambda: {"member": {"id": str(member.public_id), "code": member.code}}, now=now)
    if not _endpoints(member.shop):
        return
    joined = WebhookDelivery.objects.filter(
        endpoint__shop_id=member.shop_id, event="member.joined", payload__data__member__id=str(member.public_id)
    )
    for delivery in joined:
        person = delivery.payload["data"]["member"]
        person.update(name="", email="", phone="")
        WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=delivery.payload)


# The address rule.


def _unsafe(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _http_allowed(host: str) -> bool:
    return (settings.DEBUG or settings.WEBHOOKS_ALLOW_PRIVATE) and host in ("127.0.0.1", "localhost", "::1")


def resolve(url: str) -> tuple[str, str]:
    """(host, the address to connect to) for an endpoint's URL, or ``AddressRefused`` saying why not."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https" and not (parts.scheme == "http" and _http_allowed(host)):
        raise AddressRefused(_("The address must start with https://."))
    if not host or parts.username or parts.password:
        raise AddressRefused(_("Enter a web address with a host name and no user name or password."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        raise AddressRefused(_("This host name cannot be found.")) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in found]
    if not settings.WEBHOOKS_ALLOW_PRIVATE and any(_unsafe(ip) for ip in addresses):
        raise AddressRefused(_("This address leads to a private or local network; use a public address."))
    return host, str(addresses[0])


def address_problem(url: str) -> str | None:
    """Why the owner's form refuses ``url``, or None."""
    try:
        resolve(url)
    except AddressRefused as refused:
        return str(refused)
    return None


# Signing and sending.


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "<timestamp>.<body>" with the endpoint's secret, as Stripe signs."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def body_of(delivery: WebhookDelivery) -> bytes:
    """The request body: the same bytes for every attempt and replay of one delivery."""
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> httpx.Response:
    host, address = resolve(endpoint.url)
    parts = urlsplit(endpoint.url)
    # Connect to the address just checked, not to whatever the name resolves to a moment later; the
    # name still goes in the Host header and in TLS (SNI and the certificate's check).
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    body = body_of(delivery)
    timestamp = int(time.time())
    headers = {
        "Host": parts.netloc.rsplit("@", 1)[-1],
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Loyalty-Signature": f"t={timestamp},v1={signature(endpoint.secret, timestamp, body)}",
        "Loyalty-Event": delivery.event,
        "Loyalty-Delivery": str(delivery.event_id),
    }
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:
        return client.post(target, content=body, headers=headers, extensions={"sni_hostname": host})


def delivery_send(delivery_id: int, *, now=None) -> bool:
    """One attempt at a delivery if it is due and nobody else has claimed it. True when delivered."""
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED],
        next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS,
    ).update(status=WebhookDelivery.Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=now)  # fmt: skip
    if claimed != 1:
        return False
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    status_code, text, error = None, "", ""
    started = time.monotonic()
    try:
        if not delivery.endpoint.active:
            raise AddressRefused(_("The endpoint is turned off."))
        response = _post(delivery.endpoint, delivery)
        status_code, text = response.status_code, response.text[:RESPONSE_KEPT]
    except httpx.TimeoutException:
        error = _("No answer in time.")
    except (httpx.HTTPError, AddressRefused, OSError) as problem:
        error = str(problem)[:RESPONSE_KEPT] or problem.__class__.__name__
    duration = int((time.monotonic() - started) * 1000)
    WebhookAttempt.objects.create(
        delivery=delivery, at=now, status_code=status_code, duration_ms=duration, error=error[:RESPONSE_KEPT]
    )
    outcome = {"last_status_code": status_code, "last_response": text or error, "last_duration_ms": duration}
    if status_code is not None and 200 <= status_code < 300:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.SENT, sent_at=timezone.now(), **outcome
        )
        return True
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=now + timedelta(minutes=2**delivery.attempts), **outcome
    )
    return False


def webhooks_flush(*, now=None) -> int:
    """Beat: send what is due (broker was down, or a retry's time has come); an attempt a dead worker
    left 'sending' is failed after a while and tried again (receivers tell repeats by the event id)."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SENDING, next_attempt_at__lte=now - STUCK_AFTER
    ).update(status=WebhookDelivery.Status.FAILED, last_response="Interrupted while sending.")
    due = WebhookDelivery.objects.filter(
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED], next_attempt_at__lte=now,
        attempts__lt=MAX_ATTEMPTS,
    ).order_by("next_attempt_at").values_list("pk", flat=True)  # fmt: skip
    return sum(delivery_send(pk, now=now) for pk in list(due[:200]))


def delivery_replay(*, delivery: WebhookDelivery) -> bool:
    """The owner sends a delivered or failed event again: the same event id and body, a fresh set of
    attempts, due now. False while it waits or is being sent."""
    with transaction.atomic():
        replayed = WebhookDelivery.objects.filter(
            pk=delivery.pk, status__in=[WebhookDelivery.Status.SENT, WebhookDelivery.Status.FAILED]
        ).update(status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now())
        if replayed:
            enqueue(SEND_TASK, delivery.pk)
    return bool(replayed)


# The owner's endpoints.


def endpoint_save(
    *, shop: Shop, by: User, url: str, events: list[str], description: str = "", active: bool = True,
    endpoint: WebhookEndpoint | None = None,
) -> WebhookEndpoint:  # fmt: skip
    """Add an endpoint, or change one of the shop's. The form has checked the address."""
    unknown = set(events) - set(EVENTS)
    if unknown:
        raise ValueError(f"Unknown webhook events {sorted(unknown)}")
    with transaction.atomic():
        action = AuditEntry.Action.WEBHOOK_CHANGED
        if endpoint is None:
            endpoint = WebhookEndpoint(shop=shop, created_by=by)
            action = AuditEntry.Action.WEBHOOK_ADDED
        elif endpoint.shop_id != shop.pk:
            raise ValueError("Another shop's endpoint")
        endpoint.url, endpoint.description, endpoint.active = url, description.strip(), active
        endpoint.events = [name for name in EVENTS if name in events]
        endpoint.save()  # config.watch: the shop's settings key changes
        _audit(endpoint, by, action)
    return endpoint


def _audit(endpoint: WebhookEndpoint, by: User | None, action: str) -> None:
    """Where the shop's events go is the owner's business to trace: the host, never the path
    (which may hold a token of the receiving system)."""
    host = urlsplit(endpoint.url).hostname or ""
    AuditEntry.objects.create(shop_id=endpoint.shop_id, actor=by, action=action, subject=host[:40])


def endpoint_delete(*, endpoint: WebhookEndpoint, by: User | None = None) -> None:
    with transaction.atomic():
        _audit(endpoint, by, AuditEntry.Action.WEBHOOK_DELETED)
        endpoint.delete()


def secret_roll(*, endpoint: WebhookEndpoint, by: User | None = None) -> str:
    """A new signing secret; the old one stops working at once."""
    with transaction.atomic():
        endpoint.secret = webhook_secret()
        endpoint.save(update_fields=["secret"])
        _audit(endpoint, by, AuditEntry.Action.WEBHOOK_SECRET_ROLLED)
    return endpoint.secret


def ping_send(*, endpoint: WebhookEndpoint) -> uuid.UUID:
    """A test event to this endpoint only, whatever it subscribes to."""
    with transaction.atomic():
        return _queue(endpoint.shop, PING, {"endpoint": str(endpoint.public_id)}, [endpoint.pk])
