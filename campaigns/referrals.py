"""Referral links: signed, so nobody can forge one for another member or another shop.

The link carries a signature of the member's public id, never the member
code that staff type at the counter."""

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from members.models import Member, Shop

from .models import Campaign, Reach

SALT = "campaigns.referral"


def referral_token(member: Member) -> str:
    return signing.dumps(str(member.public_id), salt=SALT)


def referral_url(member: Member) -> str:
    return f"{settings.SITE_URL}{reverse('members:join', args=[member.shop.slug])}?ref={referral_token(member)}"


def referrer_from_token(shop: Shop, token: str) -> Member | None:
    """The member of ``shop`` who shared the link, or None for anything else."""
    if not token:
        return None
    try:
        public_id = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    return Member.objects.filter(shop=shop, public_id=public_id).first()


def referral_offer(member: Member) -> dict | None:
    """What the card shows: the member's link, the running referral campaign, friends rewarded so far."""
    now = timezone.now()
    campaign = (
        Campaign.objects.filter(shop_id=member.shop_id, kind=Campaign.Kind.REFERRAL, is_active=True)
        .exclude(starts_at__gt=now)
        .exclude(ends_at__lte=now)
        .select_related("gift_program")
        .first()
    )
    if campaign is None:
        return None
    rewarded = Reach.objects.filter(campaign=campaign, member=member, occasion__startswith="friend:").count()
    return {
        "campaign": campaign,
        "url": referral_url(member),
        "rewarded": rewarded,
        "left": max(campaign.referral_limit - rewarded, 0),
    }
