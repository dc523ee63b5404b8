"""The member's card in Apple Wallet: the ``.pkpass`` download from the card, and the PassKit web
service Apple's wallets call (Apple's documented protocol, under ``/passkit/v1/``): they register
a device for a pass's updates, ask which of its passes changed, fetch the latest version of one,
unregister, and send us their error log.

The web service has no session and no CSRF token: a wallet proves itself with the pass's
authentication token (``Authorization: ApplePass <token>``), which only the signed pass holds.
"""

import json
import logging
import re
import secrets
from datetime import UTC, datetime

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members.tokens import member_from_card_token

from .. import passkit
from ..models import WalletDevice, WalletPass
from ..services import wallet

logger = logging.getLogger(__name__)

APPLE = WalletPass.Kind.APPLE
# Serials, tokens, device ids and push tokens, as the wallet's log messages may quote them.
TOKENS = re.compile(r"[A-Za-z0-9_-]{16,}")


def _configured() -> bool:
    return APPLE in wallet.issuers()


def _pkpass(wallet_pass: WalletPass) -> HttpResponse:
    response = HttpResponse(passkit.bundle(wallet_pass), content_type=passkit.CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="card.pkpass"'
    response["Last-Modified"] = http_date(_modified(wallet_pass).timestamp())
    return response


def _modified(wallet_pass: WalletPass) -> datetime:
    """When what the pass shows last changed: its balances, or its revocation (it shows as void)."""
    return max(wallet_pass.updated_at, wallet_pass.revoked_at or wallet_pass.updated_at)


@never_cache
@require_GET
def card_wallet_apple(request, token):
    """The member's card as an Apple Wallet pass. A member who already holds a live one gets the same
    pass again (downloading it twice must not void the first copy); else a new one is issued."""
    if not _configured():
        raise Http404
    member = member_from_card_token(token)
    if member is None:
        raise Http404
    held = wallet.pass_held_or_issued(member=member, kind=APPLE)
    held.member = member
    return _pkpass(held)


# The PassKit web service.


def _pass_for(request, pass_type: str, serial: str) -> WalletPass | None:
    """The Apple pass the request names and proves with its authentication token; None if the token is
    wrong. 404 for an installation without Apple Wallet, another pass type or an unknown serial."""
    if not _configured() or pass_type != settings.WALLET_APPLE_PASS_TYPE_ID:
        raise Http404
    found = WalletPass.objects.select_related("member__shop", "member__tier").filter(kind=APPLE, serial=serial).first()
    if found is None:
        raise Http404
    scheme, _space, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme != "ApplePass" or not secrets.compare_digest(presented.strip().encode(), found.auth_token.encode()):
        return None
    return found


def _unauthorised() -> HttpResponse:
    return HttpResponse(status=401)


@csrf_exempt
@require_http_methods(["POST", "DELETE"])
def passkit_registration(request, device, pass_type, serial):
    """A device registers for a pass's updates (201 new, 200 already), or unregisters (200)."""
    held = _pass_for(request, pass_type, serial)
    if held is None:
        return _unauthorised()
    if request.method == "DELETE":
        WalletDevice.objects.filter(device_library_id=device, wallet_pass=held).delete()
        return HttpResponse(status=200)
    try:
        push_token = str(json.loads(request.body or b"{}").get("pushToken", ""))[:200]
    except (ValueError, AttributeError):
        return HttpResponse(status=400)
    if not push_token:
        return HttpResponse(status=400)
    _device, created = WalletDevice.objects.update_or_create(
        device_library_id=device[:128], wallet_pass=held, defaults={"push_token": push_token}
    )
    return HttpResponse(status=201 if created else 200)


def _tag(moment: datetime) -> str:
    """``lastUpdated``: an opaque string to the wallet; to us, microseconds since the epoch."""
    return str(int(moment.timestamp() * 1_000_000))


def _since(tag: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(tag) / 1_000_000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


@csrf_exempt
@require_GET
def passkit_serials(request, device, pass_type):
    """The serial numbers of the device's passes that changed since ``passesUpdatedSince``
    (all of them without it): 200 with them and a new tag, 204 when none did."""
    if not _configured() or pass_type != settings.WALLET_APPLE_PASS_TYPE_ID:
        raise Http404
    since = _since(request.GET.get("passesUpdatedSince", ""))
    registered = WalletPass.objects.filter(kind=APPLE, devices__device_library_id=device).only(
        "serial", "updated_at", "revoked_at"
    )
    changed = [held for held in registered if since is None or _modified(held) > since]
    if not changed:
        return HttpResponse(status=204)
    return JsonResponse(
        {
            "serialNumbers": sorted(held.serial for held in changed),
            "lastUpdated": _tag(max(_modified(held) for held in changed)),
        }
    )


@csrf_exempt
@require_GET
def passkit_pass(request, pass_type, serial):
    """The latest version of a pass: 200 with it and its Last-Modified, 304 when the wallet's copy is
    as new (If-Modified-Since), 401 for a wrong token. A revoked pass comes back marked void."""
    held = _pass_for(request, pass_type, serial)
    if held is None:
        return _unauthorised()
    modified = int(_modified(held).timestamp())
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    if since is not None and modified <= since:
        return HttpResponse(status=304)
    return _pkpass(held)


@csrf_exempt
@require_POST
def passkit_log(request):
    """Errors the wallet reports about our passes or service: logged at info level, with anything
    that looks like a serial, token or device id blanked out (nothing personal is in them else)."""
    try:
        logs = json.loads(request.body or b"{}").get("logs", [])
    except (ValueError, AttributeError):
        logs = []
    if isinstance(logs, list):
        for message in logs[:10]:
            logger.info("Apple Wallet: %s", TOKENS.sub("…", str(message))[:300])
    return HttpResponse(status=200)
