"""The usual order: a shop's optional short menu, the items a visit or a purchase was tagged with at
the counter, and what a member usually has.

Without a menu nothing changes for a shop: the counter shows no items and asks nothing more."""

from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from members.models import Member, Shop, User
from members.tenancy import staff_may

from ..config import shop_rewards
from ..ledger import Code, LoyaltyError, Reason
from ..models import ItemSold, LedgerEntry, MenuItem

# Items one action can be tagged with: a round for a table, not a catering order.
MOST_ITEMS = 12
# The visits the usual order is drawn from, latest first.
USUAL_FROM = 20

MENU_FIELDS = {"name", "tag", "price", "position", "is_active"}


def menu_item_save(*, shop: Shop, item: MenuItem | None = None, fields: dict, by: User) -> MenuItem:
    """Add an item to the menu or change one. An item once sold stays (its history names it): taking
    it off the menu hides it from the counter."""
    if not staff_may(shop, by, "programs.edit"):
        raise LoyaltyError(_("Only a manager or owner can change the menu."), code=Code.NOT_ALLOWED)
    unknown = set(fields) - MENU_FIELDS
    if unknown:
        raise ValueError(f"Not a menu item's setting: {sorted(unknown)}")
    if item is not None and item.shop_id != shop.pk:
        raise LoyaltyError(_("This item belongs to another shop."), code=Code.WRONG_SHOP)
    with transaction.atomic():
        item = item or MenuItem(shop=shop)
        for name, value in fields.items():
            setattr(item, name, value)
        item.full_clean()
        # Saving renews the shop's settings key (rewards.config watches the menu).
        item.save()
    return item


def items_for(shop: Shop, public_ids: list) -> list[MenuItem] | None:
    """The menu items the counter's form named, from the shop's settings (no query); None when one
    is not on this shop's menu now, or there are too many."""
    menu = {item.public_id: item for item in shop_rewards(shop).menu}
    if len(public_ids) > MOST_ITEMS:
        return None
    items = [menu.get(public_id) for public_id in public_ids]
    return None if any(item is None for item in items) else items


def items_record(member: Member, entries: list[LedgerEntry], items: list[MenuItem], now) -> list[ItemSold]:
    """Tag the action's visit or purchase row with what the member had, in the action's transaction
    (the caller holds the member lock)."""
    if not items:
        return []
    entry = next((e for e in entries if e.reason in (Reason.PURCHASE, Reason.VISIT, Reason.PLAN_ITEM)), None)
    if entry is None:
        return []
    return ItemSold.objects.bulk_create(
        [ItemSold(shop_id=member.shop_id, member=member, item=item, entry=entry, created_at=now) for item in items]
    )


@dataclass(frozen=True)
class Usual:
    item: MenuItem
    times: int  # of the visits counted
    visits: int  # the member's visits with items, of the last USUAL_FROM


def usual_order(member: Member) -> Usual | None:
    """What the member has most often, over their last tagged visits not undone; one query, none in
    a shop without a menu. A tie goes to what they had last."""
    if not shop_rewards(member.shop).has_menu:
        return None
    rows = list(
        ItemSold.objects.filter(member=member, entry__voided_by__isnull=True)
        .select_related("item")
        .order_by("-created_at", "-id")[: USUAL_FROM * 3]
    )
    visits: list[int] = []
    for row in rows:
        if row.entry_id not in visits:
            visits.append(row.entry_id)
    visits = visits[:USUAL_FROM]
    counted = Counter()
    items = {}
    for row in rows:
        if row.entry_id in visits:
            counted[row.item_id] += 1
            items.setdefault(row.item_id, row.item)  # latest first: a tie keeps the most recent
    if not counted:
        return None
    best = max(counted.values())
    item_id = next(item_id for item_id in items if counted[item_id] == best)
    return Usual(items[item_id], best, len(visits))


def counter_note_set(*, member: Member, note: str, staff: User) -> Member:
    """What staff keep in mind for the member ("oat milk"), kept short and plain."""
    if not staff_may(member.shop, staff, "counter.use"):
        raise LoyaltyError(_("Only the shop's staff can keep a note."), code=Code.NOT_ALLOWED)
    note = " ".join((note or "").split())[:100]
    Member.objects.filter(pk=member.pk).update(counter_note=note)
    member.counter_note = note
    return member
