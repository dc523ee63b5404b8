"""Tiers: members move up the moment they qualify and down only after a grace period.

What counts (points earned or visits), and over how long (a rolling window of
months in the shop's time zone, or since joining), is the shop's TierPolicy.
tier_refresh runs inside the caller's transaction, under the member lock the
loyalty services already hold; tiers_review runs daily from beat.
"""

import calendar
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from members.errors import Code, LoyaltyError
from members.models import Member, MemberMerge, Message
from members.outbox import message_queue
from members.tenancy import staff_may

from .. import webhook_events
from ..config import shop_rewards
from ..ledger import lock_member
from ..models import LedgerEntry, Membership, MembershipPlan, Tier, TierChange, TierPolicy, TierTrial

EARNING = [
    LedgerEntry.Reason.PURCHASE, LedgerEntry.Reason.BONUS, LedgerEntry.Reason.CAMPAIGN, LedgerEntry.Reason.CHALLENGE,
]  # fmt: skip


def months_before(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 - months, 12)
    year += day.year
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_after(day: date, months: int) -> date:
    """The same day ``months`` calendar months on, or the month's last day: 31 January + 1 is 28 or
    29 February."""
    return months_before(day, -months)


def period_end(starts_at: datetime, months: int, tz) -> datetime:
    """``months`` calendar months after ``starts_at`` in the shop's time zone, at the same local
    time: sold on 31 January at 10:00, a month runs until 28 (or 29) February at 10:00."""
    local = timezone.localtime(starts_at, tz)
    return datetime.combine(months_after(local.date(), months), local.time(), tzinfo=tz)


def months_in_a_row(since: datetime, now: datetime, tz) -> int:
    """Whole calendar months from ``since`` to ``now`` in the shop's time zone (a member's unbroken
    run of a membership): 0 in the first month."""
    local, today = timezone.localtime(since, tz), timezone.localtime(now, tz)
    months = (today.year - local.year) * 12 + today.month - local.month
    while months > 0 and period_end(since, months, tz) > now:
        months -= 1
    return max(months, 0)


def window_start(policy: TierPolicy, tz: zoneinfo.ZoneInfo, now: datetime) -> datetime | None:
    """Local midnight of the first day that still counts: a visit counts through the same date N months on."""
    if not policy.window_months:
        return None
    today = timezone.localtime(now, tz).date()
    return datetime.combine(months_before(today, policy.window_months), time.min, tzinfo=tz)


def _counted(entries, policy: TierPolicy, tz, now: datetime):
    """The rows that count towards a tier, and how they count: (rows, aggregate)."""
    entries = entries.filter(created_at__lte=now, voided_by__isnull=True)
    if start := window_start(policy, tz, now):
        entries = entries.filter(created_at__gte=start)
    if policy.basis == TierPolicy.Basis.POINTS:
        earned = entries.filter(Q(reason__in=EARNING, points__gt=0) | Q(reason=LedgerEntry.Reason.REFUND, points__lt=0))
        return earned, Sum("points")
    return entries.visits(), Count("pk")


def history(member_id):
    """The ledger rows that count towards a member's tier: their own, and those of the records merged
    into them (a merge moves balances by rows of its own; each record's history stays where it was
    written). ``member_id``: a primary key or an outer reference. The look-up by member stays one
    range of the ledger's member index per record."""
    merged = MemberMerge.objects.filter(kept_id=member_id, undone_at__isnull=True).order_by().values("merged_id")
    records = Member.all_objects.filter(pk=member_id).order_by().values("pk").union(merged, all=True)
    return LedgerEntry.objects.filter(member_id__in=records)


def progress(member: Member, policy: TierPolicy, tz, now: datetime) -> int:
    """Points earned (less what refunds took back) or visits, within the window: one query."""
    rows, total = _counted(history(member.pk), policy, tz, now)
    return rows.aggregate(total=total)["total"] or 0


def with_progress(members, policy: TierPolicy, tz, now: datetime):
    """``members`` annotated with their ``progress``, each counted through its own rows: one query."""
    rows, total = _counted(history(OuterRef(OuterRef("pk"))), policy, tz, now)
    counted = rows.order_by().values(one=Value(1)).annotate(total=total).values("total")
    return members.annotate(progress=Coalesce(Subquery(counted), 0))


@dataclass
class Standing:
    tier: Tier | None  # the tier the member qualifies for now
    value: int
    next_tier: Tier | None
    basis: str
    held: Tier | None = None  # the tier the member holds (may be higher, during grace)

    @property
    def to_next(self) -> int:
        return self.next_tier.threshold - self.value if self.next_tier else 0


def standing(member: Member, now=None) -> Standing | None:
    """The tier a member qualifies for now, how far they are, and what is next; None without tiers."""
    now = now or timezone.now()
    shop = member.shop
    settings = shop_rewards(shop)
    policy, tiers = settings.policy, settings.tiers
    if policy is None or not tiers:
        return None
    value = progress(member, policy, shop.tz, now)
    qualified = next((t for t in reversed(tiers) if t.threshold <= value), None)
    following = next((t for t in tiers if t.threshold > value), None)
    held = next((t for t in tiers if t.pk == member.tier_id), None)
    return Standing(qualified, value, following, policy.basis, held)


def _move(member: Member, to: Tier | None, reason: str, now) -> None:
    old = member.tier
    TierChange.objects.create(
        shop_id=member.shop_id, member=member, from_tier=old, to_tier=to, reason=reason, created_at=now
    )
    Member.objects.filter(pk=member.pk).update(tier=to, tier_short_since=None)
    member.tier, member.tier_short_since = to, None
    webhook_events.tier_changed(member, old, to, reason, now)


def _rank(tier: Tier | None) -> int:
    return -1 if tier is None else tier.threshold


def _highest(*tiers: Tier | None) -> Tier | None:
    return max(tiers, key=_rank, default=None)


def _running_with_tiers(now):
    """Memberships held now whose plan gives a tier while it runs, or a VIP tier to members who keep
    it for months in a row."""
    return (
        Membership.objects.filter(status=Membership.Status.ACTIVE, starts_at__lte=now, ends_at__gt=now)
        .filter(Q(plan__tier__isnull=False) | Q(plan__vip_tier__isnull=False, trial=False))
        .select_related("plan__tier", "plan__vip_tier")
    )


def _floor_of(held: Membership, now, tz) -> Tier | None:
    plan = held.plan
    vip = (
        plan.vip_tier
        if plan.vip_tier_id
        and not held.trial
        and plan.has_vip
        and months_in_a_row(held.chain_started_at or held.starts_at, now, tz) >= plan.vip_after_months
        else None
    )
    return _highest(plan.tier, vip)


def plan_floor(member: Member, now) -> Tier | None:
    """The highest tier the member's memberships give now (held while they run): one query."""
    return _highest(*(_floor_of(held, now, member.shop.tz) for held in _running_with_tiers(now).filter(member=member)))


def plan_floors(shop, now, tiers: list[Tier]) -> dict[int, Tier]:
    """Every member's tier from memberships in a shop (``tiers``: the shop's), for the nightly review:
    one query, read as plain values a few thousand at a time (a big shop's memberships are not held
    as objects), the months in a row counted only where a VIP tier would raise the floor."""
    by_id = {tier.pk: tier for tier in tiers}
    floors: dict[int, Tier] = {}
    rows = (
        _running_with_tiers(now)
        .filter(shop=shop)
        .values_list("member_id", "plan__tier_id", "plan__vip_tier_id", "plan__vip_after_months", "chain_started_at",
                     "starts_at", "trial")
        .iterator(chunk_size=2_000)
    )  # fmt: skip
    for member_id, tier_id, vip_id, vip_months, chain, starts, trial in rows:
        floor = _highest(floors.get(member_id), by_id.get(tier_id))
        vip = by_id.get(vip_id)
        if (
            vip is not None
            and not trial
            and vip_months
            and _rank(vip) > _rank(floor)
            and months_in_a_row(chain or starts, now, shop.tz) >= vip_months
        ):
            floor = vip
        if floor is not None:
            floors[member_id] = floor
    return floors


def tier_settle(*, member: Member, now, membership: Membership | None = None, ended: bool = False) -> None:
    """After ``membership`` started, ended or was refunded (``ended``), or a VIP run reached its
    months (no ``membership``): the member holds the highest of what they qualify for, what their
    memberships give and a tier trial running. Up at once. Down only when the membership that ended
    gave the tier held (its plan's tier or VIP tier), as a tier trial's end moves down, without a
    grace: a membership takes back only what it gave, and a tier earned by visits or points stays
    for the nightly review and its grace. Nothing to do, and no query, for a plan that gives no tier.
    The caller holds the member lock."""
    gave = None
    if membership is not None:
        plan = membership.plan
        if not plan.tier_id and (membership.trial or not plan.vip_tier_id):
            return
        gave = _highest(plan.tier, None if membership.trial else plan.vip_tier)
    current = standing(member, now)
    trial = TierTrial.objects.filter(member=member, ended_at__isnull=True).select_related("tier").first()
    target = _highest(current.tier if current else None, plan_floor(member, now), trial.tier if trial else None)
    if _rank(target) > _rank(member.tier):
        _move(member, target, TierChange.Reason.PLAN, now)
    elif ended and gave is not None and _rank(target) < _rank(member.tier) <= _rank(gave):
        _move(member, target, TierChange.Reason.PLAN_END, now)


def plan_tiers_settle(*, now) -> int:
    """Hourly: members whose memberships now give a higher tier than they hold (a VIP run that reached
    its months, a renewal bought ahead that began) move up. Only those are read: the plan's tier
    above the one held, or a VIP tier above it for a run about as long as the plan asks (checked
    exactly, in the shop's calendar, before moving). Idempotent."""
    below = Q(member__tier__isnull=True)
    plan_tier = Q(plan__tier__isnull=False) & (below | Q(member__tier__threshold__lt=F("plan__tier__threshold")))
    # A day's margin on each plan's months: the exact count is the shop's calendar, below.
    vip = Q(pk__in=[])
    for plan_id, months in MembershipPlan.objects.filter(
        vip_tier__isnull=False, vip_after_months__isnull=False
    ).values_list("pk", "vip_after_months"):
        since = now - timedelta(days=28 * months - 1)
        vip |= Q(plan_id=plan_id, chain_started_at__lte=since)
    vip &= Q(trial=False) & (below | Q(member__tier__threshold__lt=F("plan__vip_tier__threshold")))
    candidates = (
        _running_with_tiers(now)
        .filter(plan_tier | vip)
        .select_related("member__tier", "shop")
        .iterator(chunk_size=1_000)
    )
    members = {
        held.member_id for held in candidates if _rank(_floor_of(held, now, held.shop.tz)) > _rank(held.member.tier)
    }
    moved = 0
    for member_id in sorted(members):
        with transaction.atomic():
            member = lock_member(member_id)
            before = member.tier_id
            tier_settle(member=member, now=now)
            moved += member.tier_id != before
    return moved


def counted(entries, policy: TierPolicy) -> bool:
    """Whether rows just written count towards a tier (as ``_counted`` counts them): if not, the
    member's progress did not grow, and tiers only move up here."""
    if policy.basis == TierPolicy.Basis.POINTS:
        return any(entry.reason in EARNING and entry.points > 0 for entry in entries)
    return any(entry.opens_visit for entry in entries)


def tier_refresh(*, member: Member, now, entries=None) -> Standing | None:
    """After an action: move up at once if the member now qualifies higher. Never moves down.
    ``member`` is the locked row; one query (the progress) in a shop with tiers, none without, and
    none when the action's ``entries`` do not count towards a tier (a stamp where points count).
    Returns where the member stands now, for the counter to show, or None if unchanged."""
    policy = shop_rewards(member.shop).policy
    if policy is None or (entries is not None and not counted(entries, policy)):
        return None
    current = standing(member, now)
    if current is None:
        return None
    if _rank(current.tier) > _rank(member.tier):
        _move(member, current.tier, TierChange.Reason.QUALIFIED, now)
    elif _rank(current.tier) == _rank(member.tier) and member.tier_short_since:
        Member.objects.filter(pk=member.pk).update(tier_short_since=None)
        member.tier_short_since = None
    current.held = member.tier
    return current


def tiers_review(*, now=None) -> int:
    """Daily: members who fell short of their tier move down once the shop's grace has passed.

    Idempotent: a second run the same day finds nothing more to do."""
    now = now or timezone.now()
    moved = trials_end(now=now)
    on_trial = set(TierTrial.objects.filter(ended_at__isnull=True).values_list("member_id", flat=True))
    for policy in TierPolicy.objects.select_related("shop"):
        shop = policy.shop
        today = timezone.localtime(now, shop.tz).date()
        tiers = list(Tier.objects.for_shop(shop))
        held = Member.objects.filter(shop=shop, tier__isnull=False).exclude(pk__in=on_trial)
        # A tier a membership gives is held while it runs, whatever the member's progress.
        floors = plan_floors(shop, now, tiers)
        # Counted for all at once; only a member whose tier may move (or whose grace may end) is
        # then locked and looked at again, so a big shop costs one query per member who changes.
        rows = with_progress(held, policy, shop.tz, now).values_list("pk", "tier_id", "tier_short_since", "progress")
        for member_id, tier_id, short_since, value in rows.iterator(chunk_size=2_000):
            qualified = _highest(
                next((t for t in reversed(tiers) if t.threshold <= value), None), floors.get(member_id)
            )
            if qualified is not None and qualified.pk == tier_id and short_since is None:
                continue
            with transaction.atomic():
                member = Member.objects.select_for_update(of=("self",)).select_related("tier", "shop").get(pk=member_id)
                current = standing(member, now)
                if current is None:
                    continue
                current.tier = _highest(current.tier, plan_floor(member, now))
                if _rank(current.tier) > _rank(member.tier):
                    _move(member, current.tier, TierChange.Reason.QUALIFIED, now)
                    moved += 1
                elif _rank(current.tier) == _rank(member.tier):
                    if member.tier_short_since:
                        Member.objects.filter(pk=member.pk).update(tier_short_since=None)
                elif member.tier_short_since is None:
                    Member.objects.filter(pk=member.pk).update(tier_short_since=today)
                elif (today - member.tier_short_since).days >= policy.grace_days:
                    _move(member, current.tier, TierChange.Reason.REVIEW, now)
                    moved += 1
    return moved


TRIAL_REMINDER_DAYS = 3


def tier_trial_start(*, member: Member, tier: Tier, days: int, staff) -> TierTrial:
    """Give a member a higher tier for ``days`` days (a manager's gift, later a campaign's)."""
    if tier.shop_id != member.shop_id:
        raise LoyaltyError(_("This tier belongs to another shop."), code=Code.WRONG_SHOP)
    if not 1 <= days <= 365:
        raise LoyaltyError(_("A trial lasts from 1 to 365 days."), code=Code.BAD_DAYS)
    if not staff_may(member.shop, staff, "tiers.grant"):
        raise LoyaltyError(_("Only a manager or owner can give a tier trial."), code=Code.NOT_ALLOWED)
    now = timezone.now()
    with transaction.atomic():
        locked = lock_member(member.pk)
        if TierTrial.objects.filter(member=locked, ended_at__isnull=True).exists():
            raise LoyaltyError(_("This member already has a trial running."), code=Code.TRIAL_RUNNING)
        if _rank(tier) <= _rank(locked.tier):
            raise LoyaltyError(_("A trial must be a higher tier than the member has."), code=Code.NOT_HIGHER)
        trial = TierTrial.objects.create(
            shop_id=member.shop_id, member=locked, tier=tier, starts_at=now, ends_at=now + timedelta(days=days),
            granted_by=staff,
        )  # fmt: skip
        _move(locked, tier, TierChange.Reason.TRIAL, now)
    return trial


def trials_end(*, now) -> int:
    """Trials past their end: back to the tier the member qualifies for now. Idempotent."""
    ended = 0
    for trial_id in TierTrial.objects.filter(ended_at__isnull=True, ends_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            trial = TierTrial.objects.select_related("member").get(pk=trial_id)
            member = (
                Member.objects.select_for_update(of=("self",)).select_related("tier", "shop").get(pk=trial.member_id)
            )
            if TierTrial.objects.filter(pk=trial_id, ended_at__isnull=True).update(ended_at=now) != 1:
                continue
            current = standing(member, now)
            back_to = _highest(current.tier if current else None, plan_floor(member, now))
            if _rank(back_to) != _rank(member.tier):
                _move(member, back_to, TierChange.Reason.TRIAL_END, now)
            ended += 1
    return ended


def trial_reminders(*, now) -> int:
    """Tell members a few days before their trial ends, through the outbox: once each."""
    queued = 0
    due = TierTrial.objects.filter(
        ended_at__isnull=True, reminded_at__isnull=True, ends_at__lte=now + timedelta(days=TRIAL_REMINDER_DAYS)
    ).select_related("member__shop", "tier")
    for trial in due:
        with transaction.atomic():
            # Claimed in the same transaction as the message: a parallel run finds it taken.
            if TierTrial.objects.filter(pk=trial.pk, reminded_at__isnull=True).update(reminded_at=now) != 1:
                continue
            ends_on = timezone.localtime(trial.ends_at, trial.member.shop.tz).date().isoformat()
            message = message_queue(
                member=trial.member,
                campaign="tier_trial_reminder",
                occasion=str(trial.pk),
                template="rewards/email/trial_ending",
                kind=Message.Kind.TRANSACTIONAL,
                context={"tier": trial.tier.name, "ends_on": ends_on},
            )
            queued += message is not None
    return queued
