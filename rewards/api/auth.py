"""Who is asking: the API key in ``Authorization: Bearer lk_...``, its shop, its scope and its rate.

The checks run in this order, each with its own status: no key, a malformed, unknown or revoked
one: 401; past the key's requests per minute: 429 with Retry-After; a shop in the path that is not
the key's: 404, the same answer as a shop that does not exist; a scope too low: 403.
"""

from contextlib import contextmanager

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from members import ratelimit

from ..models import API_KEY, ApiKey
from .keys import key_for, key_used


class ApiError(Exception):
    """A refusal with its status, machine code and message (rendered by ``rewards.api``)."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict | None = None, errors=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, str(message)
        self.headers = headers or {}
        self.errors = errors


def not_found() -> ApiError:
    return ApiError(404, "not_found", _("Not found."))


class KeyAuth(HttpBearer):
    """An API key allowed ``scope`` (or more) at the shop the path names."""

    def __init__(self, scope: str):
        super().__init__()
        self.scope = scope

    def __call__(self, request):
        key = super().__call__(request)
        if key is None:
            raise ApiError(401, "unauthorized", _("Send a live API key: Authorization: Bearer lk_..."))
        return key

    def authenticate(self, request, token: str) -> ApiKey | None:
        key = key_for(token)
        if key is None:
            return None
        if not ratelimit.allow(f"api:{key.pk}", limit=settings.API_REQUESTS_PER_MINUTE, period=60):
            wait = ratelimit.seconds_left(60)
            message = _("Too many requests with this key: wait %(seconds)s seconds.") % {"seconds": wait}
            raise ApiError(429, "rate_limited", message, headers={"Retry-After": str(wait)})
        if request.resolver_match.kwargs.get("shop_slug") != key.shop.slug:
            raise not_found()
        if not key.allows(self.scope):
            with translation.override(key.shop.language):
                message = _("This key may not do this: it needs the %(scope)s scope.") % {"scope": self.scope}
            raise ApiError(403, "forbidden", message)
        key_used(key)
        return key


READ = KeyAuth(ApiKey.Scope.READ)
COUNTER = KeyAuth(ApiKey.Scope.COUNTER)
ADMIN = KeyAuth(ApiKey.Scope.ADMIN)


@contextmanager
def acting(key: ApiKey):
    """Around an endpoint's work: the shop's language and time zone, and the key recorded on every
    ledger row written (``LedgerEntry.api_key``), the actor the owner's history names."""
    token = API_KEY.set(key.pk)
    try:
        with translation.override(key.shop.language), timezone.override(key.shop.tz):
            yield key.shop
    finally:
        API_KEY.reset(token)
