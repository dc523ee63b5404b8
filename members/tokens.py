"""Signed identifiers that leave the server: card links and member QR codes.

Neither carries a primary key, an e-mail address or a phone number. The card
link never expires (it is the member's key to their card); the QR payload
carries a timestamp and is refused at the counter once it is a few minutes
old, so a screenshot passed around cannot collect stamps.
"""

from django.conf import settings
from django.core import signing

from .models import Member, Shop

CARD_SALT = "members.card"


def card_token(member: Member) -> str:
    return signing.dumps(str(member.public_id), salt=CARD_SALT)


def member_from_card_token(token: str) -> Member | None:
    try:
        public_id = signing.loads(token, salt=CARD_SALT)
    except signing.BadSignature:
        return None
    return Member.objects.select_related("shop", "tier").filter(public_id=public_id).first()


def _qr_signer(shop_id: int) -> signing.TimestampSigner:
    # Salted per shop: another shop's code fails the signature.
    return signing.TimestampSigner(salt=f"members.qr.{shop_id}")


def member_qr_payload(member: Member) -> str:
    return _qr_signer(member.shop_id).sign(member.code)


class QRCodeExpired(Exception):
    pass


def member_code_from_qr(shop: Shop, payload: str) -> str | None:
    """The member code in a scanned payload; None if it is not one of this shop's codes."""
    try:
        return _qr_signer(shop.pk).unsign(payload, max_age=settings.MEMBER_QR_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise QRCodeExpired from None
    except signing.BadSignature:
        return None
