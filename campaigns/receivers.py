"""Campaigns listen to what happens below them: a join (members), a visit, a stamp or purchase
that a multiplier may boost, and the pages that show a member (rewards). Connected in
``CampaignsConfig.ready``."""

import logging

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils.dateparse import parse_datetime

from rewards.signals import Boost, Extra

from . import boosts, services
from .events import reads as events
from .feedback import services as feedback
from .models import MemberActivity, Reach
from .referrals import referral_offer

logger = logging.getLogger(__name__)


def on_member_joined(sender, *, member, now, **kwargs) -> None:
    """Running welcome campaigns give their gift in the join's transaction."""
    services.welcome_locked(member=member, now=now)


def on_member_erasing(sender, *, member, **kwargs) -> None:
    """An erased member leaves the customer lists at once, not at the next night's count, and what
    they wrote in feedback goes (the ratings stay in the figures, naming nobody)."""
    MemberActivity.objects.filter(member=member).delete()
    feedback.forget(member)


def on_members_merged(sender, *, kept, merged, **kwargs) -> dict:
    """The merged record's reach goes to the kept one, so a campaign remembers the person (a birthday
    gift once a year, a referral bonus once per friend); a reach both had for the same occasion stays
    with the merged record. Its activity goes, like an erased member's; both are given back on undo."""
    both = Reach.objects.filter(member=kept, campaign=OuterRef("campaign"), occasion=OuterRef("occasion"))
    reaches = list(Reach.objects.filter(member=merged).exclude(Exists(both)).values_list("pk", flat=True))
    Reach.objects.filter(pk__in=reaches).update(member=kept)
    activity = MemberActivity.objects.filter(member=merged).first()
    kept_activity = None
    if activity is not None:
        kept_activity = {
            "last_visit": activity.last_visit.isoformat() if activity.last_visit else None,
            "visits_90": activity.visits_90, "visits_365": activity.visits_365,
            "spend_365": str(activity.spend_365), "segment": activity.segment,
        }  # fmt: skip
        activity.delete()
    return {"reaches": reaches, "activity": kept_activity}


def on_merge_undoing(sender, *, kept, merged, moved, **kwargs) -> None:
    Reach.objects.filter(pk__in=moved.get("reaches", []), member=kept).update(member=merged)
    if activity := moved.get("activity"):
        last_visit = parse_datetime(activity["last_visit"]) if activity["last_visit"] else None
        MemberActivity.objects.update_or_create(
            member=merged, defaults={**activity, "last_visit": last_visit, "shop_id": merged.shop_id}
        )


def on_feedback_merged(sender, *, kept, merged, **kwargs) -> dict:
    return feedback.merged(kept=kept, merged=merged)


def on_feedback_unmerging(sender, *, kept, merged, moved, **kwargs) -> None:
    feedback.unmerged(kept=kept, merged=merged, moved=moved)


def on_visit(sender, *, member, now, **kwargs) -> None:
    """A visit of a referred member may complete the referral. Nothing to do (and no query) for
    anyone else; in a savepoint, so whatever goes wrong there, the visit stands."""
    if member.referred_by_id is None:
        return
    try:
        with transaction.atomic():
            services.referral_on_visit(member_id=member.pk, now=now)
    except Exception:
        logger.exception("Referral check failed for member %s; the visit is recorded", member.pk)


def on_boost_wanted(sender, *, member, what, now, **kwargs) -> Boost | None:
    """The best member day or happy hour for stamps or points at this moment (recorded as reached)."""
    campaign = boosts.boost_locked(member=member, what=what, now=now)
    return Boost(campaign.name, campaign.multiplier) if campaign else None


def on_extras_wanted(sender, *, member, page, now, **kwargs) -> Extra | None:
    if page == "counter":
        return Extra("campaigns/_boosts.html", {"boosts": boosts.boosts_for(member, now)})
    if page == "card" and (offer := referral_offer(member)):
        return Extra("campaigns/_referral.html", offer)
    return None


def on_feedback_wanted(sender, *, member, page, now, **kwargs) -> Extra | None:
    """The card's question after a visit: no query when the shop does not ask or the last visit is
    older than a day, one otherwise (``feedback.services.question_for``)."""
    if page == "card" and (question := feedback.question_for(member, now)):
        return Extra("campaigns/_feedback.html", question)
    return None


def on_events_wanted(sender, *, member, page, now, **kwargs) -> Extra | None:
    """The card's invitations to coming events and the member's answers; at the counter, the events
    whose check-in is open (a link to it). No query for a shop with no coming event, at most one on
    the card (``events.reads``)."""
    if page == "card" and (invitations := events.card_events(member, now)):
        return Extra("campaigns/_events.html", invitations)
    if page == "counter" and (open_now := events.counter_events(member, now)):
        return Extra("campaigns/_events_counter.html", open_now)
    return None
