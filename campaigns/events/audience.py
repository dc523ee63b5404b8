"""Who an event is for: everyone, members of a tier and the tiers above it, members who hold a
membership plan now (a free trial counts: its benefits are the plan's), or a group of customers as
the nightly run last sorted them (``MemberActivity``). As a query for the invitations, and for one
member when they answer."""

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from members.models import Member
from rewards.models import Membership

from ..models import Event, MemberActivity, Rsvp

Audience = Event.Audience


def holding(now: datetime) -> QuerySet[Membership]:
    """Memberships running at ``now``: a plan's benefits are the holder's."""
    return Membership.objects.filter(status=Membership.Status.ACTIVE, starts_at__lte=now).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    )


def audience_q(event: Event, now: datetime) -> Q:
    if event.audience == Audience.TIER:
        if event.audience_tier is None:
            return Q(pk__in=[])
        return Q(tier__threshold__gte=event.audience_tier.threshold)
    if event.audience == Audience.PLAN:
        if event.audience_plan_id is None:
            return Q(pk__in=[])
        return Q(Exists(holding(now).filter(member=OuterRef("pk"), plan_id=event.audience_plan_id)))
    if event.audience == Audience.SEGMENT:
        return Q(activity__segment=event.audience_segment)
    return Q()


def audience(event: Event, now: datetime) -> QuerySet[Member]:
    return Member.objects.filter(shop_id=event.shop_id).filter(audience_q(event, now))


def tier_admits(event: Event, member: Member) -> bool:
    """For a tier's event, whether the member's tier is it or above (no query: both tiers are loaded)."""
    tier = event.audience_tier
    return tier is not None and member.tier is not None and member.tier.threshold >= tier.threshold


def in_audience(event: Event, member: Member, now: datetime) -> bool:
    """Whether the event is for the member: no query for everyone and tiers, one for a plan or a group."""
    if event.audience == Audience.TIER:
        return tier_admits(event, member)
    if event.audience == Audience.PLAN:
        plan = event.audience_plan_id
        return plan is not None and holding(now).filter(member_id=member.pk, plan_id=plan).exists()
    if event.audience == Audience.SEGMENT:
        return MemberActivity.objects.filter(member_id=member.pk, segment=event.audience_segment).exists()
    return True


def may_be_in(event: Event, member: Member) -> bool:
    """What the card decides without a query: everyone's events, and a tier's; a plan's or a group's
    are left to its one query (``card_q``)."""
    return tier_admits(event, member) if event.audience == Audience.TIER else True


def card_q(member: Member, now: datetime) -> Q:
    """Events (rows of ``Event``) that are for the member, as one filter: the plan and the group are
    subqueries; events the member answered stay theirs whoever they are for now."""
    holds = holding(now).filter(member_id=member.pk, plan_id=OuterRef("audience_plan_id"))
    grouped = MemberActivity.objects.filter(member_id=member.pk, segment=OuterRef("audience_segment"))
    answered = Rsvp.objects.filter(event=OuterRef("pk"), member_id=member.pk)
    return (
        Q(audience__in=[Audience.ALL, Audience.TIER])
        | Q(audience=Audience.PLAN, audience_plan__isnull=False) & Q(Exists(holds))
        | Q(audience=Audience.SEGMENT) & Q(Exists(grouped))
        | Q(Exists(answered))
    )
