"""Retention: a shop may choose to remove members who stopped coming (``Shop.retention_months``).

Off by default. When on, a member with no visit (or, never having visited, no visit since joining)
for ``retention_months - 1`` calendar months, counted in the shop's time zone, is told once that
their card and personal data go on a given date unless they come by; at least ``NOTICE`` later,
and no earlier than ``retention_months`` after their last visit, they are erased exactly as if
they had asked (``members.services.member_erase``, recorded as MEMBER_RETIRED).

Nothing else changes when a member comes back: a visit after the reminder (``last_visit_at`` later
than ``retention_warned_at``) makes the reminder void, and a later lapse is a new occasion with a
reminder of its own. Members without an e-mail address are told nothing but carry the same
``retention_warned_at``, so the same clock runs for everyone.
"""

import calendar
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone

from .models import AuditEntry, Member, Message, Shop
from .outbox import message_queue
from .services import member_erase
from .tokens import card_token

logger = logging.getLogger(__name__)

# The least time between the reminder and the erasure, whatever the months say.
NOTICE = timedelta(days=30)
# A reminder written before the moment the shop's current rule would send it was for another rule
# (the owner lengthened the period since): the member is told again. The slack absorbs a change of
# the shop's time zone, which moves local midnights by hours, not days.
SLACK = timedelta(days=2)
# The calendar clamps the day of the month (31 January + 1 month = 28 February): a date's months
# land at most this many days past the same day N months before.
CLAMP = timedelta(days=4)
CAMPAIGN = "retention"
TEMPLATE = "members/email/retention_reminder"


def months_after(day: date, months: int) -> date:
    """The same day ``months`` calendar months later (earlier if negative), clamped to the month's end."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _midnight(day: date, tz) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


@dataclass(frozen=True)
class Rule:
    """A shop's retention rule, for one run."""

    months: int
    tz: object

    def warn_at(self, seen: datetime) -> datetime:
        """When a member last seen at ``seen`` is told: one month before they would go."""
        day = timezone.localtime(seen, self.tz).date()
        return _midnight(months_after(day, self.months - 1), self.tz)

    def remove_at(self, seen: datetime, warned_at: datetime) -> datetime:
        """The earliest moment the member may go: their full period, and the notice after the reminder."""
        day = timezone.localtime(seen, self.tz).date()
        return max(_midnight(months_after(day, self.months), self.tz), warned_at + NOTICE)

    def cutoff(self, now: datetime) -> datetime:
        """Members last seen before this moment may be due (a superset: ``warn_at`` decides)."""
        today = timezone.localtime(now, self.tz).date()
        return _midnight(months_after(today, -(self.months - 1)), self.tz) + CLAMP


def _told(rule: Rule, seen: datetime, last_visit_at: datetime | None, warned_at: datetime | None) -> bool:
    """Whether the member holds a reminder for their present lapse under the shop's present rule."""
    if warned_at is None or (last_visit_at is not None and last_visit_at > warned_at):
        return False
    return warned_at + SLACK >= rule.warn_at(seen)


def _inactive(shop: Shop, cutoff: datetime):
    # Two ranges, so each reads an index: the last visits (shop, -last_visit_at) and, for members who
    # never came, their joining (shop, -joined_at).
    return shop.members.filter(Q(last_visit_at__lt=cutoff) | Q(last_visit_at__isnull=True, joined_at__lt=cutoff))


def retention_run(*, now: datetime | None = None) -> dict[str, int]:
    """Daily: remind, then remove, the inactive members of every shop whose retention is on.
    Each member in a transaction of their own, so one failure does not undo the others; a member
    another transaction holds (at the counter now) is left for the next run. Running twice, or
    twice at once, reminds and removes nobody twice. Returns the counts of this run."""
    now = now or timezone.now()
    done = {"warned": 0, "erased": 0}
    for shop in Shop.objects.filter(retention_months__isnull=False).order_by("pk"):
        warned, erased = shop_retention_run(shop=shop, now=now)
        done["warned"] += warned
        done["erased"] += erased
    return done


def shop_retention_run(*, shop: Shop, now: datetime) -> tuple[int, int]:
    if not shop.retention_months:
        return 0, 0
    rule = Rule(shop.retention_months, shop.tz)
    # One query finds the candidates. A reminder not yet due to expire is left out in the database:
    # those members wait out their notice, and a lapse that began long ago is not re-read every day.
    candidates = (
        _inactive(shop, rule.cutoff(now))
        .filter(
            Q(retention_warned_at__isnull=True)
            | Q(retention_warned_at__lte=now - NOTICE)
            | Q(last_visit_at__gt=F("retention_warned_at"))
        )
        .order_by("pk")
        .values_list("pk", "joined_at", "last_visit_at", "retention_warned_at")
    )
    warned = erased = 0
    for pk, joined_at, last_visit_at, warned_at in candidates.iterator(chunk_size=1000):
        seen = last_visit_at or joined_at
        if _told(rule, seen, last_visit_at, warned_at):
            if now < rule.remove_at(seen, warned_at):
                continue
            step = _erase
        elif now >= rule.warn_at(seen):
            step = _warn
        else:
            continue
        try:
            with transaction.atomic():
                if step(shop, rule, pk, now):
                    if step is _warn:
                        warned += 1
                    else:
                        erased += 1
        except Exception:
            logger.exception("Retention at shop %s could not handle member %s", shop.pk, pk)
    return warned, erased


def _lock(shop: Shop, pk: int) -> Member | None:
    """The member under lock, fresh from the database; None if gone or held by someone else."""
    return Member.objects.for_shop(shop).select_for_update(skip_locked=True).filter(pk=pk).first()


def _warn(shop: Shop, rule: Rule, pk: int, now: datetime) -> bool:
    member = _lock(shop, pk)
    if member is None:
        return False
    seen = member.last_visit_at or member.joined_at
    # Re-checked under the lock: a visit or a twin run may have come first.
    if _told(rule, seen, member.last_visit_at, member.retention_warned_at) or now < rule.warn_at(seen):
        return False
    Member.objects.filter(pk=member.pk).update(retention_warned_at=now)
    member.retention_warned_at = now
    member.shop = shop
    removal_on = timezone.localtime(rule.remove_at(seen, now), rule.tz).date()
    today = timezone.localtime(now, rule.tz).date()
    # The occasion is this lapse, told today: a second run, or one racing this, finds the message
    # already there (a run on a later day finds the member told, under the lock). A member who comes
    # back and lapses again, or is told again because the rule changed, is a new occasion.
    message_queue(
        member=member,
        campaign=CAMPAIGN,
        occasion=f"lapse:{int(seen.timestamp())}:{today.isoformat()}",
        template=TEMPLATE,
        kind=Message.Kind.TRANSACTIONAL,
        context={
            "url": settings.SITE_URL + reverse("rewards:card", args=[card_token(member)]),
            "removal_on": removal_on.isoformat(),
            "months": rule.months,
        },
    )
    return True


def _erase(shop: Shop, rule: Rule, pk: int, now: datetime) -> bool:
    member = _lock(shop, pk)
    if member is None:
        return False
    seen = member.last_visit_at or member.joined_at
    warned_at = member.retention_warned_at
    if not _told(rule, seen, member.last_visit_at, warned_at) or now < rule.remove_at(seen, warned_at):
        return False
    tz = rule.tz
    # Kept as values, naming nobody; the audit page says it in the reader's language (note_text).
    note = f"{timezone.localtime(seen, tz).date().isoformat()} {timezone.localtime(warned_at, tz).date().isoformat()}"
    # Inside this transaction, which already holds the lock member_erase asks for.
    return member_erase(member=member, by=None, note=note, action=AuditEntry.Action.MEMBER_RETIRED)


@dataclass(frozen=True)
class Outlook:
    """What the owner's settings page says about a shop's rule."""

    months: int
    to_warn_this_week: int
    waiting_removal: int


def retention_outlook(shop: Shop, *, now: datetime | None = None) -> Outlook | None:
    """None when the shop keeps its members; otherwise how many will be told within a week (about:
    counted to the day, not the hour) and how many were told and have not come since. One query."""
    if not shop.retention_months:
        return None
    now = now or timezone.now()
    rule = Rule(shop.retention_months, shop.tz)
    in_a_week = timezone.localtime(now, rule.tz).date() + timedelta(days=7)
    week = _midnight(months_after(in_a_week, -(shop.retention_months - 1)) + timedelta(days=1), rule.tz)
    came_back = Q(last_visit_at__gt=F("retention_warned_at"))
    untold = Q(retention_warned_at__isnull=True) | came_back
    counts = _inactive(shop, rule.cutoff(now + timedelta(days=7))).aggregate(
        waiting=Count("pk", filter=Q(retention_warned_at__isnull=False) & ~came_back),
        week=Count(
            "pk", filter=untold & (Q(last_visit_at__lt=week) | Q(last_visit_at__isnull=True, joined_at__lt=week))
        ),
    )
    return Outlook(shop.retention_months, counts["week"], counts["waiting"])
