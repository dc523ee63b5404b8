"""Google Wallet: the member's card as a loyalty pass, saved with a "Save to Google Wallet" link.

The link carries a JWT signed (RS256) with the installation's service account key: it holds the
shop's loyalty class (one per shop) and the member's loyalty object (one per pass), so nothing is
created at Google until the member saves it. The pass shows the member's points, the stamps of the
shop's first card, their tier, and the pass's own barcode (``W:...``), never the member code: a
revoked pass's barcode then finds nobody at the counter.

When balances change, the worker brings a saved pass up to date through the Wallet REST API
(``object_update``), with an access token from the same service account (a JWT bearer grant).

Signed with PyJWT (pinned in requirements.txt): a small, well-kept library over ``cryptography``,
already installed; it checks the key type and algorithm for us, and the tests verify tokens with it.
"""

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from urllib.parse import urljoin

import jwt
from django.conf import settings
from django.templatetags.static import static
from django.utils.translation import gettext as _

from members.models import Member, Shop

from .models import WalletPass
from .reads import cards, stamps_by_program, usable_vouchers

SAVE_URL = "https://pay.google.com/gp/v/save/"
# The scope the Wallet REST API asks of an issuer's service account.
SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
TIMEOUT_SECONDS = 10


def service_account() -> dict:
    """The service account's key file (JSON: client_email, private_key, token_uri)."""
    with open(settings.WALLET_GOOGLE_SERVICE_ACCOUNT_FILE, encoding="utf-8") as key_file:
        return json.load(key_file)


def class_id(shop: Shop) -> str:
    """The shop's class, for good: a shop has no public id, and its slug may change (the number only
    tells Google and the member how many shops came before it)."""
    return f"{settings.WALLET_GOOGLE_ISSUER_ID}.shop-{shop.pk}"


def object_id(wallet_pass: WalletPass) -> str:
    return f"{settings.WALLET_GOOGLE_ISSUER_ID}.{wallet_pass.serial}"


def _absolute(url: str) -> str:
    return urljoin(settings.SITE_URL + "/", url)


def _logo_url(shop: Shop) -> str:
    """The shop's logo, or the portal's icon when it has none (Google fetches it: an absolute URL)."""
    if shop.logo:
        try:
            return _absolute(shop.logo.url)
        except ValueError:
            pass
    return _absolute(static("icons/icon-512.png"))


def loyalty_class(shop: Shop) -> dict:
    """The shop's loyalty class: its name, colour and logo, shared by the passes of its members."""
    return {
        "id": class_id(shop),
        "issuerName": shop.name,
        "programName": shop.name,
        "programLogo": {"sourceUri": {"uri": _logo_url(shop)}, "contentDescription": _text(shop.name)},
        "hexBackgroundColor": shop.brand_colour,
        "reviewStatus": "UNDER_REVIEW",
    }


def _text(value: str) -> dict:
    return {"defaultValue": {"language": "en-US", "value": value}}


def loyalty_object(wallet_pass: WalletPass) -> dict:
    """What the member's pass shows: points, the first card's stamps, tier, vouchers and the barcode."""
    member: Member = wallet_pass.member
    shop = member.shop
    found = {
        "id": object_id(wallet_pass),
        "classId": class_id(shop),
        "state": "ACTIVE",
        # The pass's own code, not the member code: revoking the pass makes it worthless.
        "accountId": wallet_pass.barcode,
        "accountName": member.name,
        "loyaltyPoints": {"label": _("Points"), "balance": {"int": member.points}},
        "barcode": {"type": "QR_CODE", "value": wallet_pass.barcode, "alternateText": wallet_pass.barcode},
    }
    held = cards(shop, stamps_by_program(member))
    if held:
        first = held[0]
        found["secondaryLoyaltyPoints"] = {"label": first.program.name, "balance": {"int": first.stamps}}
    modules = []
    if len(held) > 1:
        modules.append(
            {
                "id": "cards",
                "header": _("Stamps"),
                "body": "\n".join(f"{card.program.name}: {card.stamps}/{card.program.stamps_needed}" for card in held),
            }
        )
    if member.tier_id:
        modules.append({"id": "tier", "header": _("Tier"), "body": member.tier.name})
    vouchers = usable_vouchers(member)
    if vouchers:
        modules.append({"id": "vouchers", "header": _("Vouchers"), "body": "\n".join(v.title for v in vouchers)})
    if modules:
        found["textModulesData"] = modules
    return found


def _sign(claims: dict, key: dict) -> str:
    headers = {"kid": key["private_key_id"]} if key.get("private_key_id") else None
    return jwt.encode(claims, key["private_key"], algorithm="RS256", headers=headers)


def save_link(wallet_pass: WalletPass) -> str:
    """The "Save to Google Wallet" link of a pass: Google's save page with the signed pass in it."""
    key = service_account()
    claims = {
        "iss": key["client_email"],
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(time.time()),
        "origins": [settings.SITE_URL],
        "payload": {
            "loyaltyClasses": [loyalty_class(wallet_pass.member.shop)],
            "loyaltyObjects": [loyalty_object(wallet_pass)],
        },
    }
    return SAVE_URL + _sign(claims, key)


def access_token(key: dict) -> str:
    """An OAuth access token for the Wallet REST API: the service account's signed assertion traded
    at its token URI (the JWT bearer grant)."""
    now = int(time.time())
    assertion = _sign(
        {"iss": key["client_email"], "scope": SCOPE, "aud": key["token_uri"], "iat": now, "exp": now + 3600}, key
    )
    body = urllib.parse.urlencode(
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the token URI of our own key file
        key["token_uri"], data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        return json.load(response)["access_token"]


def object_update(wallet_pass: WalletPass) -> int:
    """Bring a saved pass up to date (balances, tier, vouchers): PATCH its loyalty object. Returns the
    HTTP status; 404 when the member never saved the pass (nothing to update)."""
    key = service_account()
    url = f"{settings.WALLET_GOOGLE_API_URL.rstrip('/')}/walletobjects/v1/loyaltyObject/{object_id(wallet_pass)}"
    body = loyalty_object(wallet_pass)
    if wallet_pass.revoked_at is not None:
        body["state"] = "INACTIVE"
    request = urllib.request.Request(  # noqa: S310 - settings.WALLET_GOOGLE_API_URL
        url,
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"Authorization": f"Bearer {access_token(key)}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return 404
        raise
