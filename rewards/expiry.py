"""Points expiry: first earned, first spent; a rule applies from the day it was saved.

A member's points are lots (each earning row). Everything that took points
away (spending, refunds, earlier expiries, voids) is applied to the oldest
lots first. What is left of a lot whose time is up expires. Because earlier
expiry rows count as taken away, running the job again finds nothing more:
the job is idempotent by its arithmetic, and a per-day key makes a racing
twin a replay.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from members.models import Member

from .models import LedgerEntry, PointsRule
from .services import Reason, _lock_member, _replay
from .tiers import months_before


def _add_months(moment: datetime, months: int, tz) -> datetime:
    local = timezone.localtime(moment, tz)
    # months_before with a negative count moves forward, keeping the day in range.
    day = months_before(local.date(), -months)
    return local.replace(year=day.year, month=day.month, day=day.day)


@dataclass
class Lot:
    earned_at: datetime
    remaining: int
    expires_at: datetime | None


def lots(member: Member, rule: PointsRule, tz) -> list[Lot]:
    """What is left of each earning, oldest first, with when it expires (None: never). One query."""
    rows = list(
        LedgerEntry.objects.filter(member=member).order_by("created_at", "id").values_list("created_at", "points")
    )
    taken = -sum(points for _at, points in rows if points < 0)
    result = []
    for at, points in rows:
        if points <= 0:
            continue
        use = min(points, taken)
        taken -= use
        expires = None
        if rule.expiry == PointsRule.Expiry.AFTER_EARNED and rule.expiry_since and at >= rule.expiry_since:
            expires = _add_months(at, rule.expiry_months, tz)
        result.append(Lot(at, points - use, expires))
    return result


def due(member: Member, rule: PointsRule, tz, now: datetime) -> int:
    """Points that should expire now, never more than the member holds."""
    if rule.expiry == PointsRule.Expiry.NEVER or not rule.expiry_months or rule.expiry_since is None:
        return 0
    if member.points <= 0:
        return 0
    if rule.expiry == PointsRule.Expiry.AFTER_LAST_VISIT:
        since = max(member.last_visit_at or member.joined_at, rule.expiry_since)
        return member.points if _add_months(since, rule.expiry_months, tz) <= now else 0
    expiring = sum(lot.remaining for lot in lots(member, rule, tz) if lot.expires_at and lot.expires_at <= now)
    return min(expiring, member.points)


def next_expiry(member: Member, rule: PointsRule | None, tz, now=None) -> tuple[int, datetime] | None:
    """The next points to expire and when, for the card: (120, 1 March 2027) or None."""
    now = now or timezone.now()
    if rule is None or rule.expiry == PointsRule.Expiry.NEVER or not rule.expiry_months or not rule.expiry_since:
        return None
    if member.points <= 0:
        return None
    if rule.expiry == PointsRule.Expiry.AFTER_LAST_VISIT:
        since = max(member.last_visit_at or member.joined_at, rule.expiry_since)
        return member.points, _add_months(since, rule.expiry_months, tz)
    upcoming = [lot for lot in lots(member, rule, tz) if lot.remaining > 0 and lot.expires_at and lot.expires_at > now]
    if not upcoming:
        return None
    when = upcoming[0].expires_at
    return min(sum(lot.remaining for lot in upcoming if lot.expires_at == when), member.points), when


def points_expire(*, now=None) -> int:
    """Daily (beat): write an expiry row for every member whose points are due. Returns the rows written."""
    now = now or timezone.now()
    written = 0
    rules = PointsRule.objects.filter(is_active=True, expiry_since__isnull=False).exclude(
        expiry=PointsRule.Expiry.NEVER
    )
    for rule in rules.select_related("shop"):
        shop = rule.shop
        key_day = timezone.localtime(now, shop.tz).date().isoformat()
        for member_id in Member.objects.filter(shop=shop, points__gt=0).values_list("pk", flat=True):
            key = f"expiry-{member_id}-{key_day}"
            with transaction.atomic():
                member = _lock_member(member_id)
                if _replay(shop, key):
                    continue
                amount = due(member, rule, shop.tz, now)
                if amount <= 0:
                    continue
                LedgerEntry.objects.create(
                    shop=shop, member=member, reason=Reason.EXPIRY, points=-amount, idempotency_key=key, created_at=now
                )
                Member.objects.filter(pk=member_id).update(points=F("points") - amount)
                written += 1
    return written
