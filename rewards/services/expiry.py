"""Points expiry: never retroactive, never twice.

Each earning is a lot that keeps the expiry terms in force when it was earned
(or none, if none was): months after earning, or months without a visit. The
ledger is replayed in order: spending, refunds and voids take from the oldest
lots first (an undone or refunded earning takes its own lot first), and an
expiry row takes exactly the lots whose time was up when it was written. So
the job, run every day, finds nothing more to expire once it has expired a
lot, and points earned before a rule existed never expire.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from members.models import Member

from ..config import shop_rewards
from ..ledger import Reason, lock_member, post, replay
from ..models import LedgerEntry, PointsExpiryTerms, PointsRule
from .tiers import months_before

# Rows that mean the member came in: inactivity counts from the last of them.
VISITS = (Reason.VISIT, Reason.PURCHASE)


def _add_months(moment: datetime, months: int, tz) -> datetime:
    local = timezone.localtime(moment, tz)
    # months_before with a negative count moves forward, keeping the day in range.
    day = months_before(local.date(), -months)
    return local.replace(year=day.year, month=day.month, day=day.day)


@dataclass(frozen=True)
class Terms:
    expiry: str
    months: int | None
    valid_from: datetime


def terms_history(rule: PointsRule | None, held=None) -> list[Terms]:
    """The expiry terms of a shop over time, oldest first: one query, or none with the shop's ``held``
    terms (``rewards.config``)."""
    if rule is None:
        return []
    held = PointsExpiryTerms.objects.filter(shop_id=rule.shop_id) if held is None else held
    rows = [Terms(t.expiry, t.months, t.valid_from) for t in held]
    if not rows and rule.expiry_since is not None:
        # A rule from before terms were kept: it has applied since it was set.
        rows = [Terms(rule.expiry, rule.expiry_months, rule.expiry_since)]
    return rows


def _terms_at(history: list[Terms], at: datetime) -> Terms | None:
    """The terms points earned at ``at`` keep: those in force before that moment. A change at the
    very same instant (a clock that stood still) is not applied to them: never retroactive."""
    current = None
    for terms in history:
        if terms.valid_from < at:
            current = terms
    if current is None or current.expiry == PointsRule.Expiry.NEVER or not current.months:
        return None
    return current


@dataclass
class Lot:
    entry_id: int
    earned_at: datetime
    remaining: int
    terms: Terms | None

    def expires_at(self, last_visit: datetime | None, tz) -> datetime | None:
        if self.terms is None:
            return None
        if self.terms.expiry == PointsRule.Expiry.AFTER_LAST_VISIT:
            since = max(self.earned_at, last_visit or self.earned_at)
            return _add_months(since, self.terms.months, tz)
        return _add_months(self.earned_at, self.terms.months, tz)


@dataclass
class Standing:
    lots: list[Lot]
    last_visit: datetime | None
    debt: int  # points taken beyond every lot (a refund of spent points): paid from the next earning

    def expiring(self, now: datetime, tz) -> list[Lot]:
        return [
            lot
            for lot in self.lots
            if lot.remaining > 0 and (when := lot.expires_at(self.last_visit, tz)) is not None and when <= now
        ]


def standing(
    member: Member, rule: PointsRule | None, tz, until: datetime | None = None, history: list[Terms] | None = None
) -> Standing:
    """Replay the member's points rows (up to ``until``) into lots. Two queries (three without the
    terms' ``history``)."""
    history = terms_history(rule) if history is None else history
    rows = LedgerEntry.objects.filter(member=member).exclude(points=0)
    if until is not None:
        rows = rows.filter(created_at__lte=until)
    state = Standing([], None, 0)
    lots_by_entry: dict[int, Lot] = {}
    fields = ("id", "created_at", "points", "reason", "voids_id", "purchase_id")
    visits = LedgerEntry.objects.filter(member=member, reason__in=VISITS, voided_by__isnull=True)
    if until is not None:
        visits = visits.filter(created_at__lte=until)
    visit_times = sorted(visits.values_list("created_at", flat=True))
    purchase_lots: dict[int, Lot] = {}
    for entry_id, at, points, reason, voids_id, purchase_id in rows.order_by("created_at", "id").values_list(*fields):
        while visit_times and visit_times[0] <= at:
            state.last_visit = visit_times.pop(0)
        if points > 0:
            paid = min(points, state.debt)
            state.debt -= paid
            lot = Lot(entry_id, at, points - paid, _terms_at(history, at))
            state.lots.append(lot)
            lots_by_entry[entry_id] = lot
            if purchase_id and reason == Reason.PURCHASE:
                purchase_lots[purchase_id] = lot
            continue
        take = -points
        if reason == Reason.EXPIRY:
            # Exactly what the job found due at that moment.
            for lot in state.expiring(at, tz):
                use = min(lot.remaining, take)
                lot.remaining -= use
                take -= use
        else:
            # An undone earning, or a refund of a purchase, takes its own lot first.
            own = lots_by_entry.get(voids_id) or (purchase_lots.get(purchase_id) if reason == Reason.REFUND else None)
            for lot in ([own] if own else []) + state.lots:
                use = min(lot.remaining, take)
                lot.remaining -= use
                take -= use
        state.debt += take
    if visit_times:
        state.last_visit = visit_times[-1]
    return state


def due(member: Member, rule: PointsRule, tz, now: datetime) -> int:
    """Points that should expire now, never more than the member holds."""
    if member.points <= 0:
        return 0
    expiring = sum(lot.remaining for lot in standing(member, rule, tz, until=now).expiring(now, tz))
    return min(expiring, member.points)


def next_expiry(member: Member, rule: PointsRule | None, tz, now=None) -> tuple[int, datetime] | None:
    """The next points to expire and when, for the card: (120, 1 March 2027) or None."""
    now = now or timezone.now()
    if rule is None or member.points <= 0:
        return None
    if not (history := terms_history(rule, shop_rewards(member.shop).terms)):
        return None
    state = standing(member, rule, tz, history=history)
    upcoming = sorted(
        (when, lot.remaining)
        for lot in state.lots
        if lot.remaining > 0 and (when := lot.expires_at(state.last_visit, tz)) is not None and when > now
    )
    if not upcoming:
        return None
    when = upcoming[0][0]
    return min(sum(n for w, n in upcoming if w == when), member.points), when


def points_expire(*, now=None) -> int:
    """Daily (beat): write an expiry row for every member whose points are due. Returns the rows written."""
    now = now or timezone.now()
    written = 0
    shops = set(PointsExpiryTerms.objects.values_list("shop_id", flat=True))
    shops |= set(PointsRule.objects.filter(expiry_since__isnull=False).values_list("shop_id", flat=True))
    for rule in PointsRule.objects.filter(shop_id__in=shops).select_related("shop"):
        shop = rule.shop
        key_day = timezone.localtime(now, shop.tz).date().isoformat()
        for member_id in Member.objects.filter(shop=shop, points__gt=0).values_list("pk", flat=True):
            key = f"expiry-{member_id}-{key_day}"
            with transaction.atomic():
                member = lock_member(member_id)
                if replay(shop, key):
                    continue
                amount = due(member, rule, shop.tz, now)
                if amount <= 0:
                    continue
                post(member, Reason.EXPIRY, points=-amount, idempotency_key=key, group=uuid.uuid4(), now=now)
                written += 1
    return written
