"""Signed identifiers that leave the server: card links, member QR codes, invitation, referral
and unsubscribe links.

Neither carries a primary key, an e-mail address or a phone number. The card
link never expires (it is the member's key to their card); the QR payload
carries a timestamp and is refused at the counter once it is a few minutes
old, so a screenshot passed around cannot collect stamps.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from .models import Invitation, Member, Shop

CARD_SALT = "members.card"
INVITATION_SALT = "members.invitation"
# Salts keep the names they were first signed with: links already sent stay valid.
REFERRAL_SALT = "campaigns.referral"
UNSUBSCRIBE_SALT = "campaigns.unsubscribe"


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


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(str(invitation.id), salt=INVITATION_SALT)


def invitation_from_token(token: str) -> Invitation | None:
    """The pending invitation a link points at, or None if forged, altered or expired."""
    max_age = timedelta(days=settings.INVITATION_MAX_AGE_DAYS)
    try:
        invitation_id = signing.loads(token, salt=INVITATION_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    return (
        Invitation.objects.select_related("shop", "invited_by")
        .filter(id=invitation_id, expires_at__gt=timezone.now())
        .first()
    )


# Referral links carry a signature of the member's public id, never the member code that staff
# type at the counter, so nobody can forge one for another member or another shop.


def referral_token(member: Member) -> str:
    return signing.dumps(str(member.public_id), salt=REFERRAL_SALT)


def referral_url(member: Member) -> str:
    return f"{settings.SITE_URL}{reverse('members:join', args=[member.shop.slug])}?ref={referral_token(member)}"


def referrer_from_token(shop: Shop, token: str) -> Member | None:
    """The member of ``shop`` who shared the link, or None for anything else."""
    if not token:
        return None
    try:
        public_id = signing.loads(token, salt=REFERRAL_SALT)
    except signing.BadSignature:
        return None
    return Member.objects.filter(shop=shop, public_id=public_id).first()


def unsubscribe_token(member: Member) -> str:
    return signing.dumps(str(member.public_id), salt=UNSUBSCRIBE_SALT)


def member_from_unsubscribe_token(token: str) -> Member | None:
    try:
        public_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return Member.objects.select_related("shop").filter(public_id=public_id).first()


def unsubscribe_url(member: Member) -> str:
    return settings.SITE_URL + reverse("members:unsubscribe", args=[unsubscribe_token(member)])
