"""A member's card as an Apple Wallet store card: the signed ``.pkpass`` bundle for a ``WalletPass``.

A bundle is a zip of ``pass.json`` (what the pass shows, in the member's language), its images, a
``manifest.json`` naming the SHA-1 of every file, and ``signature``: a detached PKCS #7 signature
of the manifest in DER, made with the installation's pass certificate and carrying Apple's WWDR
intermediate certificate, as Apple's own ``openssl smime -sign -binary -outform DER`` makes it
(with its signing time). The wallet keeps asking our PassKit web service (rewards.views.wallet)
for a newer bundle when what the pass shows changes.
"""

import hashlib
import io
import json
import zipfile
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from .config import shop_rewards
from .models import WalletPass
from .reads import cards, stamps_by_program, usable_vouchers

CONTENT_TYPE = "application/vnd.apple.pkpass"
# Apple's sizes in points: the icon 29 x 29, the logo at most 160 x 50 (each also at twice that).
ICON = (29, 29)
LOGO = (160, 50)


def web_service_url() -> str:
    """Where wallets reach our PassKit web service (they append ``v1/...``)."""
    return settings.SITE_URL + "/passkit/"


def rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def css_rgb(colour: tuple[int, int, int]) -> str:
    return "rgb({}, {}, {})".format(*colour)


def readable_on(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """White or near-black, whichever reads better on ``colour`` (WCAG relative luminance)."""

    def channel(value: int) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in colour)
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    # Contrast with white (1.05 / (L + 0.05)) against contrast with black ((L + 0.05) / 0.05).
    return (255, 255, 255) if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 else (17, 17, 17)


def _fields(member) -> dict:
    """What the store card shows: points (or the first card's stamps) large, the cards and the tier
    under them, and the rewards ready to use."""
    shop = member.shop
    shown = cards(shop, stamps_by_program(member))
    rule = shop_rewards(shop).active_rule
    stamp_fields = [
        {
            "key": f"card-{card.program.pk}",
            "label": card.program.name,
            "value": f"{card.stamps}/{card.program.stamps_needed}",
            "changeMessage": _("%(card)s: %%@ stamps") % {"card": card.program.name},
        }
        for card in shown
    ]
    if rule or not stamp_fields:
        primary = [{"key": "points", "label": _("Points"), "value": member.points, "changeMessage": _("Points: %@")}]
    else:
        primary, stamp_fields = stamp_fields[:1], stamp_fields[1:]
    secondary = stamp_fields[:3]
    if member.tier_id:
        secondary = [*stamp_fields[:2], {"key": "tier", "label": _("Tier"), "value": member.tier.name}]
    vouchers = len(usable_vouchers(member))
    auxiliary = [
        {"key": "vouchers", "label": _("Rewards to use"), "value": vouchers, "changeMessage": _("Rewards to use: %@")}
    ]
    back = [
        {
            "key": "how",
            "label": _("How it works"),
            "value": _(
                "Show this pass at the counter to collect stamps and points and to use your rewards. "
                "It updates itself when your balance changes. Lost your phone? Revoke the pass from your card."
            ),
        },
        {
            "key": "shop",
            "label": shop.name,
            "value": settings.SITE_URL + reverse("members:join", args=[shop.slug]),
        },
    ]
    return {
        "primaryFields": primary,
        "secondaryFields": secondary,
        "auxiliaryFields": auxiliary,
        "backFields": back,
    }


def pass_json(wallet_pass: WalletPass) -> dict:
    """The pass's ``pass.json``, in the member's language."""
    member = wallet_pass.member
    shop = member.shop
    background = rgb(shop.brand_colour)
    foreground = readable_on(background)
    with translation.override(member.language or shop.language):
        document = {
            "formatVersion": 1,
            "passTypeIdentifier": settings.WALLET_APPLE_PASS_TYPE_ID,
            "teamIdentifier": settings.WALLET_APPLE_TEAM_ID,
            "serialNumber": wallet_pass.serial,
            "authenticationToken": wallet_pass.auth_token,
            "webServiceURL": web_service_url(),
            "organizationName": shop.name,
            "description": _("%(shop)s loyalty card") % {"shop": shop.name},
            "logoText": shop.name,
            "backgroundColor": css_rgb(background),
            "foregroundColor": css_rgb(foreground),
            "labelColor": css_rgb(foreground),
            "storeCard": _fields(member),
            "barcodes": [
                {
                    "format": "PKBarcodeFormatQR",
                    "message": wallet_pass.barcode,
                    "messageEncoding": "iso-8859-1",
                    "altText": _("Wallet pass"),
                }
            ],
        }
    if wallet_pass.revoked_at is not None:
        # Revoked from the card: the wallet shows the pass as void (its barcode finds nobody anyway).
        document["voided"] = True
    return document


def _png(source: Image.Image, box: tuple[int, int]) -> bytes:
    image = source.copy()
    image.thumbnail(box, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _source_image(shop) -> Image.Image:
    """The shop's logo, or the portal's icon when there is none or it cannot be read."""
    if shop.logo:
        try:
            with shop.logo.open("rb") as handle:
                image = Image.open(handle)
                image.load()
            return image.convert("RGBA")
        except (OSError, ValueError, UnidentifiedImageError):
            pass
    with Image.open(finders.find("icons/icon-192.png")) as image:
        image.load()
        return image.convert("RGBA")


def images(shop) -> dict[str, bytes]:
    source = _source_image(shop)
    return {
        "icon.png": _png(source, ICON),
        "icon@2x.png": _png(source, (ICON[0] * 2, ICON[1] * 2)),
        "logo.png": _png(source, LOGO),
        "logo@2x.png": _png(source, (LOGO[0] * 2, LOGO[1] * 2)),
    }


@cache
def _credentials(cert_file: str, key_file: str, password: str, wwdr_file: str):
    """The pass certificate, its key and Apple's WWDR certificate (PEM, or DER for the certificates)."""

    def certificate(path: str) -> x509.Certificate:
        with open(path, "rb") as handle:
            data = handle.read()
        return x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)

    with open(key_file, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=password.encode() or None)
    return certificate(cert_file), key, certificate(wwdr_file) if wwdr_file else None


def sign(manifest: bytes) -> bytes:
    """A detached PKCS #7 signature of ``manifest`` in DER, with the signing time and the WWDR certificate."""
    cert, key, wwdr = _credentials(
        settings.WALLET_APPLE_CERT_FILE,
        settings.WALLET_APPLE_KEY_FILE,
        settings.WALLET_APPLE_KEY_PASSWORD,
        settings.WALLET_APPLE_WWDR_FILE,
    )
    builder = pkcs7.PKCS7SignatureBuilder().set_data(manifest).add_signer(cert, key, hashes.SHA256())
    if wwdr is not None:
        builder = builder.add_certificate(wwdr)
    options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    return builder.sign(serialization.Encoding.DER, options)


def bundle(wallet_pass: WalletPass) -> bytes:
    """The signed ``.pkpass`` of a pass, as the wallet downloads it."""
    member = wallet_pass.member
    files = {
        "pass.json": json.dumps(pass_json(wallet_pass), ensure_ascii=False, indent=1).encode(),
        **images(member.shop),
    }
    manifest = json.dumps({name: hashlib.sha1(data).hexdigest() for name, data in files.items()}, indent=1).encode()  # noqa: S324 - Apple's manifest format
    files["manifest.json"] = manifest
    files["signature"] = sign(manifest)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()
