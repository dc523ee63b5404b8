"""A fixed-window rate limit on the shared cache (Redis in production).

A few lines instead of a library: the maintained ones do not yet accept
Django's own Redis cache backend.
"""

import hashlib
import hmac
import time

from django.conf import settings
from django.core.cache import cache


def seconds_left(period: int) -> int:
    """Seconds until the current window of ``period`` ends: what a refused client waits."""
    return max(1, period - int(time.time() % period))


def allow(key: str, *, limit: int, period: int, count: bool = True) -> bool:
    """Count one hit for ``key``; False once more than ``limit`` hits fall in this window. With
    ``count=False``, only whether the window still has room (hits counted elsewhere, e.g. failures)."""
    window = int(time.time() // period)
    cache_key = f"ratelimit:{key}:{window}"
    if not count:
        return (cache.get(cache_key) or 0) < limit
    cache.add(cache_key, 0, timeout=period + 5)
    try:
        hits = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, timeout=period + 5)
        hits = 1
    return hits <= limit


def client_ip(request) -> str:
    """The client's network address. Behind our proxy (``BEHIND_PROXY``) REMOTE_ADDR is the proxy
    itself; the address is then the last X-Forwarded-For entry, the one the proxy wrote (anything a
    client put before it is ignored). Without a proxy the header is not trusted at all."""
    if getattr(settings, "BEHIND_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR", "")


def address_key(request) -> str:
    """The request's network address as a short keyed hash: the same address gives the same key,
    and the key gives nothing back."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"address:{client_ip(request)}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]
