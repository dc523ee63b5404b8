"""Events: saving them, inviting their audience, members' answers, the day-before reminder, check-in
at the door with the reward for coming, cancelling and repeating.

Seats are counted under the event's row lock. Every change of an event's answers (a yes, a no, the
waiting list moving up, a walk-in) takes the member's lock first (``rewards.ledger.lock_member``,
the one lock of every action on a member) and the event's second, so the last seat goes to one
member however many ask at once, and locks are always taken in the same order.

What the members are told goes through the outbox, once each (the message's occasion is the event).
Messages to members other than the one acting (the waiting list moving up, a cancellation) are
queued by ``event_tell`` after the commit, without the event's lock: a message row points at its
member, and writing it while holding the event could wait on a member who waits on the event.
The hourly round (``events_run``) sends what a lost task did not, and the reminders.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from members.config import config_changed
from members.errors import Code, LoyaltyError
from members.models import Member, Message, User
from members.outbox import enqueue, message_queue
from members.tenancy import staff_may
from members.tokens import card_token
from rewards.ledger import lock_member
from rewards.services import gift_grant_locked

from ..models import Event, EventSeries, Rsvp
from ..services import is_daytime
from . import dates
from .audience import audience, in_audience

logger = logging.getLogger(__name__)

Status = Rsvp.Status
ANSWERS = (Status.YES, Status.NO)
# The outbox's campaigns; the occasion is the event's public id, so each goes once per member.
INVITATION = "event_invitation"
REMINDER = "event_reminder"
MOVED_UP = "event_moved_up"
CANCELLED = "event_cancelled"
TEMPLATE = "campaigns/email/event"
INVITE_TASK = "campaigns.tasks.invite_to_event"
TELL_TASK = "campaigns.tasks.tell_about_event"
# Check-in is open from a while before the start (people come early) to a while after the end
# (the staff catch up with someone they forgot to scan).
CHECK_IN_OPENS = timedelta(hours=2)
CHECK_IN_CLOSES = timedelta(hours=2)
HORIZON = timedelta(days=731)
REPEAT_MOST = 12
# An invitation task not done after this long was lost: the hourly round sends the invitations.
LOST_AFTER = timedelta(minutes=15)
BATCH = 500
# What the owner sets (the form's fields, as the event's columns).
DETAILS = [
    "title", "description", "place", "starts_at", "ends_at", "capacity", "audience", "audience_tier",
    "audience_plan", "audience_segment", "gift", "gift_stamps", "gift_program", "gift_points", "voucher_title",
    "voucher_valid_days",
]  # fmt: skip
# The details a repeated date copies from the event it repeats.
COPIED = [
    "title", "description", "place", "capacity", "audience", "audience_tier_id", "audience_plan_id",
    "audience_segment", "gift", "gift_stamps", "gift_program_id", "gift_points", "voucher_title", "voucher_valid_days",
]  # fmt: skip


def _refuse_unless(shop, user: User, permission: str) -> None:
    if not staff_may(shop, user, permission):
        if permission == "counter.use":
            raise LoyaltyError(_("Only the shop's staff can check members in."), code=Code.NOT_ALLOWED)
        raise LoyaltyError(_("Only a manager or owner can change events."), code=Code.NOT_ALLOWED)


def _lock(event: Event, shop_id: int | None = None) -> Event:
    """The event's row, locked until the transaction ends: its answers change one at a time."""
    events = Event.objects.select_for_update(of=("self",)).select_related("shop", "audience_tier", "gift_program")
    try:
        return events.get(pk=event.pk, shop_id=shop_id or event.shop_id)
    except Event.DoesNotExist:
        raise LoyaltyError(_("There is no such event at this shop."), code=Code.WRONG_SHOP) from None


def _refuse_if_over(event: Event, now: datetime) -> None:
    if event.is_cancelled:
        raise LoyaltyError(_("This event is cancelled."), code=Code.EVENT_CANCELLED)
    if event.starts_at <= now:
        raise LoyaltyError(_("This event has started; it can no longer be changed."), code=Code.EVENT_CLOSED)


def taken(event: Event) -> int:
    """Seats taken: the yes answers (walk-ins among them)."""
    return Rsvp.objects.filter(event=event, status=Status.YES).count()


# The owner's side: saving, inviting, cancelling, repeating.


def check_start(starts_at: datetime, now: datetime) -> None:
    """A new time for an event: from now on, and within two years."""
    if starts_at <= now:
        raise LoyaltyError(_("Choose a time from now on."), code=Code.BAD_DATE)
    if starts_at > now + HORIZON:
        raise LoyaltyError(_("Choose a time within two years."), code=Code.BAD_DATE)


def event_save(*, event: Event, by: User, now: datetime | None = None) -> Event:
    """Create or change an event that has not started. Fewer seats than yes answers keeps everyone
    who said yes (new answers wait); more seats move the waiting list up at once."""
    now = now or timezone.now()
    _refuse_unless(event.shop, by, "programs.edit")
    if event.ends_at <= event.starts_at:
        raise LoyaltyError(_("The end must come after the start."), code=Code.BAD_DATE)
    for related in (event.audience_tier, event.audience_plan, event.gift_program):
        if related is not None and related.shop_id != event.shop_id:
            raise LoyaltyError(_("That belongs to another shop."), code=Code.WRONG_SHOP)
    with transaction.atomic():
        saved = _lock(event) if event.pk is not None else None
        if saved is not None:
            _refuse_if_over(saved, now)
        if saved is None or saved.starts_at != event.starts_at:
            check_start(event.starts_at, now)
        if saved is None and event.created_by_id is None:
            event.created_by = by
        event.full_clean(validate_unique=False, validate_constraints=False)
        # Watched: the shop's held events are read again. A change writes only what the owner sets,
        # never the state a worker or an answer may have changed since the page was read.
        event.save(update_fields=DETAILS if saved is not None else None)
        if saved is not None and event.capacity > saved.capacity:
            _move_up_locked(event, now)
    return event


def event_invite_request(*, event: Event, by: User, now: datetime | None = None) -> Event:
    """The owner sends the invitations: the card shows the event to its audience from now on, and the
    worker e-mails those who agreed to news (``event_invite``). Asked again, it invites only those
    who were not yet (a member who reached the tier since, say)."""
    now = now or timezone.now()
    _refuse_unless(event.shop, by, "programs.edit")
    with transaction.atomic():
        locked = _lock(event)
        _refuse_if_over(locked, now)
        if locked.invited_at is None:
            locked.invited_at = now
        locked.invitations_done_at = None
        locked.save(update_fields=["invited_at", "invitations_done_at"])  # watched: the card shows it
        enqueue(INVITE_TASK, locked.pk)
    return locked


def facts(event: Event, member: Member, kind: str) -> dict:
    """What an e-mail about an event says, as JSON for the outbox: dates and times on the shop's
    clock, written in digits every language reads."""
    tz = event.shop.tz
    starts, ends = dates.local(event.starts_at, tz), dates.local(event.ends_at, tz)
    return {
        "kind": kind, "title": event.title, "day": starts.date().isoformat(), "time": f"{starts:%H:%M}",
        "until": f"{ends:%H:%M}", "place": event.place,
        "description": event.description if kind == "invitation" else "",
        "reward": {"gift": event.gift, "gift_stamps": event.gift_stamps, "gift_points": event.gift_points,
                   "voucher_title": event.voucher_title, "name": event.title},
        "url": settings.SITE_URL + reverse("rewards:card", args=[card_token(member)]),
    }  # fmt: skip


def event_invite(*, event_id: int, now: datetime | None = None) -> int:
    """The worker: an invitation to every member of the audience who agreed to news, once each (the
    outbox's once per occasion). Run again after a lost worker, it writes to nobody twice."""
    now = now or timezone.now()
    event = Event.objects.select_related("shop", "audience_tier").get(pk=event_id)
    if event.is_cancelled or event.invited_at is None or event.starts_at <= now:
        return 0
    occasion = str(event.public_id)
    # Those invited already are not read again: two lists of ids, compared here (as plans.py does).
    invited = set(
        Message.objects.filter(shop_id=event.shop_id, campaign=INVITATION, occasion=occasion).values_list(
            "member_id", flat=True
        )
    )
    members = audience(event, now).filter(marketing_consent=True).exclude(email="").values_list("pk", flat=True)
    due = [pk for pk in members.iterator(chunk_size=5_000) if pk not in invited]
    queued = 0
    for start in range(0, len(due), BATCH):
        with transaction.atomic():
            for member in Member.objects.filter(pk__in=due[start : start + BATCH]):
                message = message_queue(
                    member=member, campaign=INVITATION, occasion=occasion, template=TEMPLATE,
                    kind=Message.Kind.MARKETING, context=facts(event, member, "invitation"),
                )  # fmt: skip
                queued += message is not None
    Event.objects.filter(pk=event.pk).update(invitations_done_at=now)
    return queued


def event_cancel(*, event: Event, by: User, now: datetime | None = None) -> Event:
    """Cancel an event that has not started; those who said yes and those waiting are told by e-mail
    (``event_tell``, after the commit)."""
    now = now or timezone.now()
    _refuse_unless(event.shop, by, "programs.edit")
    with transaction.atomic():
        locked = _lock(event)
        if locked.is_cancelled:
            raise LoyaltyError(_("This event is cancelled already."), code=Code.EVENT_CANCELLED)
        if locked.starts_at <= now:
            raise LoyaltyError(_("This event has started; it can no longer be cancelled."), code=Code.EVENT_CLOSED)
        locked.status, locked.cancelled_at = Event.Status.CANCELLED, now
        locked.save(update_fields=["status", "cancelled_at"])  # watched: the card stops showing it
        enqueue(TELL_TASK, locked.pk)
    return locked


def event_repeat(*, event: Event, by: User, count: int, rule: str = "", now: datetime | None = None) -> list[Event]:
    """The next ``count`` dates of a recurring event, each a copy of this event's details at the same
    time of day in the shop's time zone. The first repeat makes the event a series with ``rule``;
    later ones continue the series after its last date (so two owners repeating at once make
    different dates, and a date that has passed is skipped)."""
    now = now or timezone.now()
    _refuse_unless(event.shop, by, "programs.edit")
    if not 1 <= count <= REPEAT_MOST:
        raise LoyaltyError(_("Choose from 1 to %(most)s dates.") % {"most": REPEAT_MOST}, code=Code.BAD_COUNT)
    with transaction.atomic():
        source = _lock(event)
        if source.is_cancelled:
            raise LoyaltyError(_("This event is cancelled."), code=Code.EVENT_CANCELLED)
        tz = source.shop.tz
        starts = dates.local(source.starts_at, tz)
        if source.series_id is None:
            if rule not in EventSeries.Rule.values:
                raise LoyaltyError(_("Choose how the event repeats."), code=Code.BAD_DATE)
            series = EventSeries.objects.create(shop_id=source.shop_id, rule=rule, first_day=starts.date())
            source.series, source.occurrence = series, 0
            Event.objects.filter(pk=source.pk).update(series=series, occurrence=0)
        else:
            series = EventSeries.objects.select_for_update().get(pk=source.series_id)
        last = series.events.aggregate(last=Max("occurrence"))["last"] or 0
        length = source.ends_at - source.starts_at
        made, n = [], last
        while len(made) < count:
            n += 1
            begins = dates.at_local(dates.occurrence_day(series.rule, series.first_day, n), starts.time(), tz)
            if begins <= now:
                continue
            if begins > now + HORIZON:
                raise LoyaltyError(_("Those dates are more than two years ahead."), code=Code.BAD_DATE)
            copy = Event(shop_id=source.shop_id, series=series, occurrence=n, starts_at=begins, ends_at=begins + length)
            for field in COPIED:
                setattr(copy, field, getattr(source, field))
            copy.created_by, copy.created_at = by, now
            made.append(copy)
        Event.objects.bulk_create(made)
        config_changed(source.shop_id)  # bulk_create sends no signal: the held events are read again
    return made


# Members' answers.


def _next_position(event: Event) -> int:
    return (Rsvp.objects.filter(event=event).aggregate(last=Max("position"))["last"] or 0) + 1


def rsvp_set(*, member: Member, event: Event, answer: str, now: datetime | None = None) -> Rsvp:
    """A member's yes or no, until the event starts. A yes takes a seat, or a place at the end of the
    waiting list when every seat is taken; a no from someone with a seat gives it to the first on
    the waiting list, who is told. The same answer again changes nothing (a double tap, two tabs)."""
    now = now or timezone.now()
    if answer not in ANSWERS:
        raise LoyaltyError(_("Answer yes or no."), code=Code.BAD_ANSWER)
    with transaction.atomic():
        locked = lock_member(member.pk)
        # Second, the event's lock: answers to it queue here, so its seats are counted one at a time.
        event = _lock(event, locked.shop_id)
        if event.is_cancelled:
            raise LoyaltyError(_("This event is cancelled."), code=Code.EVENT_CANCELLED)
        if event.starts_at <= now:
            raise LoyaltyError(_("This event has started: answers are closed."), code=Code.EVENT_CLOSED)
        if event.invited_at is None:
            raise LoyaltyError(_("This event is not open for answers yet."), code=Code.NOT_INVITED)
        rsvp = Rsvp.objects.filter(event=event, member=locked).first()
        if rsvp is None:
            if not in_audience(event, locked, now):
                raise LoyaltyError(_("This event is for other members."), code=Code.NOT_INVITED)
            rsvp = Rsvp(shop_id=event.shop_id, event=event, member=locked)
        elif rsvp.status == answer or (answer == Status.YES and rsvp.status == Status.WAITING):
            return rsvp
        had_seat = rsvp.status == Status.YES
        if answer == Status.NO:
            rsvp.status, rsvp.position = Status.NO, None
        elif taken(event) < event.capacity:
            rsvp.status, rsvp.position = Status.YES, None
        else:
            rsvp.status, rsvp.position = Status.WAITING, _next_position(event)
        rsvp.responded_at = now
        rsvp.save()
        if had_seat:
            _move_up_locked(event, now)
    return rsvp


def _move_up_locked(event: Event, now: datetime) -> list[int]:
    """Free seats to the first on the waiting list, in the order they joined it. The caller holds the
    event's lock, under which alone its answers change; the members moved up are told after the
    commit (``event_tell``)."""
    free = event.capacity - taken(event)
    if free <= 0:
        return []
    waiting = Rsvp.objects.filter(event=event, status=Status.WAITING).order_by("position", "pk")
    moving = list(waiting.values_list("pk", flat=True)[:free])
    if moving:
        Rsvp.objects.filter(pk__in=moving).update(status=Status.YES, position=None, moved_up_at=now)
        enqueue(TELL_TASK, event.pk)
    return moving


def event_tell(*, event_id: int, now: datetime | None = None) -> int:
    """The worker, after an answer or a cancellation: members moved up from the waiting list are told
    they have a seat, and on a cancellation everyone who said yes or waited is told; once each."""
    now = now or timezone.now()
    event = Event.objects.select_related("shop").get(pk=event_id)
    if event.is_cancelled:
        campaign, kind = CANCELLED, "cancelled"
        told = event.rsvps.filter(status__in=[Status.YES, Status.WAITING])
    elif event.starts_at > now:
        campaign, kind = MOVED_UP, "moved_up"
        told = event.rsvps.filter(status=Status.YES, moved_up_at__isnull=False)
    else:
        return 0
    occasion = str(event.public_id)
    sent = set(
        Message.objects.filter(shop_id=event.shop_id, campaign=campaign, occasion=occasion).values_list(
            "member_id", flat=True
        )
    )
    queued = 0
    for rsvp in told.exclude(member_id__in=sent).filter(member__erased_at__isnull=True).select_related("member"):
        with transaction.atomic():
            message = message_queue(
                member=rsvp.member, campaign=campaign, occasion=occasion, template=TEMPLATE,
                kind=Message.Kind.TRANSACTIONAL, context=facts(event, rsvp.member, kind),
            )  # fmt: skip
        queued += message is not None
    return queued


# The day before, and the hourly round.


def is_tomorrow(event: Event, now: datetime) -> bool:
    """Whether the event is on the shop's next day (its own calendar, not the server's)."""
    tz = event.shop.tz
    return dates.local(event.starts_at, tz).date() == dates.local(now, tz).date() + timedelta(days=1)


def events_remind(*, now: datetime | None = None) -> int:
    """A reminder to everyone with a seat, the day before in the shop's calendar and in its daytime
    (from 9:00), once each: hourly runs find who was reminded and write to nobody twice. A yes given
    later that day gets one at the next run."""
    now = now or timezone.now()
    soon = Event.objects.filter(
        status=Event.Status.SCHEDULED, starts_at__gt=now, starts_at__lte=now + timedelta(days=2)
    ).select_related("shop")
    queued = 0
    for event in soon:
        if not is_tomorrow(event, now) or not is_daytime(event.shop, now):
            continue
        occasion = str(event.public_id)
        reminded = Message.objects.filter(shop_id=event.shop_id, campaign=REMINDER, occasion=occasion)
        due = (
            event.rsvps.filter(status=Status.YES, member__erased_at__isnull=True)
            .exclude(member_id__in=reminded.values("member_id"))
            .select_related("member")
        )
        for rsvp in due:
            with transaction.atomic():
                message = message_queue(
                    member=rsvp.member, campaign=REMINDER, occasion=occasion, template=TEMPLATE,
                    kind=Message.Kind.TRANSACTIONAL, context=facts(event, rsvp.member, "reminder"),
                )  # fmt: skip
            queued += message is not None
    return queued


def events_run(*, now: datetime | None = None) -> int:
    """Hourly: invitations whose task was lost, news a lost task did not tell (a seat come free, a
    cancellation of the last two days), and the reminders. Each part finds what was done."""
    now = now or timezone.now()
    done = 0
    lost = Event.objects.filter(
        status=Event.Status.SCHEDULED, starts_at__gt=now, invited_at__lte=now - LOST_AFTER,
        invitations_done_at__isnull=True,
    )  # fmt: skip
    for event_id in lost.values_list("pk", flat=True):
        done += _safely(event_invite, event_id, now)
    cancelled = Event.objects.filter(status=Event.Status.CANCELLED, cancelled_at__gte=now - timedelta(days=2))
    moved = Event.objects.filter(
        status=Event.Status.SCHEDULED, starts_at__gt=now, rsvps__moved_up_at__gte=now - timedelta(days=2)
    )
    for event_id in set(cancelled.values_list("pk", flat=True)) | set(moved.values_list("pk", flat=True)):
        done += _safely(event_tell, event_id, now)
    return done + events_remind(now=now)


def _safely(job, event_id: int, now: datetime) -> int:
    """One event's work, whatever goes wrong with another's."""
    try:
        return job(event_id=event_id, now=now)
    except Exception:
        logger.exception("Event %s: %s failed; the next round tries again", event_id, job.__name__)
        return 0


# At the door.


def event_check_in(
    *, event: Event, member: Member, staff: User, walk_in: bool = False, now: datetime | None = None
) -> Rsvp:
    """Check a member in at the event, from two hours before its start to two hours after its end.
    A member without a yes (no answer, waiting, a no) is refused unless staff confirm a walk-in,
    which is recorded as one. The reward for coming is given with the check-in, once: a second scan
    is refused as done already."""
    now = now or timezone.now()
    _refuse_unless(event.shop, staff, "counter.use")
    with transaction.atomic():
        locked = lock_member(member.pk)
        event = _lock(event, locked.shop_id)
        tz = event.shop.tz
        if event.is_cancelled:
            raise LoyaltyError(_("This event is cancelled."), code=Code.EVENT_CANCELLED)
        if now < event.starts_at - CHECK_IN_OPENS:
            opens = dates.local(event.starts_at - CHECK_IN_OPENS, tz)
            raise LoyaltyError(
                _("Check-in opens at %(time)s on %(day)s, two hours before the start.")
                % {"time": f"{opens:%H:%M}", "day": opens.date().isoformat()},
                code=Code.EVENT_CLOSED,
            )
        if now > event.ends_at + CHECK_IN_CLOSES:
            raise LoyaltyError(_("This event is over: check-in has closed."), code=Code.EVENT_CLOSED)
        rsvp = Rsvp.objects.filter(event=event, member=locked).first()
        name = {"name": locked.name}
        if rsvp is not None and rsvp.checked_in_at is not None:
            when = dates.local(rsvp.checked_in_at, tz)
            raise LoyaltyError(
                _("%(name)s checked in at %(time)s.") % {**name, "time": f"{when:%H:%M}"}, code=Code.ALREADY_CHECKED_IN
            )
        if rsvp is None or rsvp.status != Status.YES:
            if not walk_in:
                if rsvp is None:
                    message = _("%(name)s is not on the list: they did not answer the invitation.")
                elif rsvp.status == Status.WAITING:
                    message = _("%(name)s is not on the list: they are on the waiting list.")
                else:
                    message = _("%(name)s is not on the list: they said they were not coming.")
                raise LoyaltyError(message % name, code=Code.NOT_ON_LIST)
            rsvp = rsvp or Rsvp(shop_id=event.shop_id, event=event, member=locked, responded_at=now)
            rsvp.status, rsvp.position, rsvp.walk_in = Status.YES, None, True
        rsvp.checked_in_at, rsvp.checked_in_by = now, staff
        if event.gift != Event.Gift.NONE:
            # Its ledger rows name the event; the check-in written below makes it once.
            gift = gift_grant_locked(member=locked, campaign=event, now=now, staff=staff)
            rsvp.stamps, rsvp.points, rsvp.voucher = gift.stamps, gift.points, gift.voucher
        rsvp.save()
    return rsvp
