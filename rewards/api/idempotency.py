"""Writes with an ``Idempotency-Key`` header: the first answer is kept for a day, and a retry with
the same key and the same request gets exactly that answer again, nothing done twice (as Stripe
does). The same key with another request is refused with 422.

The service's own idempotency key (the ledger's, which the counter uses too) is derived from the
header, so two retries racing each other still act once: the service replays the twin's result
under the member's lock, and the second answer to be stored finds the first and returns it.
"""

import hashlib
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from members.errors import LoyaltyError

from ..models import ApiKey, ApiRequest
from .auth import ApiError, acting

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
REFUSED = 409


def _fingerprint(request) -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def service_key(key: ApiKey, header: str | None) -> str:
    """The ledger's idempotency key for this write (it fits the ledger's 64 characters)."""
    if not header:
        return uuid.uuid4().hex
    return "api-" + hashlib.sha256(f"{key.pk}:{header}".encode()).hexdigest()[:40]


def _answer(status: int, body: dict, *, replayed: bool = False) -> JsonResponse:
    response = JsonResponse(body, status=status)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def perform(request, action: Callable[[str], tuple[int, dict]]) -> JsonResponse:
    """Run a write once: ``action(service_key)`` returns (status, body) or raises LoyaltyError
    (a refusal: 409) or ApiError. A refusal is kept too: a retry gets it again, as Stripe does."""
    key: ApiKey = request.auth
    header = request.headers.get(HEADER)
    if header is not None and not (0 < len(header) <= 255 and header.isprintable()):
        raise ApiError(400, "bad_idempotency_key", _("The Idempotency-Key header is 1 to 255 printable characters."))
    fingerprint = _fingerprint(request)
    if header:
        done = ApiRequest.objects.filter(api_key=key, idempotency_key=header).first()
        if done is not None:
            return _replay(done, fingerprint)
    with acting(key):
        try:
            with transaction.atomic():
                status, body = action(service_key(key, header))
                if header:
                    stored = _store(key, header, fingerprint, status, body)
                    if stored is not None:
                        return _replay(stored, fingerprint)
            return _answer(status, body)
        except LoyaltyError as error:
            status, body = REFUSED, {"code": str(error.code), "message": str(error.message), "errors": None}
    if header:
        with transaction.atomic():
            stored = _store(key, header, fingerprint, status, body)
        if stored is not None:
            return _replay(stored, fingerprint)
    return _answer(status, body)


def _store(key: ApiKey, header: str, fingerprint: str, status: int, body: dict) -> ApiRequest | None:
    """Keep the answer; None when stored, or the answer a concurrent twin stored first."""
    try:
        with transaction.atomic():
            ApiRequest.objects.create(
                api_key=key, idempotency_key=header, fingerprint=fingerprint, status_code=status, response=body
            )
    except IntegrityError:
        return ApiRequest.objects.get(api_key=key, idempotency_key=header)
    return None


def _replay(done: ApiRequest, fingerprint: str) -> JsonResponse:
    if done.fingerprint != fingerprint:
        raise ApiError(
            422, "idempotency_key_reused",
            _("This Idempotency-Key was used for another request. Use a new key for a new request."),
        )  # fmt: skip
    return _answer(done.status_code, done.response, replayed=True)


def purge(now=None) -> int:
    """Forget kept answers older than a day (a daily beat task)."""
    deleted, _by_model = ApiRequest.objects.filter(created_at__lt=(now or timezone.now()) - KEEP).delete()
    return deleted
