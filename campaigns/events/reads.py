"""What the card, the counter and the owner's pages show of events, each in a fixed number of queries.

A shop's coming events are held with its settings (``members.config``: saving an event changes the
shop's key), so the card and the counter ask nothing of a shop without one."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from members.config import shop_cached
from members.models import Member, Shop
from members.tokens import card_token

from ..models import Event, Rsvp
from .audience import card_q, may_be_in
from .services import CHECK_IN_CLOSES, CHECK_IN_OPENS

Status = Rsvp.Status
# The coming events a process holds per shop, and how many the card shows.
HELD = 200
CARD_MOST = 3
PAST_SHOWN = 20


def _load(shop: Shop) -> tuple[Event, ...]:
    # Those whose check-in is still open too: the counter points staff to them.
    coming = Event.objects.filter(
        shop=shop, status=Event.Status.SCHEDULED, ends_at__gt=timezone.now() - CHECK_IN_CLOSES
    )
    return tuple(coming.select_related("audience_tier").order_by("starts_at", "pk")[:HELD])


def held(shop: Shop) -> tuple[Event, ...]:
    """The shop's scheduled events not yet over, as of the shop's current settings. Shared by the
    process's requests: never change what it returns."""
    return shop_cached(shop, "events", _load)


def _count(rows: QuerySet) -> Subquery:
    return Coalesce(
        Subquery(rows.order_by().values("event").annotate(n=Count("pk")).values("n")), 0, output_field=IntegerField()
    )


def _for_card(member: Member, now: datetime, ids: list[int]) -> QuerySet[Event]:
    """The events among ``ids`` that are for the member, with their answer, their place on the waiting
    list and the seats taken: one query."""
    mine = Rsvp.objects.filter(event=OuterRef("pk"), member_id=member.pk)
    yes = Rsvp.objects.filter(event=OuterRef("pk"), status=Status.YES)
    ahead = Rsvp.objects.filter(event=OuterRef("pk"), status=Status.WAITING, position__lte=OuterRef("position"))
    return (
        Event.objects.filter(pk__in=ids, status=Event.Status.SCHEDULED, invited_at__isnull=False, starts_at__gt=now)
        .filter(card_q(member, now))
        .annotate(answer=Subquery(mine.values("status")[:1]), position=Subquery(mine.values("position")[:1]))
        .annotate(taken=_count(yes), in_line=_count(ahead))
        .annotate(left=F("capacity") - F("taken"))
        .order_by("starts_at", "pk")
    )


def card_events(member: Member, now: datetime) -> dict | None:
    """The card's invitations: the next events (at most three) the member is invited to, with their
    answer. No query when the shop has no coming event the member could be invited to, one otherwise."""
    ids = [
        event.pk
        for event in held(member.shop)
        if event.invited_at is not None and event.starts_at > now and may_be_in(event, member)
    ]
    if not ids:
        return None
    events = list(_for_card(member, now, ids)[:CARD_MOST])
    if not events:
        return None
    return {"events": events, "token": card_token(member)}


def card_event(member: Member, event: Event, now: datetime) -> Event | None:
    """One of the card's events, as the card shows it after an answer (one query)."""
    return _for_card(member, now, [event.pk]).first()


def check_in_open(event: Event, now: datetime) -> bool:
    return event.starts_at - CHECK_IN_OPENS <= now <= event.ends_at + CHECK_IN_CLOSES


def counter_events(member: Member, now: datetime) -> dict | None:
    """Events whose check-in is open now, for the counter to point staff to (no query)."""
    events = [event for event in held(member.shop) if check_in_open(event, now)]
    return {"events": events, "member": member} if events else None


# The owner's pages.


def with_counts(events: QuerySet[Event]) -> QuerySet[Event]:
    return events.annotate(
        yes=Count("rsvps", filter=Q(rsvps__status=Status.YES)),
        waiting=Count("rsvps", filter=Q(rsvps__status=Status.WAITING)),
        came=Count("rsvps", filter=Q(rsvps__checked_in_at__isnull=False)),
    )


def event_lists(shop: Shop, now: datetime) -> dict:
    """The events page: coming events (cancelled ones among them, marked) and the latest past ones,
    each with its answers counted: two queries."""
    events = with_counts(Event.objects.for_shop(shop))
    return {
        "coming": list(events.filter(ends_at__gt=now).order_by("starts_at", "pk")),
        "past": list(events.filter(ends_at__lte=now).order_by("-starts_at", "-pk")[:PAST_SHOWN]),
    }


@dataclass
class Answers:
    """An event's answers in the lists its page shows."""

    yes: list[Rsvp] = field(default_factory=list)
    waiting: list[Rsvp] = field(default_factory=list)
    no: list[Rsvp] = field(default_factory=list)
    came: list[Rsvp] = field(default_factory=list)
    no_shows: list[Rsvp] = field(default_factory=list)
    walk_ins: list[Rsvp] = field(default_factory=list)


def answers(event: Event) -> Answers:
    """Every answer to an event with its member and who checked them in: one query."""
    rows = (
        Rsvp.objects.filter(event=event)
        .select_related("member", "checked_in_by", "voucher")
        .order_by("position", "responded_at", "pk")
    )
    found = Answers()
    for rsvp in rows:
        if rsvp.status == Status.YES:
            found.yes.append(rsvp)
            if rsvp.checked_in_at is not None:
                found.came.append(rsvp)
                if rsvp.walk_in:
                    found.walk_ins.append(rsvp)
            else:
                found.no_shows.append(rsvp)
        elif rsvp.status == Status.WAITING:
            found.waiting.append(rsvp)
        else:
            found.no.append(rsvp)
    found.came.sort(key=lambda rsvp: rsvp.checked_in_at)
    return found
