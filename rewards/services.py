"""The only code that changes stamps, vouchers and the ledger.

Every function: lock the row that guards the balance, re-check every rule
under the lock, write ledger rows, move the cached balance with F(). A
repeated idempotency key returns the first action's result instead of acting
twice.
"""

import functools
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns import boosts
from members.models import Member, Shop, StaffMember, User
from members.roles import role_has

from . import tiers
from .models import (
    CatalogueReward,
    LedgerEntry,
    MemberCard,
    OverrideReason,
    PointsRule,
    Purchase,
    StampProgram,
    Voucher,
)

Reason = LedgerEntry.Reason
logger = logging.getLogger(__name__)


class LoyaltyError(Exception):
    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class ActionResult:
    group: uuid.UUID
    entries: list[LedgerEntry] = field(default_factory=list)
    vouchers_issued: list[Voucher] = field(default_factory=list)
    voucher_redeemed: Voucher | None = None
    replayed: bool = False
    purchase: "Purchase | None" = None
    reward_redeemed: "CatalogueReward | None" = None
    # Things staff should know that did not stop the action (e.g. no stamp: too soon).
    notes: list[str] = field(default_factory=list)

    @property
    def points(self) -> int:
        earning = (Reason.PURCHASE, Reason.CAMPAIGN)
        return sum(entry.points for entry in self.entries if entry.reason in earning and entry.points > 0)

    @property
    def points_spent(self) -> int:
        return -sum(entry.points for entry in self.entries if entry.reason == Reason.REDEEM)

    @property
    def is_undo(self) -> bool:
        return bool(self.entries) and all(entry.reason == Reason.VOID for entry in self.entries)

    @property
    def stamps(self) -> int:
        return sum(entry.stamps for entry in self.entries if entry.reason != Reason.CARD_COMPLETE)


def undo_window() -> timedelta:
    return timedelta(minutes=settings.COUNTER_UNDO_MINUTES)


def program_create_default(*, shop: Shop) -> StampProgram:
    """The card a new shop starts with, named in the shop's language."""
    with translation.override(shop.language), transaction.atomic():
        return StampProgram.objects.create(shop=shop, name=_("Coffee card"), reward=_("Free drink"))


# What a form's idempotency key may hold: the counter renders a UUID in hex.
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _replay(shop: Shop, key: str | None) -> ActionResult | None:
    """The result of the action that already used this key, if any; a key no form of ours sends is refused."""
    if not key:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise LoyaltyError(_("This form is out of date. Open the member again and repeat the action."), code="bad_key")
    first = LedgerEntry.objects.filter(shop=shop, idempotency_key=key).first()
    if first is None:
        return None
    entries = list(
        LedgerEntry.objects.filter(shop=shop, group=first.group).select_related("voucher", "reward").order_by("id")
    )
    issued = [e.voucher for e in entries if e.reason == Reason.CARD_COMPLETE and e.voucher]
    redeemed = next((e.voucher for e in entries if e.reason == Reason.REDEEM and e.voucher), None)
    purchase = Purchase.objects.filter(group=first.group).first()
    reward = next((e.reward for e in entries if e.reason == Reason.REDEEM and e.reward_id), None)
    return ActionResult(
        first.group, entries, issued, redeemed, replayed=True, purchase=purchase, reward_redeemed=reward
    )


def _idempotent(function):
    """Run an action; if a concurrent twin with the same key won the insert, return its result."""

    @functools.wraps(function)
    def wrapper(*, idempotency_key: str, **kwargs):
        try:
            return function(idempotency_key=idempotency_key, **kwargs)
        except IntegrityError:
            shop = kwargs["member"].shop if "member" in kwargs else kwargs["shop"]
            replay = _replay(shop, idempotency_key)
            if replay is None:
                raise
            return replay

    return wrapper


def _may(shop: Shop, user: User, permission: str) -> bool:
    role = StaffMember.objects.filter(shop=shop, user=user).values_list("role", flat=True).first()
    return role is not None and role_has(role, permission)


def check_override(shop: Shop, staff: User, override: bool, reason: str) -> None:
    """Every override is a manager's, with a reason from the list (and an optional note)."""
    if not override:
        return
    if not _may(shop, staff, "counter.override"):
        raise LoyaltyError(_("Only a manager or owner can override the limits."), code="override_denied")
    if reason not in OverrideReason.values:
        raise LoyaltyError(_("Choose why the limits are overridden."), code="override_reason")


def _lock_member(member_id: int) -> Member:
    """The member row is the one lock for everything of a member: cards, points, vouchers.

    Every service takes it first, so two actions on one member queue up and
    no two services can lock the same rows in opposite orders.
    """
    return Member.objects.select_for_update(of=("self",)).select_related("tier").get(pk=member_id)


def opens_visit(member_id: int, now) -> bool:
    """A stamp or purchase begins a visit unless one began within VISIT_MINUTES before: +3 +3 +1
    given in a minute with an override is one visit. The caller holds the member lock."""
    since = now - timedelta(minutes=settings.VISIT_MINUTES)
    recent = LedgerEntry.objects.filter(member_id=member_id, created_at__gt=since, created_at__lte=now)
    return not recent.visits().exists()


def _card(member: Member, program: StampProgram) -> MemberCard:
    # Under the member lock, so no twin request can create the same card meanwhile.
    card, _created = MemberCard.objects.get_or_create(member=member, program=program)
    return card


def _complete_cards(*, card: MemberCard, program: StampProgram, group: uuid.UUID, staff, now) -> list[Voucher]:
    """Turn every full card into a voucher, in the caller's transaction."""
    vouchers = []
    while card.stamps >= program.stamps_needed:
        expires = now + timedelta(days=program.voucher_valid_days) if program.voucher_valid_days else None
        voucher = Voucher.objects.create(
            shop_id=program.shop_id,
            member_id=card.member_id,
            program=program,
            title=program.reward,
            issued_at=now,
            expires_at=expires,
        )
        LedgerEntry.objects.create(
            shop_id=program.shop_id,
            member_id=card.member_id,
            card=card,
            reason=Reason.CARD_COMPLETE,
            stamps=-program.stamps_needed,
            voucher=voucher,
            group=group,
            staff=staff,
            created_at=now,
        )
        MemberCard.objects.filter(pk=card.pk).update(stamps=F("stamps") - program.stamps_needed)
        card.stamps -= program.stamps_needed
        vouchers.append(voucher)
    return vouchers


@_idempotent
def stamp_add(
    *,
    member: Member,
    program: StampProgram,
    count: int,
    staff: User,
    idempotency_key: str,
    override: bool = False,
    override_reason: str = "",
    note: str = "",
    at=None,
) -> ActionResult:
    """Add ``count`` stamps for a visit; a full card issues its voucher in the same transaction.

    ``at`` backdates the visit, for importing paper cards and for demo data;
    the counter always uses the present."""
    if program.shop_id != member.shop_id:
        raise LoyaltyError(_("This card belongs to another shop."), code="wrong_shop")
    with transaction.atomic():
        locked = _lock_member(member.pk)
        # Checked under the lock: a twin request that won the lock has committed by now.
        if replay := _replay(member.shop, idempotency_key):
            return replay
        now = at or timezone.now()
        group = uuid.uuid4()
        entries, vouchers = _stamp_locked(
            member=member,
            program=program,
            count=count,
            staff=staff,
            override=override,
            now=now,
            group=group,
            idempotency_key=idempotency_key,
            override_reason=override_reason,
            note=note,
        )
        Member.objects.filter(pk=member.pk).update(last_visit_at=now)
        tiers.tier_refresh(member_id=member.pk, shop_id=member.shop_id, now=now)
        referral_on_visit(member=locked, now=now)
    return ActionResult(group, entries, vouchers)


def referral_on_visit(*, member: Member, now) -> None:
    """A visit of a referred member may complete the referral. Nothing to do (and no query) for
    anyone else; in a savepoint, so whatever goes wrong there, the visit stands."""
    if member.referred_by_id is None:
        return
    from campaigns.services import referral_on_visit

    try:
        with transaction.atomic():
            referral_on_visit(member_id=member.pk, now=now)
    except Exception:
        logger.exception("Referral check failed for member %s; the visit is recorded", member.pk)


def _stamp_locked(
    *, member, program, count, staff, override, now, group, idempotency_key, override_reason="", note=""
) -> tuple[list[LedgerEntry], list[Voucher]]:
    """Stamp a card, its caller holding the member lock; every rule is checked here."""
    card = _card(member, program)
    program.refresh_from_db()
    if not program.is_active:
        raise LoyaltyError(_("The %(card)s is paused.") % {"card": program.name}, code="paused")
    if count < 1:
        raise LoyaltyError(_("Add at least one stamp."), code="bad_count")
    check_override(member.shop, staff, override, override_reason)
    if count > program.max_stamps_per_visit and not override:
        raise LoyaltyError(
            ngettext(
                "At most %(limit)d stamp per visit.",
                "At most %(limit)d stamps per visit.",
                program.max_stamps_per_visit,
            )
            % {"limit": program.max_stamps_per_visit},
            code="too_many",
        )
    if program.min_minutes_between_visits and not override:
        last = (
            LedgerEntry.objects.filter(card=card, reason=Reason.VISIT, voided_by__isnull=True)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        wait = program.min_minutes_between_visits
        if last and now - last < timedelta(minutes=wait):
            remaining = wait - int((now - last).total_seconds() // 60)
            raise LoyaltyError(
                ngettext(
                    "Last stamp was less than %(limit)d minute ago. Next stamp in %(remaining)d minute.",
                    "Last stamp was less than %(limit)d minutes ago. Next stamp in %(remaining)d minutes.",
                    wait,
                )
                % {"limit": wait, "remaining": remaining},
                code="too_soon",
            )
    entry = LedgerEntry.objects.create(
        shop_id=member.shop_id,
        member=member,
        card=card,
        reason=Reason.VISIT,
        opens_visit=opens_visit(member.pk, now),
        stamps=count,
        group=group,
        idempotency_key=idempotency_key,
        override=override,
        override_reason=override_reason if override else "",
        note=note.strip()[:200] if override else "",
        staff=staff,
        created_at=now,
    )
    # A member day or happy hour running at the moment of the stamp (not when
    # the panel was opened) adds its bonus as a row of its own, undone with the visit.
    bonus = count
    if boost := boosts.boost_locked(member=member, what="stamps", now=now):
        extra = boosts.bonus(boost, count)
        if extra:
            LedgerEntry.objects.create(
                shop_id=member.shop_id, member=member, card=card, reason=Reason.CAMPAIGN, stamps=extra, group=group,
                staff=staff, note=boost.name[:200], created_at=now,
            )  # fmt: skip
            bonus += extra
    MemberCard.objects.filter(pk=card.pk).update(stamps=F("stamps") + bonus)
    card.stamps += bonus
    vouchers = _complete_cards(card=card, program=program, group=group, staff=staff, now=now)
    entries = [entry, *LedgerEntry.objects.filter(group=group, card=card).exclude(pk=entry.pk).order_by("id")]
    return entries, vouchers


@dataclass
class Gift:
    stamps: int = 0
    points: int = 0
    voucher: Voucher | None = None
    program: StampProgram | None = None
    vouchers_completed: list[Voucher] = field(default_factory=list)


def gift_grant_locked(*, member: Member, campaign, now, group=None, staff=None, voucher_expires=None) -> Gift:
    """Give a campaign's gift: stamps, points or a voucher, with a ledger row saying which campaign.

    The caller holds the member lock and has recorded the campaign's reach in
    the same transaction, which is what makes the gift happen once."""
    group = group or uuid.uuid4()
    note = campaign.name[:200]
    gift = Gift()
    kind = campaign.gift
    if kind == "stamps" and campaign.gift_stamps:
        program = campaign.gift_program or StampProgram.objects.filter(shop_id=member.shop_id, is_active=True).first()
        if program is None or not program.is_active:
            return gift
        card = _card(member, program)
        LedgerEntry.objects.create(
            shop_id=member.shop_id, member=member, card=card, reason=Reason.CAMPAIGN, stamps=campaign.gift_stamps,
            group=group, staff=staff, note=note, created_at=now,
        )  # fmt: skip
        MemberCard.objects.filter(pk=card.pk).update(stamps=F("stamps") + campaign.gift_stamps)
        card.stamps += campaign.gift_stamps
        gift.stamps, gift.program = campaign.gift_stamps, program
        gift.vouchers_completed = _complete_cards(card=card, program=program, group=group, staff=staff, now=now)
    elif kind == "points" and campaign.gift_points:
        LedgerEntry.objects.create(
            shop_id=member.shop_id, member=member, reason=Reason.CAMPAIGN, points=campaign.gift_points, group=group,
            staff=staff, note=note, created_at=now,
        )  # fmt: skip
        Member.objects.filter(pk=member.pk).update(points=F("points") + campaign.gift_points)
        gift.points = campaign.gift_points
        tiers.tier_refresh(member_id=member.pk, shop_id=member.shop_id, now=now)
    elif kind == "voucher":
        if voucher_expires is None:
            # Valid to the end of the shop's day, N days on: what "valid for 14 days" means to a customer.
            last_day = timezone.localtime(now, campaign.shop.tz).date() + timedelta(days=campaign.voucher_valid_days)
            voucher_expires = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=campaign.shop.tz)
        gift.voucher = Voucher.objects.create(
            shop_id=member.shop_id, member=member, title=campaign.voucher_title or campaign.name, issued_at=now,
            expires_at=voucher_expires,
        )  # fmt: skip
        LedgerEntry.objects.create(
            shop_id=member.shop_id, member=member, reason=Reason.CAMPAIGN, voucher=gift.voucher, group=group,
            staff=staff, note=note, created_at=now,
        )  # fmt: skip
    return gift


@_idempotent
def voucher_redeem(*, shop: Shop, voucher_id: int, staff: User, idempotency_key: str, at=None) -> ActionResult:
    """Redeem a voucher: a status change only one request can win."""
    with transaction.atomic():
        member_id = Voucher.objects.filter(shop=shop, pk=voucher_id).values_list("member_id", flat=True).first()
        if member_id is None:
            raise LoyaltyError(_("No such voucher."), code="not_found")
        _lock_member(member_id)
        voucher = Voucher.objects.select_for_update().get(pk=voucher_id)
        if replay := _replay(shop, idempotency_key):
            return replay
        now = at or timezone.now()
        if voucher.status == Voucher.Status.REDEEMED:
            when = timezone.localtime(voucher.redeemed_at, shop.tz).strftime("%Y-%m-%d %H:%M")
            raise LoyaltyError(_("This voucher was already redeemed on %(when)s.") % {"when": when}, code="redeemed")
        if voucher.status != Voucher.Status.ISSUED or (voucher.expires_at and voucher.expires_at <= now):
            raise LoyaltyError(_("This voucher is expired or void and cannot be used."), code="not_usable")
        changed = Voucher.objects.filter(pk=voucher.pk, status=Voucher.Status.ISSUED).update(
            status=Voucher.Status.REDEEMED, redeemed_at=now, redeemed_by=staff
        )
        if changed != 1:  # pragma: no cover - the row lock above already serialises this
            raise LoyaltyError(_("This voucher was already redeemed."), code="redeemed")
        voucher.refresh_from_db()
        group = uuid.uuid4()
        entry = LedgerEntry.objects.create(
            shop=shop,
            member_id=voucher.member_id,
            reason=Reason.REDEEM,
            voucher=voucher,
            group=group,
            idempotency_key=idempotency_key,
            staff=staff,
            created_at=now,
        )
        Member.objects.filter(pk=voucher.member_id).update(last_visit_at=now)
    return ActionResult(group, [entry], voucher_redeemed=voucher)


def _refuse_if_spent(member: Member, entries: list[LedgerEntry], cards: set[int]) -> None:
    """One rule for undoing stamps, points and purchases: what the undo would take back must still be
    there. Stamps already turned into a reward, or points already spent, stay; a manager refunds the
    purchase or adjusts the balance instead. The caller holds the member lock."""
    points = sum(e.points for e in entries)
    balances = dict(MemberCard.objects.filter(pk__in=cards).values_list("pk", "stamps"))
    stamps_short = any(balances[card] - sum(e.stamps for e in entries if e.card_id == card) < 0 for card in balances)
    if stamps_short or (points > 0 and member.points - points < 0):
        raise LoyaltyError(
            _(
                "What this would take back is already spent. Ask a manager to refund the purchase or adjust "
                "the balance instead."
            ),
            code="already_spent",
        )


@_idempotent
def action_undo(*, shop: Shop, group: uuid.UUID, staff: User, idempotency_key: str) -> ActionResult:
    """Undo a counter action within the undo window, by writing void entries."""
    with transaction.atomic():
        entries = list(LedgerEntry.objects.filter(shop=shop, group=group).exclude(reason=Reason.VOID).order_by("id"))
        if not entries:
            raise LoyaltyError(_("Nothing to undo."), code="not_found")
        locked = _lock_member(entries[0].member_id)
        cards = {e.card_id for e in entries if e.card_id}
        vouchers = {
            v.pk: v
            for v in Voucher.objects.select_for_update().filter(pk__in=[e.voucher_id for e in entries if e.voucher_id])
        }
        if replay := _replay(shop, idempotency_key):
            return replay
        if LedgerEntry.objects.filter(voids__in=entries).exists():
            raise LoyaltyError(_("This was already undone."), code="already_undone")
        if any(e.reason == Reason.REFUND for e in entries):
            raise LoyaltyError(_("A refund cannot be undone; record the purchase again instead."), code="refund")
        if Purchase.objects.filter(group=group, refunded_amount__gt=0).exists():
            raise LoyaltyError(_("This purchase was partly refunded; it cannot be undone."), code="refunded")
        now = timezone.now()
        if now - entries[0].created_at > undo_window():
            raise LoyaltyError(
                _("Undo works for %(minutes)d minutes; ask a manager to adjust the balance instead.")
                % {"minutes": settings.COUNTER_UNDO_MINUTES},
                code="too_late",
            )
        _refuse_if_spent(locked, entries, cards)
        for entry in entries:
            voucher = vouchers.get(entry.voucher_id)
            if entry.reason == Reason.CARD_COMPLETE and voucher:
                if voucher.status == Voucher.Status.REDEEMED:
                    raise LoyaltyError(
                        _("The reward from this card was already redeemed, so the stamp cannot be undone."),
                        code="voucher_used",
                    )
                Voucher.objects.filter(pk=voucher.pk).update(status=Voucher.Status.VOIDED)
            elif entry.reason == Reason.REDEEM and voucher:
                Voucher.objects.filter(pk=voucher.pk, status=Voucher.Status.REDEEMED).update(
                    status=Voucher.Status.ISSUED, redeemed_at=None, redeemed_by=None
                )
        void_group = uuid.uuid4()
        voids = []
        # Newest first, so the card never dips below zero on the way back.
        for index, entry in enumerate(reversed(entries)):
            voids.append(
                LedgerEntry.objects.create(
                    shop=shop,
                    member_id=entry.member_id,
                    card_id=entry.card_id,
                    reason=Reason.VOID,
                    stamps=-entry.stamps,
                    points=-entry.points,
                    voucher_id=entry.voucher_id,
                    voids=entry,
                    group=void_group,
                    idempotency_key=idempotency_key if index == 0 else None,
                    staff=staff,
                    created_at=now,
                )
            )
            if entry.card_id and entry.stamps:
                MemberCard.objects.filter(pk=entry.card_id).update(stamps=F("stamps") - entry.stamps)
            if entry.points:
                Member.objects.filter(pk=entry.member_id).update(points=F("points") - entry.points)
            if entry.reward_id and entry.reason == Reason.REDEEM:
                # The reward goes back on the shelf.
                CatalogueReward.objects.filter(pk=entry.reward_id, stock__isnull=False).update(stock=F("stock") + 1)
        # An undone purchase counts as fully refunded, so it cannot be refunded again.
        Purchase.objects.filter(group=group).update(
            refunded_amount=F("amount"), points_reversed=F("points_earned"), points_returned=F("points_spent")
        )
    return ActionResult(void_group, voids)


@_idempotent
def stamps_adjust(
    *, member: Member, program: StampProgram, stamps: int, note: str, staff: User, idempotency_key: str
) -> ActionResult:
    """A manager corrects a balance, with the reason recorded."""
    if not note.strip():
        raise LoyaltyError(_("Say why the balance changes."), code="note_required")
    if stamps == 0:
        raise LoyaltyError(_("Enter a number of stamps other than zero."), code="bad_count")
    if not _may(member.shop, staff, "balances.adjust"):
        raise LoyaltyError(_("Only a manager or owner can adjust balances."), code="override_denied")
    with transaction.atomic():
        _lock_member(member.pk)
        card = _card(member, program)
        if replay := _replay(member.shop, idempotency_key):
            return replay
        if card.stamps + stamps < 0:
            raise LoyaltyError(
                _("The card has only %(stamps)d stamps; it cannot go below zero.") % {"stamps": card.stamps},
                code="negative",
            )
        now = timezone.now()
        group = uuid.uuid4()
        entry = LedgerEntry.objects.create(
            shop_id=member.shop_id,
            member=member,
            card=card,
            reason=Reason.ADJUSTMENT,
            stamps=stamps,
            group=group,
            idempotency_key=idempotency_key,
            staff=staff,
            note=note.strip(),
            created_at=now,
        )
        MemberCard.objects.filter(pk=card.pk).update(stamps=F("stamps") + stamps)
        card.stamps += stamps
        vouchers = _complete_cards(card=card, program=program, group=group, staff=staff, now=now)
    return ActionResult(group, [entry], vouchers)


def ledger_drift() -> list[tuple[object, int, int]]:
    """Balances that differ from the sum of their ledger rows: (card or member, cached, ledger).

    Computed in the database, one query for cards and one for members' points,
    whatever the number of rows."""

    def ledger_sum(field: str, column: str):
        rows = LedgerEntry.objects.filter(**{field: OuterRef("pk")}).values(field).annotate(total=Sum(column))
        return Coalesce(Subquery(rows.values("total")), 0)

    cards = MemberCard.objects.annotate(ledger_total=ledger_sum("card", "stamps")).exclude(stamps=F("ledger_total"))
    members = Member.objects.annotate(ledger_total=ledger_sum("member", "points")).exclude(points=F("ledger_total"))
    return [(card, card.stamps, card.ledger_total) for card in cards.select_related("member", "program")] + [
        (member, member.points, member.ledger_total) for member in members
    ]


def points_rule_save(*, rule, expiry_from=None) -> None:
    """Change how points are earned and spent. Points already earned keep the expiry terms they were
    earned under: changed terms apply to points earned from ``expiry_from`` (now, or a date the owner
    schedules) on, and the rule keeps the date it first started."""
    from .models import PointsExpiryTerms

    with transaction.atomic():
        before = (
            PointsRule.objects.filter(pk=rule.pk).values("expiry", "expiry_months", "expiry_since").first()
            if rule.pk
            else None
        )
        now = timezone.now()
        changed = before is None or (before["expiry"], before["expiry_months"]) != (rule.expiry, rule.expiry_months)
        if changed:
            history = PointsExpiryTerms.objects.filter(shop_id=rule.shop_id)
            if before and before["expiry_since"] and not history.exists():
                # Terms set before history was kept: record them first, from when they began.
                PointsExpiryTerms.objects.create(
                    shop_id=rule.shop_id, expiry=before["expiry"], months=before["expiry_months"],
                    valid_from=before["expiry_since"],
                )  # fmt: skip
            PointsExpiryTerms.objects.create(
                shop_id=rule.shop_id, expiry=rule.expiry, months=rule.expiry_months, valid_from=expiry_from or now
            )
            if rule.expiry_since is None:
                rule.expiry_since = expiry_from or now
        rule.save()


def reward_save(*, reward: CatalogueReward, old_image: str = "") -> CatalogueReward:
    """Create or change a catalogue reward; a replaced picture's file goes after the commit."""
    with transaction.atomic():
        reward.save()
        if old_image and old_image != reward.image.name:
            storage = reward.image.storage
            transaction.on_commit(lambda: storage.delete(old_image))
    return reward


def tier_settings_save(*, policy=None, tier=None) -> None:
    """Change how tiers work. Members keep their tier until they next qualify higher or the
    daily review (with its grace) moves them: nothing is rewritten backwards."""
    with transaction.atomic():
        if policy is not None:
            policy.save()
        if tier is not None:
            tier.save()


def program_save(*, program: StampProgram, staff=None) -> StampProgram:
    """Create or change a stamp program. Stamps already earned stay as they are. A lower target
    gives every card that is now full its voucher at once (exactly once: the card's stamps go
    down by the target as it does), each under its member's lock."""
    with transaction.atomic():
        program.save()
        now = timezone.now()
        if program.is_active:
            full = MemberCard.objects.filter(program=program, stamps__gte=program.stamps_needed)
            for card_id, member_id in full.order_by("member_id").values_list("pk", "member_id"):
                _lock_member(member_id)
                card = MemberCard.objects.get(pk=card_id)
                _complete_cards(card=card, program=program, group=uuid.uuid4(), staff=staff, now=now)
    return program


def vouchers_expire(*, now=None) -> int:
    """Mark vouchers past their date as expired. Idempotent: run it as often as you like."""
    now = now or timezone.now()
    with transaction.atomic():
        return Voucher.objects.filter(status=Voucher.Status.ISSUED, expires_at__lte=now).update(
            status=Voucher.Status.EXPIRED
        )
