"""Stamps and vouchers: a stamp for a visit, a voucher for a full card, the voucher redeemed, and a
manager's correction of a card."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from members.models import Member, Shop, User
from members.tenancy import staff_may

from .. import signals, webhook_events
from ..ledger import ActionResult, Code, LoyaltyError, Reason, card_for, idempotent, lock_member, post, replay
from ..models import LedgerEntry, MemberCard, OverrideReason, StampProgram, Voucher
from . import challenges, giving, menu, tiers
from .grants import complete_cards


def check_override(shop: Shop, staff: User, override: bool, reason: str) -> None:
    """Every override is a manager's, with a reason from the list (and an optional note)."""
    if not override:
        return
    if not staff_may(shop, staff, "counter.override"):
        raise LoyaltyError(_("Only a manager or owner can override the limits."), code=Code.NOT_ALLOWED)
    if reason not in OverrideReason.values:
        raise LoyaltyError(_("Choose why the limits are overridden."), code=Code.OVERRIDE_REASON)


def open_visits(member_id: int, now):
    """The member's visit that began within VISIT_MINUTES before ``now``, as a queryset: while there
    is one, a stamp or purchase is part of it (+3 +3 +1 given in a minute with an override is one
    visit)."""
    since = now - timedelta(minutes=settings.VISIT_MINUTES)
    return LedgerEntry.objects.filter(member_id=member_id, created_at__gt=since, created_at__lte=now).visits()


def opens_visit(member_id: int, now) -> bool:
    """Whether a stamp or purchase now begins a visit. The caller holds the member lock."""
    return not open_visits(member_id, now).exists()


def visit_recorded(member: Member, now, entries: list[LedgerEntry], items=()):
    """A stamp or a purchase (whose row moved the last visit), its rows ``entries``, tagged with the
    menu ``items`` the member had: tiers move up at once; the shop gives to its running causes; the
    challenges it meets are completed; the apps above hear of it. Returns where the member now
    stands on the tier ladder (None without tiers, or if the rows do not count towards one)."""
    current = tiers.tier_refresh(member=member, now=now, entries=entries)
    menu.items_record(member, entries, items, now)
    giving.visit_given(member, now, entries)
    challenges.visit_counted(member, now, entries, items)
    signals.visit_recorded.send(sender=Member, member=member, now=now)
    return current


@idempotent
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
    items=(),
    at=None,
) -> ActionResult:
    """Add ``count`` stamps for a visit; a full card issues its voucher in the same transaction.
    ``items``: what the member had, from the shop's menu.

    ``at`` backdates the visit, for importing paper cards and for demo data;
    the counter always uses the present."""
    if program.shop_id != member.shop_id:
        raise LoyaltyError(_("This card belongs to another shop."), code=Code.WRONG_SHOP)
    with transaction.atomic():
        locked = lock_member(member.pk, idempotency_key)
        # Checked under the lock: a twin request that won the lock has committed by now.
        if replayed := replay(member.shop, idempotency_key, locked):
            return replayed
        now = at or timezone.now()
        group = uuid.uuid4()
        entries, vouchers = stamp_locked(
            member=locked, program=program, count=count, staff=staff, override=override, now=now, group=group,
            idempotency_key=idempotency_key, override_reason=override_reason, note=note, seen=True,
        )  # fmt: skip
        current = visit_recorded(locked, now, entries, items)
        webhook_events.visit(locked, now, entries, vouchers, group)
    return ActionResult(group, entries, vouchers, standing=current)


def _card_and_visits(member: Member, program: StampProgram, now) -> tuple[StampProgram, MemberCard, object, bool]:
    """In one query: the program as it is now (paused since the panel opened?), the member's card of
    it (made if it is the first stamp), when that card last had a visit's stamp, and whether this
    stamp opens a visit. The caller holds the member lock."""
    card = MemberCard.objects.filter(member_id=member.pk, program=OuterRef("pk"))
    last = LedgerEntry.objects.filter(
        member_id=member.pk, card__program=OuterRef("pk"), reason=Reason.VISIT, voided_by__isnull=True
    ).order_by("-created_at")
    fresh = (
        StampProgram.objects.filter(pk=program.pk)
        .annotate(
            card_id=Subquery(card.values("pk")[:1]),
            card_stamps=Subquery(card.values("stamps")[:1]),
            last_visit=Subquery(last.values("created_at")[:1]),
            visit_open=Exists(open_visits(member.pk, now)),
        )
        .get()
    )
    if fresh.card_id is None:
        held = MemberCard.objects.create(member=member, program=fresh)
    else:
        held = MemberCard.from_db(
            None, ["id", "member_id", "program_id", "stamps"], [fresh.card_id, member.pk, fresh.pk, fresh.card_stamps]
        )
        held.program = fresh
    return fresh, held, fresh.last_visit, not fresh.visit_open


def stamp_locked(
    *, member, program, count, staff, override, now, group, idempotency_key, override_reason="", note="", seen=False
) -> tuple[list[LedgerEntry], list[Voucher]]:
    """Stamp a card, its caller holding the member lock; every rule is checked here. ``seen``: the
    stamp is the visit's own row (a purchase's stamp is not: the purchase's row is)."""
    program, card, last, opens = _card_and_visits(member, program, now)
    if not program.is_active:
        raise LoyaltyError(_("The %(card)s is paused.") % {"card": program.name}, code=Code.PAUSED)
    if count < 1:
        raise LoyaltyError(_("Add at least one stamp."), code=Code.BAD_COUNT)
    check_override(member.shop, staff, override, override_reason)
    if count > program.max_stamps_per_visit and not override:
        raise LoyaltyError(
            ngettext(
                "At most %(limit)d stamp per visit.",
                "At most %(limit)d stamps per visit.",
                program.max_stamps_per_visit,
            )
            % {"limit": program.max_stamps_per_visit},
            code=Code.TOO_MANY,
        )
    if program.min_minutes_between_visits and not override:
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
                code=Code.TOO_SOON,
            )
    entries = [
        post(
            member, Reason.VISIT, card=card, stamps=count, group=group, staff=staff, now=now,
            opens_visit=opens, idempotency_key=idempotency_key, override=override, seen=seen,
            override_reason=override_reason if override else "", note=note.strip()[:200] if override else "",
        )
    ]  # fmt: skip
    # A member day or happy hour running at the moment of the stamp (not when
    # the panel was opened) adds its bonus as a row of its own, undone with the visit.
    if (boost := signals.boost_for(member=member, what="stamps", now=now)) and (extra := boost.bonus(count)):
        entries.append(
            post(
                member, Reason.CAMPAIGN, card=card, stamps=extra, group=group, staff=staff, now=now,
                note=boost.name[:200],
            )
        )  # fmt: skip
    vouchers = complete_cards(
        member=member, card=card, program=program, group=group, staff=staff, now=now, entries=entries
    )
    return entries, vouchers


@idempotent
def voucher_redeem(
    *, shop: Shop, voucher_id: int, staff: User, idempotency_key: str, at=None, voucher: Voucher | None = None
) -> ActionResult:
    """Redeem a voucher: a status change only one request can win. ``voucher``: the row, when the
    caller has just read it (the counter, to check it is the member's), so it is not read twice."""
    with transaction.atomic():
        # Read before the lock: the conditional UPDATE below is what decides, so a twin that
        # redeemed it meanwhile makes this one fail rather than redeem it twice.
        if voucher is None or voucher.pk != voucher_id or voucher.shop_id != shop.pk:
            voucher = Voucher.objects.filter(shop=shop, pk=voucher_id).first()
        if voucher is None:
            raise LoyaltyError(_("No such voucher."), code=Code.NOT_FOUND)
        locked = lock_member(voucher.member_id, idempotency_key)
        if replayed := replay(shop, idempotency_key, locked):
            return replayed
        now = at or timezone.now()
        changed = 0
        if voucher.status == Voucher.Status.ISSUED and not (voucher.expires_at and voucher.expires_at <= now):
            changed = Voucher.objects.filter(pk=voucher.pk, status=Voucher.Status.ISSUED).update(
                status=Voucher.Status.REDEEMED, redeemed_at=now, redeemed_by=staff
            )
        if changed != 1:
            voucher.refresh_from_db()
            if voucher.status == Voucher.Status.REDEEMED:
                when = timezone.localtime(voucher.redeemed_at, shop.tz).strftime("%Y-%m-%d %H:%M")
                raise LoyaltyError(
                    _("This voucher was already redeemed on %(when)s.") % {"when": when}, code=Code.REDEEMED
                )
            raise LoyaltyError(_("This voucher is expired or void and cannot be used."), code=Code.NOT_USABLE)
        voucher.status, voucher.redeemed_at, voucher.redeemed_by = Voucher.Status.REDEEMED, now, staff
        group = uuid.uuid4()
        entry = post(
            locked, Reason.REDEEM, voucher=voucher, group=group, idempotency_key=idempotency_key, staff=staff, now=now,
            seen=True,
        )  # fmt: skip
    return ActionResult(group, [entry], voucher_redeemed=voucher)


@idempotent
def stamps_adjust(
    *, member: Member, program: StampProgram, stamps: int, note: str, staff: User, idempotency_key: str
) -> ActionResult:
    """A manager corrects a balance, with the reason recorded."""
    if not note.strip():
        raise LoyaltyError(_("Say why the balance changes."), code=Code.NOTE_REQUIRED)
    if stamps == 0:
        raise LoyaltyError(_("Enter a number of stamps other than zero."), code=Code.BAD_COUNT)
    if not staff_may(member.shop, staff, "balances.adjust"):
        raise LoyaltyError(_("Only a manager or owner can adjust balances."), code=Code.NOT_ALLOWED)
    with transaction.atomic():
        locked = lock_member(member.pk, idempotency_key)
        if replayed := replay(member.shop, idempotency_key, locked):
            return replayed
        card = card_for(locked, program)
        if card.stamps + stamps < 0:
            raise LoyaltyError(
                _("The card has only %(stamps)d stamps; it cannot go below zero.") % {"stamps": card.stamps},
                code=Code.NEGATIVE,
            )
        now = timezone.now()
        group = uuid.uuid4()
        entry = post(
            locked, Reason.ADJUSTMENT, card=card, stamps=stamps, group=group, idempotency_key=idempotency_key,
            staff=staff, note=note.strip(), now=now,
        )  # fmt: skip
        vouchers = complete_cards(member=locked, card=card, program=program, group=group, staff=staff, now=now)
    return ActionResult(group, [entry], vouchers)


def vouchers_expire(*, now=None) -> int:
    """Mark vouchers past their date as expired. Idempotent: run it as often as you like."""
    now = now or timezone.now()
    with transaction.atomic():
        return Voucher.objects.filter(status=Voucher.Status.ISSUED, expires_at__lte=now).update(
            status=Voucher.Status.EXPIRED
        )
