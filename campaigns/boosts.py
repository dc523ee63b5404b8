"""Member days and happy hours: which multiplier applies to a member at a moment, in the shop's time.

Decided at the moment a stamp or purchase is recorded, under the member
lock: a member day that starts while the panel is open applies to the
stamp given after it started, and one that ended does not."""

from datetime import datetime, time
from decimal import ROUND_FLOOR, Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from members.config import shop_cached
from members.models import Member

from .audience import in_audience
from .models import Campaign, Reach


def _load(shop) -> tuple[Campaign, ...]:
    kind = Campaign.Kind.BOOST
    return tuple(Campaign.objects.filter(shop=shop, kind=kind, is_active=True, multiplier__isnull=False))


def running(shop, now: datetime) -> list[Campaign]:
    """The shop's multipliers on at ``now``, from its settings held in this process (``members.config``):
    the counter asks on every look-up and stamp, and the answer changes only when a campaign does."""
    return [campaign for campaign in shop_cached(shop, "boosts", _load) if campaign.is_running(now)]


def is_on(campaign: Campaign, local: datetime) -> bool:
    """Whether the campaign's days and hours include ``local``, a time in the shop's zone."""
    if campaign.on_date and local.date() != campaign.on_date:
        return False
    if campaign.weekdays and str(local.weekday()) not in campaign.weekdays:
        return False
    if campaign.hours_from is None and campaign.hours_to is None:
        return True
    start, end, now = campaign.hours_from or time.min, campaign.hours_to, local.time()
    if end is None:
        return now >= start
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # e.g. 22:00 to 02:00, across midnight


def boosts_for(member: Member, now: datetime, campaigns=None) -> list[Campaign]:
    """Multipliers that apply to this member now, highest first."""
    campaigns = running(member.shop, now) if campaigns is None else campaigns
    local = timezone.localtime(now, member.shop.tz)
    found = [c for c in campaigns if is_on(c, local) and in_audience(c, member)]
    return sorted(found, key=lambda c: c.multiplier, reverse=True)


def applies_to(campaign: Campaign, what: str) -> bool:
    return campaign.multiplies in (Campaign.Multiplies.BOTH, what)


def bonus(campaign: Campaign, base: int) -> int:
    """What the multiplier adds to ``base``: x2 on 3 stamps adds 3; x1.5 on 3 adds 1 (rounded down)."""
    return int((Decimal(base) * (campaign.multiplier - 1)).to_integral_value(rounding=ROUND_FLOOR))


def boost_locked(*, member: Member, what: str, now: datetime) -> Campaign | None:
    """The best multiplier for stamps or points now; records that it reached the member today.
    The caller holds the member lock."""
    best = next((c for c in boosts_for(member, now) if applies_to(c, what)), None)
    if best is not None:
        local_day = timezone.localtime(now, member.shop.tz).date().isoformat()
        try:
            with transaction.atomic():
                Reach.objects.create(
                    shop_id=member.shop_id, campaign=best, member_id=member.pk, occasion=local_day, created_at=now
                )
        except IntegrityError:
            pass  # already counted today
    return best
