"""Who a campaign is for: the same rule as a query (for batches and previews)
and in Python (for one member at the counter or at joining, with no query)."""

import hashlib
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import CharField, Count, F, Func, IntegerField, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat

from members.models import Member

from .models import Campaign, MemberActivity

Audience = Campaign.Audience


def _bounds(campaign: Campaign) -> tuple[datetime | None, datetime | None]:
    """The audience's dates as instants in the shop's time zone: from the start of the first day
    to the end of the last."""
    tz = campaign.shop.tz
    first, last = campaign.audience_from, campaign.audience_to
    start = datetime.combine(first, time.min, tzinfo=tz) if first else None
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz) if last else None
    return start, end


def audience_q(campaign: Campaign) -> Q:
    if campaign.audience == Audience.SEGMENT:
        # As the nightly run last sorted them (insights.rollup.refresh_activity).
        return Q(activity__segment=campaign.audience_segment)
    if campaign.audience == Audience.TIER:
        return Q(tier_id=campaign.audience_tier_id) if campaign.audience_tier_id else Q(pk__in=[])
    if campaign.audience in (Audience.JOINED, Audience.SEEN):
        column = "joined_at" if campaign.audience == Audience.JOINED else "last_visit_at"
        start, end = _bounds(campaign)
        q = Q(**{f"{column}__isnull": False})
        if start:
            q &= Q(**{f"{column}__gte": start})
        if end:
            q &= Q(**{f"{column}__lt": end})
        return q
    return Q()


def audience(campaign: Campaign) -> QuerySet[Member]:
    return Member.objects.filter(shop_id=campaign.shop_id).filter(audience_q(campaign))


def in_audience(campaign: Campaign, member: Member) -> bool:
    if campaign.audience == Audience.SEGMENT:
        # The one audience a member's own row cannot answer: one query, for these campaigns only.
        segment = MemberActivity.objects.filter(member_id=member.pk).values_list("segment", flat=True).first()
        return segment == campaign.audience_segment
    if campaign.audience == Audience.TIER:
        return campaign.audience_tier_id is not None and member.tier_id == campaign.audience_tier_id
    if campaign.audience in (Audience.JOINED, Audience.SEEN):
        when = member.joined_at if campaign.audience == Audience.JOINED else member.last_visit_at
        start, end = _bounds(campaign)
        return when is not None and (start is None or when >= start) and (end is None or when < end)
    return True


def is_held_out(campaign: Campaign, member: Member) -> bool:
    """The same members are held back every time, without storing a list: a hash of the pair."""
    if not campaign.has_holdout or not campaign.holdout_percent:
        return False
    digest = hashlib.sha256(f"{campaign.public_id}:{member.public_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < campaign.holdout_percent


def next_birthday(born: date, today: date) -> date:
    """The next birthday on or after ``today``; 29 February is kept on 28 February in other years."""
    for year in (today.year, today.year + 1):
        try:
            day = born.replace(year=year)
        except ValueError:
            day = date(year, 2, 28)
        if day >= today:
            return day
    raise AssertionError("unreachable: a birthday comes round within a year")


class _HoldoutBucket(Func):
    """is_held_out's number in SQL (PostgreSQL): the first four bytes of the SHA-256 of
    "campaign:member" as an unsigned integer, modulo 100."""

    template = (
        "MOD((('x' || SUBSTR(ENCODE(SHA256(CONVERT_TO(%(expressions)s, 'UTF8')), 'hex'), 1, 8))::bit(32)::bigint), 100)"
    )
    output_field = IntegerField()


def held_out_count(campaign: Campaign, members: QuerySet[Member]) -> int:
    """How many of ``members`` the campaign holds back: counted in the database on PostgreSQL, member
    by member elsewhere (SQLite has no SHA-256)."""
    if not campaign.has_holdout or not campaign.holdout_percent:
        return 0
    if connection.vendor != "postgresql":
        return sum(is_held_out(campaign, member) for member in members.only("public_id"))
    pair = Concat(Value(f"{campaign.public_id}:"), Cast(F("public_id"), CharField()))
    bucket = members.order_by().annotate(bucket=_HoldoutBucket(pair))
    return bucket.filter(bucket__lt=campaign.holdout_percent).aggregate(n=Count("pk"))["n"]


def birthday_within(today: date, horizon: date) -> Q:
    """Members whose next birthday falls from ``today`` to ``horizon`` (a few weeks at most), as a
    query: the (month, day) pairs of those dates, with 29 February on 28 February in other years."""
    return day_within("birthday", today, horizon)


def day_within(field: str, today: date, horizon: date) -> Q:
    """A date's (or a moment's, in the active time zone) month and day falling from ``today`` to
    ``horizon``, whatever the year, with 29 February on 28 February in other years."""
    q = Q(pk__in=[])
    day = today
    while day <= horizon:
        q |= Q(**{f"{field}__month": day.month, f"{field}__day": day.day})
        if (day.month, day.day) == (2, 28) and not _leap(day.year):
            q |= Q(**{f"{field}__month": 2, f"{field}__day": 29})
        day += timedelta(days=1)
    return q


def anniversary_on(joined: date, day: date) -> int:
    """How many years a member who joined on ``joined`` has been with the shop on ``day``, if ``day``
    is the anniversary (29 February on 28 February in other years); 0 otherwise."""
    years = day.year - joined.year
    if years < 1:
        return 0
    if (joined.month, joined.day) == (day.month, day.day):
        return years
    if (joined.month, joined.day) == (2, 29) and (day.month, day.day) == (2, 28) and not _leap(day.year):
        return years
    return 0


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
