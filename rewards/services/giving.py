"""Giving: a shop's causes and what goes to them.

Three things fund a cause, each a ``Contribution`` row written in the transaction of what caused
it: the shop's set amount for a visit or a purchase (``visit_given``, called with every visit), a
member's points given from their card (``points_donate``: a DONATION ledger row, spent like any
points under the member's lock), and the shop's match of what members give, up to its limit
(claimed under the cause's lock, so two gifts at once never match past the limit). Nothing is
changed or deleted: an undo at the counter and a manager's reversal write negative rows pointing at
what they reverse, and the points come back by a VOID ledger row.

Progress is the sum of a cause's rows, kept a minute in the cache (``progress``): the counter does
not wait on a shared row, and a member who gives sees their gift at once because the gift forgets
it.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from members.currency import format_money, minor_digits, quantize
from members.models import Member, Shop, User
from members.tenancy import staff_may

from ..config import shop_rewards
from ..ledger import ActionResult, Code, LoyaltyError, Reason, idempotent, lock_member, post, replay
from ..models import Cause, Contribution, LedgerEntry

PROGRESS_KEPT_FOR = 60  # seconds; a gift forgets it at once
Kind = Contribution.Kind
ZERO = Decimal(0)


@dataclass(frozen=True)
class Progress:
    cause: Cause
    raised: Decimal  # money, in the shop's currency
    mine: Decimal | None = None  # what the member's visits, purchases and gifts (and their match) gave
    # How points turn into money, in a round pair the currency can show: (2, NT$1) for NT$0.5 a point.
    rate: tuple[int, Decimal] | None = None

    @property
    def units(self) -> int:
        return self.cause.units(self.raised)

    @property
    def percent(self) -> int:
        return min(100, self.units * 100 // self.cause.goal)

    @property
    def reached(self) -> bool:
        return self.units >= self.cause.goal

    @property
    def my_units(self) -> int:
        return self.cause.units(self.mine or ZERO)


def _progress_key(cause_id: int) -> str:
    return f"cause-raised:{cause_id}"


def raised(causes: list[Cause]) -> dict[int, Decimal]:
    """What each cause has raised so far: from the cache, the rest in one grouped query."""
    kept = cache.get_many([_progress_key(cause.pk) for cause in causes])
    found = {cause.pk: kept[_progress_key(cause.pk)] for cause in causes if _progress_key(cause.pk) in kept}
    missing = [cause.pk for cause in causes if cause.pk not in found]
    if missing:
        sums = dict(
            Contribution.objects.filter(cause_id__in=missing)
            .values("cause_id")
            .annotate(total=Sum("amount"))
            .values_list("cause_id", "total")
        )
        fresh = {cause_id: sums.get(cause_id) or ZERO for cause_id in missing}
        cache.set_many({_progress_key(cause_id): total for cause_id, total in fresh.items()}, PROGRESS_KEPT_FOR)
        found.update(fresh)
    return found


def progress(shop: Shop, causes: list[Cause], member: Member | None = None) -> list[Progress]:
    """Each cause's progress (and the member's part, in one more query when a member is named)."""
    if not causes:
        return []
    totals = raised(causes)
    mine: dict[int, Decimal] = {}
    if member is not None:
        mine = dict(
            Contribution.objects.filter(member=member, cause__in=causes)
            .values("cause_id")
            .annotate(total=Sum("amount"))
            .values_list("cause_id", "total")
        )
    currency = shop.currency
    return [
        Progress(
            cause,
            totals[cause.pk],
            (mine.get(cause.pk) or ZERO) if member is not None else None,
            give_rate(cause, currency) if cause.takes_points else None,
        )
        for cause in causes
    ]


def give_rate(cause: Cause, currency: str) -> tuple[int, Decimal]:
    """The fewest points (of a few round numbers) whose value the currency shows exactly."""
    for points in (1, 2, 4, 5, 10, 20, 25, 50, 100, 1000):
        value = cause.point_value * points
        if value == quantize(value, currency) and value > 0:
            return points, value
    return 1000, quantize(cause.point_value * 1000, currency)


def _forget_progress(cause_id: int) -> None:
    """Now, and again once the gift commits: a page that summed meanwhile kept the sum without it."""
    cache.delete(_progress_key(cause_id))
    transaction.on_commit(lambda: cache.delete(_progress_key(cause_id)))


def running_causes(shop: Shop) -> list[Cause]:
    return list(shop_rewards(shop).causes)


def visit_given(member: Member, now: datetime, entries: list[LedgerEntry]) -> list[Contribution]:
    """The shop's gift to each running cause for this visit or purchase, in the action's transaction
    (the caller holds the member lock). A visit gives once, however many stamps and purchases it
    holds; a purchase gives once."""
    causes = [cause for cause in shop_rewards(member.shop).causes if cause.basis != Cause.Basis.NONE]
    if not causes:
        return []
    visit = next((entry for entry in entries if entry.opens_visit), None)
    purchase = next((entry for entry in entries if entry.reason == Reason.PURCHASE), None)
    rows = []
    for cause in causes:
        entry, kind = (visit, Kind.VISIT) if cause.basis == Cause.Basis.VISIT else (purchase, Kind.PURCHASE)
        if entry is not None and cause.amount_per > 0:
            rows.append(
                Contribution(
                    shop_id=member.shop_id, cause=cause, member=member, kind=kind, amount=cause.amount_per,
                    entry=entry, created_at=now,
                )
            )  # fmt: skip
    return Contribution.objects.bulk_create(rows)


def points_worth(cause: Cause, points: int, currency: str) -> Decimal:
    return quantize(cause.point_value * points, currency)


@idempotent
def points_donate(*, member: Member, cause: Cause, points: int, idempotency_key: str, at=None) -> ActionResult:
    """A member gives ``points`` to a cause from their card: spent under the member's lock like any
    points (never more than they hold), matched by the shop under the cause's lock (never past its
    limit). A resent form gives once."""
    if cause.shop_id != member.shop_id:
        raise LoyaltyError(_("This cause belongs to another shop."), code=Code.WRONG_SHOP)
    if points <= 0:
        raise LoyaltyError(_("Choose how many points to give."), code=Code.BAD_POINTS)
    shop = member.shop
    with transaction.atomic():
        locked = lock_member(member.pk, idempotency_key)
        if replayed := replay(shop, idempotency_key, locked):
            return replayed
        # The member first, then the cause: the one order every service here takes them in.
        fresh = Cause.objects.select_for_update().get(pk=cause.pk)
        if not fresh.is_active or not fresh.takes_points:
            raise LoyaltyError(_("This cause is not taking points now."), code=Code.CAUSE_CLOSED)
        if points > locked.points:
            raise LoyaltyError(
                _("You have %(points)d points; you cannot give more.") % {"points": locked.points},
                code=Code.NOT_ENOUGH_POINTS,
            )
        value = points_worth(fresh, points, shop.currency)
        if value <= 0:
            raise LoyaltyError(
                _("%(points)d points are worth less than %(least)s. Give more points.")
                % {
                    "points": points,
                    "least": format_money(Decimal(1).scaleb(-minor_digits(shop.currency)), shop.currency),
                },
                code=Code.BAD_POINTS,
            )
        now = at or timezone.now()
        group = uuid.uuid4()
        entry = post(
            locked, Reason.DONATION, points=-points, money_amount=value, group=group, now=now,
            idempotency_key=idempotency_key, note=fresh.name[:200],
        )  # fmt: skip
        rows = [Contribution(shop=shop, cause=fresh, member=locked, kind=Kind.DONATION, amount=value, points=points,
                             entry=entry, created_at=now)]  # fmt: skip
        match = min(value, fresh.match_limit - fresh.matched) if fresh.matches else ZERO
        if match > 0:
            rows.append(
                Contribution(shop=shop, cause=fresh, member=locked, kind=Kind.MATCH, amount=match, entry=entry,
                             created_at=now)
            )  # fmt: skip
            Cause.objects.filter(pk=fresh.pk).update(matched=F("matched") + match)
        Contribution.objects.bulk_create(rows)
        _forget_progress(fresh.pk)
    return ActionResult(group, [entry])


def donation_reverse(*, contribution: Contribution, staff: User, reason: str, now=None) -> list[Contribution]:
    """A manager takes back a member's gift of points, with a reason: the points go back to the
    member (a VOID row), the gift and the shop's match of it are reversed, and the match's room
    comes back. Once."""
    shop = contribution.cause.shop
    if not staff_may(shop, staff, "donations.reverse"):
        raise LoyaltyError(_("Only a manager or owner can reverse a gift."), code=Code.NOT_ALLOWED)
    reason = (reason or "").strip()
    if not reason:
        raise LoyaltyError(_("Say why the gift is reversed."), code=Code.NOTE_REQUIRED)
    if contribution.kind != Kind.DONATION or contribution.amount <= 0:
        raise LoyaltyError(_("Only a member's gift of points can be reversed."), code=Code.NOT_FOUND)
    with transaction.atomic():
        locked = lock_member(contribution.member_id)
        cause = Cause.objects.select_for_update().get(pk=contribution.cause_id)
        originals = list(
            Contribution.objects.filter(entry_id=contribution.entry_id, amount__gt=0).annotate(
                done=Count("reversed_by")
            )
        )
        if any(original.done for original in originals):
            raise LoyaltyError(_("This gift was already reversed."), code=Code.ALREADY_UNDONE)
        entry = contribution.entry
        now = now or timezone.now()
        void = post(
            locked, Reason.VOID, points=-entry.points, money_amount=entry.money_amount, voids=entry,
            group=uuid.uuid4(), staff=staff, note=reason[:200], now=now,
        )  # fmt: skip
        reversals = _reverse(originals, void, now=now, staff=staff, reason=reason[:200])
        matched = sum((original.amount for original in originals if original.kind == Kind.MATCH), ZERO)
        if matched:
            Cause.objects.filter(pk=cause.pk).update(matched=F("matched") - matched)
        _forget_progress(cause.pk)
    return reversals


def _reverse(originals: list[Contribution], entry: LedgerEntry, *, now, staff=None, reason="") -> list[Contribution]:
    return Contribution.objects.bulk_create(
        [
            Contribution(
                shop_id=original.shop_id,
                cause_id=original.cause_id,
                member_id=original.member_id,
                kind=original.kind,
                amount=-original.amount,
                points=-original.points,
                entry=entry,
                reverses=original,
                reason=reason,
                staff=staff,
                created_at=now,
            )
            for original in originals
        ]
    )


def visits_undone(voids: list[LedgerEntry], *, staff: User, now) -> list[Contribution]:
    """An undo at the counter voided these rows: the shop's gifts for the visit or purchase they
    were go back too (in the undo's transaction, under the member's lock)."""
    by_entry = {void.voids_id: void for void in voids if void.voids_id}
    originals = list(
        Contribution.objects.filter(
            entry_id__in=by_entry, kind__in=(Kind.VISIT, Kind.PURCHASE), amount__gt=0, reversed_by__isnull=True
        )
    )
    reversals = []
    for original in originals:
        reversals += _reverse([original], by_entry[original.entry_id], now=now, staff=staff)
    return reversals


def purchase_refunded(purchase, refund: LedgerEntry, *, staff: User, now) -> list[Contribution]:
    """A purchase refunded in full no longer counts as a visit or a purchase: the shop's gifts for it
    are reversed by rows pointing at the refund (in its transaction, under the member's lock)."""
    originals = list(
        Contribution.objects.filter(
            entry__purchase=purchase, kind__in=(Kind.VISIT, Kind.PURCHASE), amount__gt=0, reversed_by__isnull=True
        )
    )
    return _reverse(originals, refund, now=now, staff=staff)


def refuse_donation_undo(entries: list[LedgerEntry]) -> None:
    if any(entry.reason == Reason.DONATION for entry in entries):
        raise LoyaltyError(
            _("A gift to a cause is not undone at the counter; a manager reverses it on the member's page."),
            code=Code.DONATION_FINAL,
        )


@dataclass(frozen=True)
class ReportDay:
    day: date
    visits: int = 0
    for_visits: Decimal = ZERO
    purchases: int = 0
    for_purchases: Decimal = ZERO
    points: int = 0
    donated: Decimal = ZERO
    matched: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.for_visits + self.for_purchases + self.donated + self.matched


def report(cause: Cause, start: date, end: date) -> tuple[list[ReportDay], ReportDay]:
    """What the shop owes the cause's partner for each day from ``start`` to ``end`` (both included,
    the shop's days), and the period's total: reversals count on the day they were made. One
    query."""
    tz = cause.shop.tz
    since = timezone.make_aware(datetime.combine(start, time()), tz)
    until = timezone.make_aware(datetime.combine(end + timedelta(days=1), time()), tz)
    signed = Case(When(amount__lt=0, then=Value(-1)), default=Value(1), output_field=IntegerField())
    rows = (
        Contribution.objects.filter(cause=cause, created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day", "kind")
        .annotate(count=Sum(signed), amount=Coalesce(Sum("amount"), ZERO), points=Coalesce(Sum("points"), 0))
        .order_by("day")
    )
    days: dict[date, dict] = {}
    for row in rows:
        held = days.setdefault(row["day"], {})
        if row["kind"] == Kind.VISIT:
            held.update(visits=row["count"], for_visits=row["amount"])
        elif row["kind"] == Kind.PURCHASE:
            held.update(purchases=row["count"], for_purchases=row["amount"])
        elif row["kind"] == Kind.DONATION:
            held.update(points=row["points"], donated=row["amount"])
        else:
            held.update(matched=row["amount"])
    lines = [ReportDay(day, **values) for day, values in sorted(days.items())]
    total = ReportDay(
        end,
        visits=sum(line.visits for line in lines),
        for_visits=sum((line.for_visits for line in lines), ZERO),
        purchases=sum(line.purchases for line in lines),
        for_purchases=sum((line.for_purchases for line in lines), ZERO),
        points=sum(line.points for line in lines),
        donated=sum((line.donated for line in lines), ZERO),
        matched=sum((line.matched for line in lines), ZERO),
    )
    return lines, total


def member_donations(member: Member) -> list[Contribution]:
    """A member's gifts of points, newest first, each with whether it was reversed (one query)."""
    return list(
        Contribution.objects.filter(member=member, kind=Kind.DONATION, amount__gt=0)
        .select_related("cause")
        .annotate(reversed=Count("reversed_by"))
        .order_by("-created_at")
    )


CAUSE_FIELDS = {
    "name", "description", "picture", "partner", "partner_url", "unit", "unit_cost", "goal", "basis", "amount_per",
    "point_value", "match_limit", "on_poster", "status",
}  # fmt: skip


def cause_save(*, shop: Shop, cause: Cause | None = None, fields: dict, by: User) -> Cause:
    """Set up a cause, or change one. What was given stays as it was given: a new amount or point
    value applies from now on; a lower match limit stops matching once what was matched reaches it."""
    if not staff_may(shop, by, "programs.edit"):
        raise LoyaltyError(_("Only a manager or owner can set up causes."), code=Code.NOT_ALLOWED)
    unknown = set(fields) - CAUSE_FIELDS
    if unknown:
        raise ValueError(f"Not a cause's setting: {sorted(unknown)}")
    if cause is not None and cause.shop_id != shop.pk:
        raise LoyaltyError(_("This cause belongs to another shop."), code=Code.WRONG_SHOP)
    with transaction.atomic():
        if cause is None:
            cause = Cause(shop=shop)
        else:
            # Under the lock gifts take: ``matched`` is read as it is now, and saved unchanged.
            cause = Cause.objects.select_for_update().get(pk=cause.pk)
            cause.shop = shop
        for name, value in fields.items():
            setattr(cause, name, value)
        cause.full_clean()
        # Saving renews the shop's settings key (rewards.config watches causes): the counter gives
        # to the causes as they are now from its next request.
        cause.save()
    return cause
