"""What the card shows of a running referral campaign. The signed links themselves are
members' (``members.tokens``): the join page reads them below campaigns."""

from django.utils import timezone

from members.models import Member
from members.tokens import referral_url

from .models import Campaign, Reach


def referral_offer(member: Member) -> dict | None:
    """What the card shows: the member's link, the running referral campaign, friends rewarded so far."""
    now = timezone.now()
    campaign = (
        Campaign.objects.running(member.shop_id, Campaign.Kind.REFERRAL, now).select_related("gift_program").first()
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
