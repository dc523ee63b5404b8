"""A shop's API keys: made by the owner and shown once, kept as a hash, revoked, and found again
from what a request presents."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.errors import Code, LoyaltyError
from members.models import AuditEntry, Shop, User
from members.tenancy import staff_may

from ..models import ApiKey

# lk_<prefix>_<secret>: the prefix names the key in lists and finds its row; the secret is 32
# random bytes, so a plain SHA-256 of the whole key is enough to keep (nothing to brute-force).
KEY_START = "lk_"
SECRET_BYTES = 32
# last_used_at is written at most this often per key, not on every request.
LAST_USED_EVERY = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(*, shop: Shop, name: str, scope: str, by: User) -> tuple[ApiKey, str]:
    """A new key of ``shop`` and its secret, which is returned here once and never kept."""
    if not staff_may(shop, by, "api.manage"):
        raise LoyaltyError(_("Only an owner can manage API keys."), code=Code.NOT_ALLOWED)
    if scope not in ApiKey.Scope.values:
        raise LoyaltyError(_("Choose what the key may do."), code=Code.NOT_ALLOWED)
    prefix = secrets.token_hex(4)
    full = f"{KEY_START}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            shop=shop, name=name.strip()[:60], prefix=prefix, hash=_digest(full), scope=scope, created_by=by
        )
        AuditEntry.objects.create(
            shop=shop, actor=by, action=AuditEntry.Action.API_KEY_CREATED, subject=prefix, note=key.name
        )
    return key, full


def api_key_revoke(*, key: ApiKey, by: User) -> ApiKey:
    """Revoke a key at once: its next request is refused. Revoking twice changes nothing."""
    if not staff_may(key.shop, by, "api.manage"):
        raise LoyaltyError(_("Only an owner can manage API keys."), code=Code.NOT_ALLOWED)
    with transaction.atomic():
        if ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
            AuditEntry.objects.create(
                shop_id=key.shop_id, actor=by, action=AuditEntry.Action.API_KEY_REVOKED, subject=key.prefix,
                note=key.name,
            )  # fmt: skip
    key.refresh_from_db(fields=["revoked_at"])
    return key


def key_for(presented: str) -> ApiKey | None:
    """The live key a request presents (its shop with it, in one query), or None: malformed,
    unknown, wrong secret and revoked are all the same None."""
    if not presented.startswith(KEY_START) or presented.count("_") < 2:
        return None
    prefix = presented[len(KEY_START) :].split("_", 1)[0]
    if not prefix or len(prefix) > 16:
        return None
    key = ApiKey.objects.select_related("shop").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.hash, _digest(presented)) or key.revoked_at is not None:
        return None
    return key


def key_used(key: ApiKey) -> None:
    """Record the key's use, at most once a minute (a busy till sends many requests a minute)."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
