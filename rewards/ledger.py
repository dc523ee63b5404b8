"""The one door to the ledger: every change of stamps or points goes through here.

A service (``rewards.services``) does its work in this order, inside one
``transaction.atomic``:

1. ``lock_member``: the member row is the one lock for everything of a member
   (cards, points, vouchers), taken first, so two actions on one member queue
   up and no two services lock the same rows in opposite orders;
2. ``replay``: a repeated idempotency key returns the first action's result
   (``idempotent`` does the same when a concurrent twin won the insert);
3. its rules, re-checked under the lock, refusing with ``LoyaltyError``;
4. ``post`` for every change: one ledger row and the cached balance it moves
   (a card's stamps, a member's points, a membership's prepaid items left), both
   in the caller's transaction.

Nothing else writes ``LedgerEntry`` or touches a cached balance, but for a members import
(``rewards/imports.py``), which writes thousands of members' opening rows and balances in bulk, in
one transaction per batch under the same locks; ``drift``
(and ``manage.py ledger_verify``) proves the balances equal the ledger.
"""

import functools
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from members.errors import Code, LoyaltyError
from members.models import Member, Shop

from . import wallet_sync, webhook_events
from .models import (
    CatalogueReward,
    Cause,
    Contribution,
    LedgerEntry,
    MemberCard,
    Membership,
    Purchase,
    StampProgram,
    Voucher,
)

Reason = LedgerEntry.Reason

__all__ = [
    "ActionResult", "Code", "LoyaltyError", "Reason", "card_for", "drift", "idempotent", "lock_member", "post",
    "post_all",
]  # fmt: skip

# What a form's idempotency key may hold: the counter renders a UUID in hex.
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@dataclass
class ActionResult:
    group: uuid.UUID
    entries: list[LedgerEntry] = field(default_factory=list)
    vouchers_issued: list[Voucher] = field(default_factory=list)
    voucher_redeemed: Voucher | None = None
    replayed: bool = False
    purchase: Purchase | None = None
    reward_redeemed: CatalogueReward | None = None
    # The membership the action sold, used an item of, or refunded (rewards.services.plans).
    membership: Membership | None = None
    # Things staff should know that did not stop the action (e.g. no stamp: too soon).
    notes: list[str] = field(default_factory=list)
    # Where the member stands on the tier ladder after the action (rewards.services.tiers.Standing),
    # when the action counted towards it: the counter shows it without counting again.
    standing: object = None

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

    @property
    def items(self) -> int:
        """Prepaid items the action moved: +10 for a bundle sold, -1 for one used."""
        return sum(entry.items for entry in self.entries)


def lock_member(member_id: int, idempotency_key: str | None = None) -> Member:
    """Lock a member's row (and so all their balances) until the transaction ends.

    With the action's idempotency key, the same query also finds whether an action already used
    it, for ``replay`` to answer without asking again."""
    members = Member.objects.select_for_update(of=("self",)).select_related("tier", "shop")
    if idempotency_key and IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        used = LedgerEntry.objects.filter(shop_id=OuterRef("shop_id"), idempotency_key=idempotency_key)
        members = members.annotate(replay_group=Subquery(used.values("group")[:1]))
    return members.get(pk=member_id)


def replay(shop: Shop, key: str | None, locked: Member | None = None) -> ActionResult | None:
    """The result of the action that already used this key, if any; a key no form of ours sends is
    refused. ``locked``: the member as ``lock_member`` returned it with this key, which knows."""
    if not key:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise LoyaltyError(
            _("This form is out of date. Open the member again and repeat the action."), code=Code.BAD_KEY
        )
    if locked is not None and hasattr(locked, "replay_group"):
        group = locked.replay_group
    else:
        group = LedgerEntry.objects.filter(shop=shop, idempotency_key=key).values_list("group", flat=True).first()
    if group is None:
        return None
    entries = list(
        LedgerEntry.objects.filter(shop=shop, group=group)
        .select_related("voucher", "reward", "membership")
        .order_by("id")
    )
    issued = [e.voucher for e in entries if e.reason == Reason.CARD_COMPLETE and e.voucher]
    redeemed = next((e.voucher for e in entries if e.reason == Reason.REDEEM and e.voucher), None)
    purchase = Purchase.objects.filter(group=group).first()
    reward = next((e.reward for e in entries if e.reason == Reason.REDEEM and e.reward_id), None)
    membership = next((e.membership for e in entries if e.membership_id), None)
    return ActionResult(
        group, entries, issued, redeemed, replayed=True, purchase=purchase, reward_redeemed=reward,
        membership=membership,
    )  # fmt: skip


def idempotent(function):
    """Run an action; if a concurrent twin with the same key won the insert, return its result."""

    @functools.wraps(function)
    def wrapper(*, idempotency_key: str, **kwargs):
        try:
            return function(idempotency_key=idempotency_key, **kwargs)
        except IntegrityError:
            shop = _shop_of(kwargs)
            replayed = replay(shop, idempotency_key)
            if replayed is None:
                raise
            return replayed

    return wrapper


def _shop_of(kwargs: dict) -> Shop:
    """The shop of an action, from the arguments it names it by."""
    for name in ("member", "membership"):
        if name in kwargs:
            return kwargs[name].shop
    return kwargs["shop"]


def card_for(member: Member, program: StampProgram) -> MemberCard:
    """A member's card of a program, made on first use; the caller holds the member lock, so no
    twin request can create the same card meanwhile."""
    card, _created = MemberCard.objects.get_or_create(member=member, program=program)
    return card


def post(
    member: Member, reason: str, *, group: uuid.UUID, now, card: MemberCard | None = None, stamps: int = 0,
    points: int = 0, membership: Membership | None = None, items: int = 0, seen: bool = False, **fields,
) -> LedgerEntry:  # fmt: skip
    """Write one ledger row and move the balance it changes: the card's stamps, the member's
    points and the membership's prepaid items, in the database with F() and on the instances the
    caller holds. ``seen``: the row is the member at the counter, so their last visit moves to
    ``now`` in the same UPDATE. The caller holds the member lock and the transaction."""
    row = {"reason": reason, "card": card, "stamps": stamps, "points": points, **fields}
    if membership is not None or items:
        row.update(membership=membership, items=items)
    return post_all(member, [row], group=group, now=now, seen=seen)[0]


def post_all(member: Member, rows: list[dict], *, group: uuid.UUID, now, seen: bool = False) -> list[LedgerEntry]:
    """``post`` for several rows of one action: one INSERT for the rows, one UPDATE for each balance
    they move together (a purchase's points earned and points paid move the member's once). A row
    with stamps names its card, one with items its membership, as instances."""
    entries = LedgerEntry.objects.bulk_create(
        [LedgerEntry(shop_id=member.shop_id, member=member, group=group, created_at=now, **row) for row in rows]
    )
    moved: dict[int, list] = {}
    held: dict[int, list] = {}
    for entry in entries:
        if entry.stamps:
            moved.setdefault(entry.card.pk, [entry.card, 0])[1] += entry.stamps
        if entry.items:
            held.setdefault(entry.membership.pk, [entry.membership, 0])[1] += entry.items
    for card, stamps in moved.values():
        MemberCard.objects.filter(pk=card.pk).update(stamps=F("stamps") + stamps)
        card.stamps += stamps
    for membership, items in held.values():
        Membership.objects.filter(pk=membership.pk).update(items_left=F("items_left") + items)
        membership.items_left += items
    points = sum(entry.points for entry in entries)
    if points or seen:
        changes = {"points": F("points") + points} if points else {}
        Member.objects.filter(pk=member.pk).update(**changes, **({"last_visit_at": now} if seen else {}))
        member.points += points
    _passes_changed(member)
    # Vouchers given or redeemed: announced here, where every one of them passes.
    webhook_events.ledger_rows(member, entries, now)
    return entries


def _passes_changed(member: Member) -> None:
    """Once the action commits, the member's wallet passes show its new balances: one UPDATE per
    action (rewards.wallet_sync.passes_changed), and no query at all in an installation that
    issues no passes."""
    if not wallet_sync.issuers() or getattr(member, "_passes_queued", False):
        return
    member._passes_queued = True

    def touch():
        member._passes_queued = False
        wallet_sync.passes_changed(member.pk)

    transaction.on_commit(touch)


def drift() -> list[tuple[object, int, int]]:
    """Balances that differ from the sum of their ledger rows: (card, member or membership, cached,
    ledger), and causes whose match so far differs from the sum of their MATCH contributions.

    Computed in the database, one query for cards, one for members' points, one for
    memberships' prepaid items and one for causes, whatever the number of rows."""

    def ledger_sum(field: str, column: str):
        rows = LedgerEntry.objects.filter(**{field: OuterRef("pk")}).values(field).annotate(total=Sum(column))
        return Coalesce(Subquery(rows.values("total")), 0)

    cards = MemberCard.objects.annotate(ledger_total=ledger_sum("card", "stamps")).exclude(stamps=F("ledger_total"))
    members = Member.all_objects.annotate(ledger_total=ledger_sum("member", "points")).exclude(points=F("ledger_total"))
    memberships = Membership.objects.annotate(ledger_total=ledger_sum("membership", "items")).exclude(
        items_left=F("ledger_total")
    )
    matches = Contribution.objects.filter(cause=OuterRef("pk"), kind=Contribution.Kind.MATCH).values("cause")
    causes = Cause.objects.annotate(
        ledger_total=Coalesce(Subquery(matches.annotate(total=Sum("amount")).values("total")), Decimal(0))
    ).exclude(matched=F("ledger_total"))
    return [
        *((card, card.stamps, card.ledger_total) for card in cards.select_related("member", "program")),
        *((cause, cause.matched, cause.ledger_total) for cause in causes),
        *((member, member.points, member.ledger_total) for member in members),
        *((held, held.items_left, held.ledger_total) for held in memberships.select_related("member", "plan")),
    ]
