"""Challenges: something a member does in a window of the shop's days (N visits this week, visits
on N different days of the month, spending an amount, N items of a menu tag, friends who join and
visit, weeks in a row with a visit) for a badge and an optional reward.

Completion is decided in the transaction of the visit or purchase that completes it, under the
member's lock (``visit_counted``, called by ``stamps.visit_recorded``), and written once per member
and window: a unique constraint on the completions that stand backs the lock up. The reward is
given by ``grants.grant_locked`` as CHALLENGE ledger rows of their own group. Undoing the visit
(``visits_undone``) or refunding the purchase (``purchase_refunded``) that completed it, when the
challenge is then no longer met, revokes the completion and takes the reward back by VOID rows if
it is still there (points not spent, stamps on the card, voucher not used); otherwise the
completion records why not.

What a member did is read in a fixed number of queries, whatever the number of challenges: their
visit times over the widest window needed, their purchases only when a spending challenge runs,
their items of a tag only when a tag challenge runs, their friends only when a friends challenge
runs, and the completions of those windows. A shop without a running challenge pays none.

A referred friend's visit counts for the referrer's friends challenges: the referrer's row is
locked after the friend's, the order every service takes them in (a referrer joined before the
friend, so two visits never wait on each other in a circle; campaigns' referral bonus locks the same
two rows in the same order).
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from members.currency import format_money
from members.models import Member, Shop, User
from members.tenancy import staff_may

from ..config import shop_rewards
from ..ledger import Code, LoyaltyError, Reason, lock_member, post_all
from ..models import (
    Challenge,
    ChallengeCompletion,
    ItemSold,
    LeaderboardSeat,
    LedgerEntry,
    MemberCard,
    Purchase,
    Voucher,
)
from .grants import grant_locked, voucher_end

Kind, Window = Challenge.Kind, Challenge.Window
Note = ChallengeCompletion.RevokeNote
VISIT_KINDS = {Kind.VISITS, Kind.WEEKDAYS, Kind.STREAK}
# A completion revoked with its reward still with the member: completing the window again gives
# the badge, not the reward a second time.
REWARD_KEPT = {Note.POINTS_SPENT, Note.STAMPS_USED, Note.VOUCHER_USED}
BOARD_SIZE = 10
NICKNAME_LENGTH = 20


# Windows


@dataclass(frozen=True)
class Span:
    """A challenge's window around a moment: ``key`` is its first day (what a completion is unique
    by); what happened from ``start`` until ``end`` (excluded; None while it runs on) counts."""

    key: date
    start: datetime
    end: datetime | None
    last_day: date | None  # the window's last day, in the shop's days


def _midnight(day: date, tz) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _monday(moment: datetime, tz) -> date:
    day = timezone.localtime(moment, tz).date()
    return day - timedelta(days=day.weekday())


def span_of(challenge: Challenge, at: datetime, tz) -> Span:
    """The window of ``challenge`` that holds ``at``: Monday to Sunday, a calendar month (both in
    the shop's time zone, only while the challenge runs), or the whole run (a streak always)."""
    if challenge.window == Window.RUN or challenge.kind == Kind.STREAK:
        start, end = challenge.starts_at or challenge.created_at, challenge.ends_at
        last = timezone.localtime(end - timedelta(microseconds=1), tz).date() if end else None
        return Span(timezone.localtime(start, tz).date(), start, end, last)
    if challenge.window == Window.WEEK:
        first = _monday(at, tz)
        after = first + timedelta(days=7)
    else:
        first = timezone.localtime(at, tz).date().replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    start, end = _midnight(first, tz), _midnight(after, tz)
    if challenge.starts_at and challenge.starts_at > start:
        start = challenge.starts_at
    if challenge.ends_at and challenge.ends_at < end:
        end = challenge.ends_at
    return Span(first, start, end, after - timedelta(days=1))


def _inside(span: Span, moment: datetime) -> bool:
    return span.start <= moment and (span.end is None or moment < span.end)


def target_of(challenge: Challenge):
    return challenge.amount if challenge.kind == Kind.SPEND else challenge.target


# What a member did


@dataclass
class Facts:
    visits: list = field(default_factory=list)  # visit times
    spend: list = field(default_factory=list)  # (time, amount less what was refunded)
    items: list = field(default_factory=list)  # (time, tag in lower case)
    friends: list = field(default_factory=list)  # (joined, first visit or None)


def _since(challenge: Challenge, span: Span, at: datetime, tz) -> datetime:
    if challenge.kind == Kind.STREAK:
        # Only the weeks that can still be part of the streak: this one and the target's before it.
        return max(span.start, _midnight(_monday(at, tz) - timedelta(weeks=challenge.target), tz))
    return span.start


def facts_of(member_id: int, wanted: list[tuple[Challenge, Span, datetime]], tz) -> Facts:
    """What the member did in the windows of ``wanted`` (challenge, window, moment): one query for
    their visits, and one each for purchases, tagged items and friends only when a challenge of
    that kind is among them."""
    facts = Facts()

    def since(kinds) -> datetime | None:
        starts = [_since(c, span, at, tz) for c, span, at in wanted if c.kind in kinds]
        return min(starts) if starts else None

    if (start := since(VISIT_KINDS)) is not None:
        visits = LedgerEntry.objects.filter(member_id=member_id, created_at__gte=start).visits()
        facts.visits = list(visits.values_list("created_at", flat=True))
    if (start := since({Kind.SPEND})) is not None:
        rows = Purchase.objects.filter(member_id=member_id, created_at__gte=start)
        facts.spend = [
            (at, amount - refunded)
            for at, amount, refunded in rows.values_list("created_at", "amount", "refunded_amount")
        ]
    if (start := since({Kind.TAG})) is not None:
        tags = {c.tag.lower() for c, _span, _at in wanted if c.kind == Kind.TAG}
        rows = (
            ItemSold.objects.filter(member_id=member_id, created_at__gte=start, entry__voided_by__isnull=True)
            .exclude(entry__reason=Reason.PURCHASE, entry__purchase__refunded_amount=F("entry__purchase__amount"))
            .annotate(tag=Lower("item__tag"))
            .filter(tag__in=tags)
        )
        facts.items = list(rows.values_list("created_at", "tag"))
    if (start := since({Kind.FRIENDS})) is not None:
        first = LedgerEntry.objects.filter(member_id=OuterRef("pk")).visits().order_by("created_at")
        rows = Member.objects.filter(referred_by_id=member_id, joined_at__gte=start).annotate(
            first_visit=Subquery(first.values("created_at")[:1])
        )
        facts.friends = list(rows.values_list("joined_at", "first_visit"))
    return facts


def count(challenge: Challenge, span: Span, at: datetime, facts: Facts, tz):
    """How far the member is in the window: visits, days of the week, money, items, friends, or
    weeks in a row up to ``at`` (last week's still counts while this week has no visit yet)."""
    kind = challenge.kind
    if kind == Kind.VISITS:
        return sum(1 for moment in facts.visits if _inside(span, moment))
    if kind == Kind.WEEKDAYS:
        return len({timezone.localtime(moment, tz).weekday() for moment in facts.visits if _inside(span, moment)})
    if kind == Kind.SPEND:
        return sum((amount for moment, amount in facts.spend if _inside(span, moment)), Decimal(0))
    if kind == Kind.TAG:
        tag = challenge.tag.lower()
        return sum(1 for moment, item_tag in facts.items if item_tag == tag and _inside(span, moment))
    if kind == Kind.FRIENDS:
        return sum(
            1
            for joined, visited in facts.friends
            if _inside(span, joined) and visited is not None and (span.end is None or visited < span.end)
        )
    weeks = {_monday(moment, tz) for moment in facts.visits if _inside(span, moment) and moment <= at}
    week = _monday(at, tz)
    if week not in weeks:
        week -= timedelta(weeks=1)
    streak = 0
    while week in weeks:
        streak += 1
        week -= timedelta(weeks=1)
    return streak


def _completions(member_id: int, windows: list[tuple[Challenge, date]]) -> dict[tuple[int, date], list]:
    """The member's completions of these windows, revoked ones too (one query)."""
    rows = ChallengeCompletion.objects.filter(
        member_id=member_id,
        challenge_id__in={challenge.pk for challenge, _key in windows},
        window_start__gte=min(key for _challenge, key in windows),
    )
    found: dict[tuple[int, date], list] = {}
    for row in rows:
        found.setdefault((row.challenge_id, row.window_start), []).append(row)
    return found


# Completing


def _counted_entry(entries: list[LedgerEntry]) -> LedgerEntry | None:
    """The row that stands for the action: the one that opened a visit, else its stamp or purchase."""
    opening = next((entry for entry in entries if entry.opens_visit), None)
    return opening or next(
        (entry for entry in entries if entry.reason in (Reason.PURCHASE, Reason.VISIT, Reason.PLAN_ITEM)), None
    )


def _moved(challenge: Challenge, opens: bool, bought: bool, tags: set[str]) -> bool:
    """Whether the action can have moved the challenge: a visit begun, a purchase, an item of its tag."""
    if challenge.kind in VISIT_KINDS:
        return opens
    if challenge.kind == Kind.SPEND:
        return bought
    if challenge.kind == Kind.TAG:
        return challenge.tag.lower() in tags
    return False  # a member's own visit brings no friend


def visit_counted(member: Member, now: datetime, entries: list[LedgerEntry], items=()) -> list[ChallengeCompletion]:
    """Complete the running challenges this visit or purchase meets, in its transaction (the caller
    holds the member's lock). Nothing to do, and no query, in a shop without a running challenge or
    for an action that moves none of them."""
    running = shop_rewards(member.shop).running_challenges(now)
    entry = _counted_entry(entries) if running else None
    if entry is None:
        return []
    opens = any(row.opens_visit for row in entries)
    bought = any(row.reason == Reason.PURCHASE for row in entries)
    tags = {item.tag.lower() for item in items if item.tag}
    moved = [challenge for challenge in running if _moved(challenge, opens, bought, tags)]
    done = complete_locked(member, moved, now, entry) if moved else []
    friends = [challenge for challenge in running if challenge.kind == Kind.FRIENDS]
    if opens and friends and member.referred_by_id:
        _friend_visited(member, friends, now, entry)
    return done


def _friend_visited(friend: Member, challenges: list[Challenge], now: datetime, entry: LedgerEntry) -> None:
    """A referred friend's visit, when they joined within a friends challenge's window: the
    referrer's row is locked second (see the module's note) and their challenges counted."""
    tz = friend.shop.tz
    fresh = [challenge for challenge in challenges if _inside(span_of(challenge, now, tz), friend.joined_at)]
    if not fresh:
        return
    try:
        referrer = lock_member(friend.referred_by_id)
    except Member.DoesNotExist:
        return  # the referrer left the program
    complete_locked(referrer, fresh, now, entry)


def complete_locked(
    holder: Member, challenges: list[Challenge], now: datetime, entry: LedgerEntry
) -> list[ChallengeCompletion]:
    """Complete each of ``challenges`` that ``holder`` (locked) meets now and has not completed in
    this window, and give its reward."""
    tz = holder.shop.tz
    wanted = [(challenge, span_of(challenge, now, tz), now) for challenge in challenges]
    facts = facts_of(holder.pk, wanted, tz)
    reached = [(c, span) for c, span, at in wanted if count(c, span, at, facts, tz) >= target_of(c)]
    if not reached:
        return []
    before = _completions(holder.pk, [(challenge, span.key) for challenge, span in reached])
    done = []
    for challenge, span in reached:
        earlier = before.get((challenge.pk, span.key), [])
        if any(row.revoked_at is None for row in earlier):
            continue
        kept = any(row.revoke_note in REWARD_KEPT for row in earlier)
        completion = _complete(holder, challenge, span.key, now, entry, reward=not kept)
        if completion is not None:
            done.append(completion)
    return done


def _complete(holder: Member, challenge: Challenge, key: date, now, entry, *, reward: bool):
    """Give the reward and record the completion, together or not at all: the member's lock makes a
    twin impossible, and the constraint on the completions that stand would refuse one anyway."""
    try:
        with transaction.atomic():
            gift, group = None, uuid.uuid4()
            if reward and challenge.gift != Challenge.Gift.NONE:
                expires = None
                if challenge.gift == Challenge.Gift.VOUCHER:
                    expires = voucher_end(now, holder.shop.tz, challenge.voucher_valid_days)
                gift = grant_locked(
                    member=holder, giver=challenge, now=now, group=group, voucher_expires=expires,
                    reason=Reason.CHALLENGE,
                )  # fmt: skip
            given = gift is not None and bool(gift.stamps or gift.points or gift.voucher)
            return ChallengeCompletion.objects.create(
                shop_id=holder.shop_id, challenge=challenge, member=holder, window_start=key, completed_at=now,
                entry=entry, group=group if given else None, voucher=gift.voucher if given else None,
            )  # fmt: skip
    except IntegrityError:
        return None


# Revoking


def visits_undone(member: Member, voids: list[LedgerEntry], *, staff: User, now) -> list[LedgerEntry]:
    """An undo at the counter voided these rows (in its transaction, the member locked): the
    completions they made that no longer stand are revoked. Returns the member's VOID rows that took
    a reward back (in the undo's group). No query in a shop that never had a challenge."""
    voided = [void.voids_id for void in voids if void.voids_id]
    if not voided or not shop_rewards(member.shop).challenges:
        return []
    completions = list(
        ChallengeCompletion.objects.filter(entry_id__in=voided, revoked_at__isnull=True).select_related("challenge")
    )
    return recheck_locked(member, completions, staff=staff, now=now, group=voids[0].group)


def purchase_refunded(member: Member, purchase: Purchase, *, staff: User, now, group) -> list[LedgerEntry]:
    """A refund of a purchase that completed challenges: those no longer met are revoked (in the
    refund's transaction, the member locked)."""
    if not shop_rewards(member.shop).challenges:
        return []
    completions = list(
        ChallengeCompletion.objects.filter(entry__purchase=purchase, revoked_at__isnull=True).select_related(
            "challenge"
        )
    )
    return recheck_locked(member, completions, staff=staff, now=now, group=group)


def recheck_locked(member: Member, completions: list[ChallengeCompletion], *, staff, now, group) -> list[LedgerEntry]:
    """Count each completion's window again (as it was when it was completed); one no longer met is
    revoked. A referrer's completion (their friend's visit undone) is checked under the referrer's
    lock, taken after the member's. Returns ``member``'s own VOID rows."""
    mine = []
    holders: dict[int, list[ChallengeCompletion]] = {}
    for completion in completions:
        holders.setdefault(completion.member_id, []).append(completion)
    for holder_id, held in holders.items():
        if holder_id == member.pk:
            holder = member
        else:
            try:
                holder = lock_member(holder_id)
            except Member.DoesNotExist:
                continue  # erased: their balances were closed already
        tz = holder.shop.tz
        wanted = [(c.challenge, span_of(c.challenge, c.completed_at, tz), c.completed_at) for c in held]
        facts = facts_of(holder.pk, wanted, tz)
        for completion, (challenge, span, at) in zip(held, wanted, strict=True):
            if count(challenge, span, at, facts, tz) >= target_of(challenge):
                continue
            own = holder is member
            note, rows = _take_back(holder, completion, staff=staff, now=now, group=group if own else uuid.uuid4())
            ChallengeCompletion.objects.filter(pk=completion.pk).update(revoked_at=now, revoke_note=note)
            completion.revoked_at, completion.revoke_note = now, note
            if own:
                mine += rows
    return mine


def _take_back(holder: Member, completion: ChallengeCompletion, *, staff, now, group) -> tuple[str, list]:
    """The reward's rows voided, if what they gave is still there: (why, the VOID rows)."""
    if completion.group is None:
        return Note.NO_REWARD, []
    rows = list(
        LedgerEntry.objects.filter(member_id=holder.pk, group=completion.group, voided_by__isnull=True)
        .exclude(reason=Reason.VOID)
        .order_by("id")
    )
    if not rows:
        return Note.NO_REWARD, []
    card_ids = {row.card_id for row in rows if row.card_id}
    cards = MemberCard.objects.in_bulk(card_ids) if card_ids else {}
    voucher_ids = [row.voucher_id for row in rows if row.voucher_id]
    vouchers = Voucher.objects.select_for_update().in_bulk(voucher_ids) if voucher_ids else {}
    if any(voucher.status == Voucher.Status.REDEEMED for voucher in vouchers.values()):
        return Note.VOUCHER_USED, []
    points = sum(row.points for row in rows)
    if points > 0 and holder.points - points < 0:
        return Note.POINTS_SPENT, []
    if any(card.stamps - sum(row.stamps for row in rows if row.card_id == pk) < 0 for pk, card in cards.items()):
        return Note.STAMPS_USED, []
    if vouchers:
        Voucher.objects.filter(pk__in=list(vouchers)).update(status=Voucher.Status.VOIDED)
    note = completion.challenge.name[:200]
    voids = post_all(
        holder,
        [
            {"reason": Reason.VOID, "card": cards.get(row.card_id), "stamps": -row.stamps, "points": -row.points,
             "voucher_id": row.voucher_id, "voids": row, "staff": staff, "note": note}
            for row in reversed(rows)
        ],
        group=group, now=now,
    )  # fmt: skip
    return Note.TAKEN_BACK, voids


# What the card, the counter and the member page show


@dataclass(frozen=True)
class Progress:
    challenge: Challenge
    count: int | Decimal
    target: int | Decimal
    span: Span
    completion: ChallengeCompletion | None  # this window's, when it stands
    currency: str

    @property
    def done(self) -> bool:
        return self.completion is not None

    @property
    def percent(self) -> int:
        return min(100, int(self.count * 100 / self.target)) if self.target else 100

    @property
    def text(self) -> str:
        """What the card and the counter say: 2 of 3 visits this week, NT$320 of NT$500 spent this month."""
        return describe(self.challenge, self.count, self.target, self.currency)


def describe(challenge: Challenge, done, target, currency: str) -> str:
    kind, window = challenge.kind, challenge.window
    values = {"count": done, "target": target, "tag": challenge.tag}
    if kind == Kind.STREAK:
        return (
            ngettext("%(count)s of %(target)s week in a row", "%(count)s of %(target)s weeks in a row", target) % values
        )
    if kind == Kind.SPEND:
        values = {"count": format_money(done, currency), "target": format_money(target, currency)}
        return {
            Window.WEEK: _("%(count)s of %(target)s spent this week"),
            Window.MONTH: _("%(count)s of %(target)s spent this month"),
        }.get(window, _("%(count)s of %(target)s spent")) % values
    texts = {
        Kind.VISITS: {
            Window.WEEK: ngettext("%(count)s of %(target)s visit this week", "%(count)s of %(target)s visits this week",
                                  target),
            Window.MONTH: ngettext("%(count)s of %(target)s visit this month",
                                   "%(count)s of %(target)s visits this month", target),
            Window.RUN: ngettext("%(count)s of %(target)s visit", "%(count)s of %(target)s visits", target),
        },
        Kind.WEEKDAYS: {
            Window.WEEK: ngettext("%(count)s of %(target)s different day this week",
                                  "%(count)s of %(target)s different days this week", target),
            Window.MONTH: ngettext("%(count)s of %(target)s different day of the week this month",
                                   "%(count)s of %(target)s different days of the week this month", target),
            Window.RUN: ngettext("%(count)s of %(target)s different day of the week",
                                 "%(count)s of %(target)s different days of the week", target),
        },
        Kind.TAG: {
            Window.WEEK: ngettext("%(count)s of %(target)s %(tag)s item this week",
                                  "%(count)s of %(target)s %(tag)s items this week", target),
            Window.MONTH: ngettext("%(count)s of %(target)s %(tag)s item this month",
                                   "%(count)s of %(target)s %(tag)s items this month", target),
            Window.RUN: ngettext("%(count)s of %(target)s %(tag)s item", "%(count)s of %(target)s %(tag)s items",
                                 target),
        },
        Kind.FRIENDS: {
            Window.WEEK: ngettext("%(count)s of %(target)s friend joined and visited this week",
                                  "%(count)s of %(target)s friends joined and visited this week", target),
            Window.MONTH: ngettext("%(count)s of %(target)s friend joined and visited this month",
                                   "%(count)s of %(target)s friends joined and visited this month", target),
            Window.RUN: ngettext("%(count)s of %(target)s friend joined and visited",
                                 "%(count)s of %(target)s friends joined and visited", target),
        },
    }  # fmt: skip
    return texts[kind][window] % values


def progress_for(member: Member, now: datetime | None = None) -> list[Progress]:
    """Each running challenge's progress for the member in its window now, and whether they have
    completed it; a fixed number of queries (none in a shop without a running challenge)."""
    now = now or timezone.now()
    shop = member.shop
    running = shop_rewards(shop).running_challenges(now)
    if not running:
        return []
    tz = shop.tz
    wanted = [(challenge, span_of(challenge, now, tz), now) for challenge in running]
    facts = facts_of(member.pk, wanted, tz)
    found = _completions(member.pk, [(challenge, span.key) for challenge, span, _at in wanted])
    progress = []
    for challenge, span, at in wanted:
        standing = next((row for row in found.get((challenge.pk, span.key), []) if row.revoked_at is None), None)
        done = count(challenge, span, at, facts, tz)
        progress.append(Progress(challenge, done, target_of(challenge), span, standing, shop.currency))
    return progress


@dataclass(frozen=True)
class Badge:
    challenge: Challenge
    times: int  # windows completed


def badges_of(member: Member) -> list[Badge]:
    """The member's badges: each challenge they completed, and how many times (one query; none in a
    shop that never had a challenge)."""
    challenges = shop_rewards(member.shop).challenges
    if not challenges:
        return []
    times = dict(
        ChallengeCompletion.objects.filter(member=member, revoked_at__isnull=True)
        .order_by()
        .values("challenge_id")
        .annotate(times=Count("pk"))
        .values_list("challenge_id", "times")
    )
    return [Badge(challenge, times[challenge.pk]) for challenge in challenges if challenge.pk in times]


def completions_of(member: Member, limit: int = 50) -> list[ChallengeCompletion]:
    """A member's completions, newest first, revoked ones with why (one query; none in a shop that
    never had a challenge)."""
    if not shop_rewards(member.shop).challenges:
        return []
    return list(member.challenge_completions.select_related("challenge", "voucher")[:limit])


def seats_of(member: Member, progress: list[Progress]) -> dict[int, LeaderboardSeat]:
    """The member's seats on the boards of these challenges, by challenge (one query, only when one
    of them has a board)."""
    boards = [item.challenge.pk for item in progress if item.challenge.leaderboard]
    if not boards:
        return {}
    return {seat.challenge_id: seat for seat in LeaderboardSeat.objects.filter(member=member, challenge_id__in=boards)}


def figures(shop: Shop, challenges: list[Challenge], now: datetime) -> dict[int, tuple[int, int]]:
    """Completions that stand, per challenge: (in its window now, in all); one query."""
    if not challenges:
        return {}
    tz = shop.tz
    current = Q()
    for challenge in challenges:
        current |= Q(challenge_id=challenge.pk, window_start=span_of(challenge, now, tz).key)
    rows = (
        ChallengeCompletion.objects.filter(challenge__in=challenges, revoked_at__isnull=True)
        .order_by()
        .values("challenge_id")
        .annotate(now=Count("pk", filter=current), total=Count("pk"))
    )
    return {row["challenge_id"]: (row["now"], row["total"]) for row in rows}


# The leaderboard


def _nickname(nickname: str) -> str:
    nickname = " ".join((nickname or "").split())
    if not nickname or len(nickname) > NICKNAME_LENGTH or not nickname.isprintable():
        raise LoyaltyError(
            _("Choose a nickname of at most %(length)d characters.") % {"length": NICKNAME_LENGTH},
            code=Code.BAD_NICKNAME,
        )
    return nickname


def seat_take(*, member: Member, challenge: Challenge, nickname: str, now=None) -> LeaderboardSeat:
    """The member joins the challenge's board under a nickname (or changes it); nobody else can
    hold the same one on this board."""
    if challenge.shop_id != member.shop_id:
        raise LoyaltyError(_("This challenge belongs to another shop."), code=Code.WRONG_SHOP)
    nickname = _nickname(nickname)
    if not challenge.leaderboard or not challenge.is_running(now or timezone.now()):
        raise LoyaltyError(_("This challenge has no leaderboard now."), code=Code.NO_LEADERBOARD)
    try:
        with transaction.atomic():
            seat, _created = LeaderboardSeat.objects.update_or_create(
                challenge=challenge, member=member, defaults={"nickname": nickname}
            )
    except IntegrityError:
        raise LoyaltyError(
            _("Someone on this board already has that nickname. Choose another."), code=Code.NICKNAME_TAKEN
        ) from None
    return seat


def seat_leave(*, member: Member, challenge: Challenge) -> bool:
    """The member leaves the board: their nickname is gone from it at once."""
    deleted, _rows = LeaderboardSeat.objects.filter(challenge=challenge, member=member).delete()
    return bool(deleted)


@dataclass(frozen=True)
class Place:
    nickname: str
    times: int
    first_at: datetime | None


def leaderboard(challenge: Challenge, size: int = BOARD_SIZE) -> list[Place]:
    """The board: members who joined it, by completions (the first to complete ahead on a tie);
    one query. Only members with a seat ever appear."""
    done = ChallengeCompletion.objects.filter(
        challenge=challenge, member=OuterRef("member"), revoked_at__isnull=True
    ).order_by().values("member")  # fmt: skip
    rows = (
        LeaderboardSeat.objects.filter(challenge=challenge, member__erased_at__isnull=True)
        .annotate(
            times=Coalesce(Subquery(done.annotate(n=Count("pk")).values("n")[:1]), 0),
            first_at=Subquery(done.annotate(first=Min("completed_at")).values("first")[:1]),
        )
        .order_by("-times", F("first_at").asc(nulls_last=True), "joined_at", "pk")[:size]
    )
    return [Place(*row) for row in rows.values_list("nickname", "times", "first_at")]


# The owner's


CHALLENGE_FIELDS = {
    "name", "description", "kind", "window", "target", "amount", "tag", "gift", "gift_stamps", "gift_program",
    "gift_points", "voucher_title", "voucher_valid_days", "badge_emoji", "badge_name", "badge_picture",
    "leaderboard", "starts_at", "ends_at", "status",
}  # fmt: skip


def challenge_save(*, shop: Shop, challenge: Challenge | None = None, fields: dict, by: User) -> Challenge:
    """Set up a challenge, or change one. What was completed stays completed; a change counts from
    now on."""
    if not staff_may(shop, by, "programs.edit"):
        raise LoyaltyError(_("Only a manager or owner can set up challenges."), code=Code.NOT_ALLOWED)
    unknown = set(fields) - CHALLENGE_FIELDS
    if unknown:
        raise ValueError(f"Not a challenge's setting: {sorted(unknown)}")
    if challenge is not None and challenge.shop_id != shop.pk:
        raise LoyaltyError(_("This challenge belongs to another shop."), code=Code.WRONG_SHOP)
    with transaction.atomic():
        challenge = challenge or Challenge(shop=shop)
        challenge.shop = shop
        for name, value in fields.items():
            setattr(challenge, name, value)
        challenge.full_clean()
        # Saving renews the shop's settings key (rewards.config watches challenges): the counter
        # counts the challenges as they are now from its next request.
        challenge.save()
    return challenge
