"""A fixed-window rate limit on the shared cache (Redis in production).

A few lines instead of a library: the maintained ones do not yet accept
Django's own Redis cache backend.
"""

import hashlib
import hmac
import time

from django.conf import settings
from django.core.cache import cache


def allow(key: str, *, limit: int, period: int) -> bool:
    """Count one hit for ``key``; False once more than ``limit`` hits fall in this window."""
    window = int(time.time() // period)
    cache_key = f"ratelimit:{key}:{window}"
    cache.add(cache_key, 0, timeout=period + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, timeout=period + 5)
        count = 1
    return count <= limit


def client_ip(request) -> str:
    # Behind a proxy, REMOTE_ADDR is the proxy; gunicorn's --forwarded-allow-ips
    # and the proxy set it right, so nothing here trusts X-Forwarded-For itself.
    return request.META.get("REMOTE_ADDR", "")


def address_key(request) -> str:
    """The request's network address as a short keyed hash: the same address gives the same key,
    and the key gives nothing back."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"address:{client_ip(request)}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]
