"""Two records of one person made one, and undone within a day.

The ledger is append-only, so balances move by rows of their own (reason MERGED, one group): the
stamps of each of the merged record's cards come off it and onto the kept record's card of the same
program, and its points likewise; a card that fills up issues its vouchers at once. What has no
balance (vouchers, purchases, tier history, referrals, and campaigns' reach through
``signals.members_merged``) changes owner. The merged record is then closed like an erased one
(hidden from lists and look-ups, its personal data gone), with everything an undo needs kept in its
``MemberMerge`` row.
"""

import uuid
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from members.duplicates import UNDO_WINDOW, Pair, forget_count, likely_duplicates
from members.emails import canonical_email
from members.models import AuditEntry, Member, MemberMerge, Shop, User
from members.tenancy import staff_may

from .. import signals
from ..ledger import Code, LoyaltyError, Reason, card_for, lock_member, post_all
from ..models import LedgerEntry, MemberCard, Membership, Purchase, Tier, TierChange, TierTrial, Voucher
from . import tiers
from .stamps import complete_cards
from .undo import refuse_if_spent

__all__ = ["UNDO_WINDOW", "Pair", "likely_duplicates", "member_merge", "merge_undo", "merges_of", "undoable"]

# What the merged record held of a person: blanked when it closes, put back by an undo.
PERSONAL = (
    "name", "email", "phone", "birthday", "user_id", "marketing_consent", "consent_version", "consent_at",
    "consent_method", "joined_from",
)  # fmt: skip
# Filled on the kept record from the merged one when the kept one has none.
FILLED = ("email", "phone", "birthday", "user_id")


def _json(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _from_json(name: str, value):
    if value is None:
        return None
    if name == "birthday":
        return parse_date(value)
    if name == "consent_at":
        return parse_datetime(value)
    return value


def undoable(record: MemberMerge, now=None) -> bool:
    """Whether a merge may still be undone (not undone yet, less than a day old): what pages show."""
    now = now or timezone.now()
    return record.undone_at is None and now - record.created_at < UNDO_WINDOW


def _lock_pair(first_id: int, second_id: int, *, present: tuple[int, ...]) -> dict[int, Member]:
    """Lock both rows in primary-key order, so two managers merging one pair in opposite directions
    queue up instead of deadlocking. ``present``: the ids that must not be closed (erased or merged)."""
    locked = {}
    for pk in sorted((first_id, second_id)):
        if pk in present:
            try:
                locked[pk] = lock_member(pk)
            except Member.DoesNotExist:
                raise LoyaltyError(
                    _("One of the two records was merged or erased meanwhile. Look the member up again."),
                    code=Code.NOT_FOUND,
                ) from None
        else:
            # A merged record is closed: the ledger's lock only finds present members.
            locked[pk] = Member.all_objects.select_for_update(of=("self",)).select_related("tier", "shop").get(pk=pk)
    return locked


def _pending_merge(member: Member, now) -> bool:
    """The record took in another less than a day ago: closing it now would leave that merge with
    nowhere to be undone."""
    return MemberMerge.objects.filter(kept=member, undone_at__isnull=True, created_at__gt=now - UNDO_WINDOW).exists()


def _rank(tier: Tier | None) -> int:
    return -1 if tier is None else tier.threshold


def _move_balances(keep: Member, merge: Member, *, group, by, now) -> list[Voucher]:
    """MERGED rows taking the merged record's stamps and points off it and onto the kept record, then
    the vouchers of cards that filled up."""
    cards = list(MemberCard.objects.filter(member=merge, stamps__gt=0).select_related("program").order_by("pk"))
    off = [{"reason": Reason.MERGED, "card": card, "stamps": -card.stamps, "staff": by} for card in cards]
    targets = [card_for(keep, card.program) for card in cards]
    on = [
        {"reason": Reason.MERGED, "card": target, "stamps": card.stamps, "staff": by}
        for card, target in zip(cards, targets, strict=True)
    ]
    if merge.points:
        off.append({"reason": Reason.MERGED, "points": -merge.points, "staff": by})
        on.append({"reason": Reason.MERGED, "points": merge.points, "staff": by})
    entries = []
    if off:
        note_off = _("Moved to %(code)s") % {"code": keep.code}
        note_on = _("Moved from %(code)s") % {"code": merge.code}
        entries += post_all(merge, [{**row, "note": note_off} for row in off], group=group, now=now)
        entries += post_all(keep, [{**row, "note": note_on} for row in on], group=group, now=now)
    issued = []
    for card in targets:
        issued += complete_cards(
            member=keep, card=card, program=card.program, group=group, staff=by, now=now, entries=entries
        )
    return issued


def _move_trials(keep: Member, merge: Member, now) -> tuple[list[int], list[int]]:
    """The merged record's tier trials go to the kept one; a running one too, unless the kept record
    has its own running (one at a time): then the merged record's ends now."""
    trials = TierTrial.objects.filter(member=merge)
    ended = []
    if TierTrial.objects.filter(member=keep, ended_at__isnull=True).exists():
        ended = list(trials.filter(ended_at__isnull=True).values_list("pk", flat=True))
        TierTrial.objects.filter(pk__in=ended).update(ended_at=now)
    moved = list(trials.exclude(pk__in=ended).values_list("pk", flat=True))
    TierTrial.objects.filter(pk__in=moved).update(member=keep)
    return moved, ended


def _keep_higher_tier(keep: Member, merge: Member, now, moved: list[int]) -> dict:
    """The kept record holds the higher of the two tiers, then moves up if it now qualifies higher.
    ``moved``: the merged record's tier changes, now the kept one's."""
    before = {"tier": keep.tier_id, "short_since": _json(keep.tier_short_since)}
    if _rank(merge.tier) > _rank(keep.tier):
        TierChange.objects.create(
            shop_id=keep.shop_id, member=keep, from_tier=keep.tier, to_tier=merge.tier,
            reason=TierChange.Reason.MANUAL, created_at=now,
        )  # fmt: skip
        Member.objects.filter(pk=keep.pk).update(tier=merge.tier, tier_short_since=None)
        keep.tier, keep.tier_short_since = merge.tier, None
    tiers.tier_refresh(member=keep, now=now)
    return {
        **before,
        "after": keep.tier_id,
        "changes": list(
            TierChange.objects.filter(member=keep, created_at=now).exclude(pk__in=moved).values_list("pk", flat=True)
        ),
    }


def member_merge(*, shop: Shop, keep: Member, merge: Member, by: User | None, now=None) -> MemberMerge:
    """Merge ``merge`` into ``keep``: one person, one record. Refused with ``LoyaltyError`` when the
    two are one record, of another shop, closed, or when ``merge`` took in another record less
    than a day ago (that merge could no longer be undone)."""
    if keep.pk == merge.pk:
        raise LoyaltyError(_("A record cannot be merged with itself."), code=Code.SAME_MEMBER)
    if keep.shop_id != shop.pk or merge.shop_id != shop.pk:
        raise LoyaltyError(_("Both records must be members of this shop."), code=Code.WRONG_SHOP)
    if by is not None and not staff_may(shop, by, "members.merge"):
        raise LoyaltyError(_("Only a manager or owner can merge members."), code=Code.NOT_ALLOWED)
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_pair(keep.pk, merge.pk, present=(keep.pk, merge.pk))
        keep, merge = locked[keep.pk], locked[merge.pk]
        if _pending_merge(merge, now):
            raise LoyaltyError(
                _(
                    "%(code)s took in another record less than a day ago. Keep %(code)s instead, or merge "
                    "tomorrow, when that merge can no longer be undone."
                )
                % {"code": merge.code},
                code=Code.MERGE_PENDING,
            )
        group = uuid.uuid4()
        issued = _move_balances(keep, merge, group=group, by=by, now=now)
        moved: dict = {"issued": [voucher.pk for voucher in issued]}

        vouchers = Voucher.objects.filter(member=merge)
        moved["vouchers"] = list(vouchers.values_list("pk", flat=True))
        moved["vouchers_usable"] = list(vouchers.filter(status=Voucher.Status.ISSUED).values_list("pk", flat=True))
        vouchers.update(member=keep)
        # Memberships and prepaid bundles keep their items (their balance is their own rows').
        moved["memberships"] = list(Membership.objects.filter(member=merge).values_list("pk", flat=True))
        Membership.objects.filter(pk__in=moved["memberships"]).update(member=keep)
        moved["purchases"] = list(Purchase.objects.filter(member=merge).values_list("pk", flat=True))
        Purchase.objects.filter(pk__in=moved["purchases"]).update(member=keep)
        moved["tier_changes"] = list(TierChange.objects.filter(member=merge).values_list("pk", flat=True))
        TierChange.objects.filter(pk__in=moved["tier_changes"]).update(member=keep)
        moved["tier_trials"], moved["trials_ended"] = _move_trials(keep, merge, now)
        # The kept record is never its own referrer, whoever referred whom.
        referrals = Member.all_objects.filter(referred_by=merge).exclude(pk=keep.pk)
        moved["referrals"] = list(referrals.values_list("pk", flat=True))
        Member.all_objects.filter(pk__in=moved["referrals"]).update(referred_by=keep)

        # The merged record's personal data, kept for an undo; it closes first, so its phone and
        # e-mail are free for the kept record (one member per phone and per mailbox in a shop).
        moved["fields"] = {name: _json(getattr(merge, name)) for name in PERSONAL}
        moved["language"] = merge.language
        Member.all_objects.filter(pk=merge.pk).update(
            name="", email="", email_canonical="", phone="", birthday=None, marketing_consent=False,
            consent_version="", consent_at=None, consent_method="", user=None, joined_from="", erased_at=now,
        )  # fmt: skip
        filled = {name: getattr(merge, name) for name in FILLED if getattr(merge, name) and not getattr(keep, name)}
        moved["filled"] = {name: _json(value) for name, value in filled.items()}
        if filled:
            if "email" in filled:
                filled["email_canonical"] = canonical_email(filled["email"])
            Member.all_objects.filter(pk=keep.pk).update(**filled)
            for name, value in filled.items():
                setattr(keep, name, value)
        # The kept record was last seen when either of the two was.
        moved["last_visit"] = {"before": _json(keep.last_visit_at), "after": _json(merge.last_visit_at)}
        if merge.last_visit_at and (keep.last_visit_at is None or merge.last_visit_at > keep.last_visit_at):
            Member.all_objects.filter(pk=keep.pk).update(last_visit_at=merge.last_visit_at)
            keep.last_visit_at = merge.last_visit_at
        else:
            moved["last_visit"]["after"] = moved["last_visit"]["before"]

        answers = signals.members_merged.send(sender=Member, kept=keep, merged=merge, now=now)
        moved["extra"] = {}
        for _receiver, answer in answers:
            moved["extra"].update(answer or {})
        record = MemberMerge.objects.create(
            shop=shop, kept=keep, merged=merge, by=by, created_at=now, group=group, moved=moved
        )
        # With the merge recorded, the merged record's history counts towards the kept one's tier.
        moved["tier"] = _keep_higher_tier(keep, merge, now, moved["tier_changes"])
        MemberMerge.objects.filter(pk=record.pk).update(moved=moved)
        AuditEntry.objects.create(
            shop=shop, actor=by, action=AuditEntry.Action.MEMBERS_MERGED, subject=f"{merge.code} → {keep.code}",
            created_at=now,
        )  # fmt: skip
        forget_count(shop.pk)
    return record


def _refuse(message: str, code: Code):
    raise LoyaltyError(message, code=code)


def merge_undo(*, merge_record: MemberMerge, by: User | None, now=None) -> MemberMerge:
    """Undo a merge within a day, exactly: VOID rows for its ledger rows, the vouchers its full cards
    issued voided, everything that moved moved back, the merged record open again with its data.
    Refused when that can no longer be done exactly: too late, undone already, or what moved was
    spent, redeemed or refunded since."""
    now = now or timezone.now()
    shop = merge_record.shop
    if by is not None and not staff_may(shop, by, "members.merge"):
        raise LoyaltyError(_("Only a manager or owner can undo a merge."), code=Code.NOT_ALLOWED)
    with transaction.atomic():
        locked = _lock_pair(merge_record.kept_id, merge_record.merged_id, present=(merge_record.kept_id,))
        keep, merge = locked[merge_record.kept_id], locked[merge_record.merged_id]
        record = MemberMerge.objects.select_for_update().get(pk=merge_record.pk)
        if record.undone_at is not None:
            _refuse(_("This merge was already undone."), Code.ALREADY_UNDONE)
        if now - record.created_at >= UNDO_WINDOW:
            _refuse(_("A merge can be undone for a day only. Adjust the balances by hand instead."), Code.TOO_LATE)
        moved = record.moved
        entries = list(
            LedgerEntry.objects.filter(shop=shop, group=record.group).exclude(reason=Reason.VOID).order_by("id")
        )
        if LedgerEntry.objects.filter(voids__in=entries).exists():
            _refuse(_("This merge was already undone."), Code.ALREADY_UNDONE)
        kept_rows = [entry for entry in entries if entry.member_id == keep.pk]
        cards = MemberCard.objects.in_bulk({entry.card_id for entry in entries if entry.card_id})
        refuse_if_spent(keep, kept_rows, {pk: card for pk, card in cards.items() if card.member_id == keep.pk})
        spent = Voucher.objects.filter(
            pk__in=[*moved["issued"], *moved["vouchers_usable"]], status=Voucher.Status.REDEEMED
        )
        if spent.exists():
            _refuse(_("A voucher that moved with the merge, or that it issued, was redeemed since."), Code.VOUCHER_USED)
        refunded = LedgerEntry.objects.filter(
            purchase_id__in=moved["purchases"], reason=Reason.REFUND, created_at__gte=record.created_at
        )
        if refunded.exists():
            _refuse(_("A purchase that moved with the merge was refunded since."), Code.PARTLY_REFUNDED)
        fields = {name: _from_json(name, value) for name, value in moved["fields"].items()}
        _refuse_if_taken(shop, keep, merge, fields, moved["filled"])

        # The kept record gives back what it was filled with (if still so), then the merged one opens.
        kept_back = {name: "" if name != "birthday" and name != "user_id" else None for name in moved["filled"]}
        kept_now = {name: _json(getattr(keep, name)) for name in moved["filled"]}
        kept_back = {name: value for name, value in kept_back.items() if kept_now[name] == moved["filled"][name]}
        if kept_back:
            if "email" in kept_back:
                kept_back["email_canonical"] = ""
            Member.all_objects.filter(pk=keep.pk).update(**kept_back)
        restored = {**fields, "language": moved["language"], "erased_at": None}
        restored["email_canonical"] = canonical_email(fields["email"] or "")
        Member.all_objects.filter(pk=merge.pk).update(**restored)
        merge.erased_at = None

        _void(keep, merge, entries, cards, by=by, now=now)
        Voucher.objects.filter(pk__in=moved["issued"]).update(status=Voucher.Status.VOIDED)
        Voucher.objects.filter(pk__in=moved["vouchers"], member=keep).update(member=merge)
        Purchase.objects.filter(pk__in=moved["purchases"], member=keep).update(member=merge)
        TierChange.objects.filter(pk__in=moved["tier_changes"], member=keep).update(member=merge)
        TierTrial.objects.filter(pk__in=moved["tier_trials"], member=keep).update(member=merge)
        Membership.objects.filter(pk__in=moved.get("memberships", []), member=keep).update(member=merge)
        TierTrial.objects.filter(pk__in=moved["trials_ended"], ended_at=record.created_at).update(ended_at=None)
        Member.all_objects.filter(pk__in=moved["referrals"], referred_by=keep).update(referred_by=merge)
        tier = moved["tier"]
        if keep.tier_id == tier["after"]:
            short_since = parse_date(tier["short_since"]) if tier["short_since"] else None
            Member.all_objects.filter(pk=keep.pk).update(tier_id=tier["tier"], tier_short_since=short_since)
            TierChange.objects.filter(pk__in=tier["changes"], member=keep).delete()
        seen = moved["last_visit"]
        if seen["after"] != seen["before"] and _json(keep.last_visit_at) == seen["after"]:
            before = parse_datetime(seen["before"]) if seen["before"] else None
            Member.all_objects.filter(pk=keep.pk).update(last_visit_at=before)

        signals.merge_undoing.send(sender=Member, kept=keep, merged=merge, moved=moved["extra"], now=now)
        MemberMerge.objects.filter(pk=record.pk).update(undone_at=now, undone_by=by)
        AuditEntry.objects.create(
            shop=shop, actor=by, action=AuditEntry.Action.MERGE_UNDONE, subject=f"{merge.code} → {keep.code}",
            created_at=now,
        )  # fmt: skip
        forget_count(shop.pk)
    record.undone_at, record.undone_by = now, by
    return record


def _refuse_if_taken(shop: Shop, keep: Member, merge: Member, fields: dict, filled: dict) -> None:
    """The merged record's phone and e-mail must still be free (the kept record's own aside, when it
    gives them back): a member who joined with them since keeps them."""
    others = Member.all_objects.filter(shop=shop).exclude(pk=merge.pk)
    for name, lookup in (("phone", "phone"), ("email", "email_canonical")):
        value = fields.get(name) or ""
        if not value:
            continue
        wanted = canonical_email(value) if name == "email" else value
        holders = others.filter(**{lookup: wanted})
        if filled.get(name) == value:
            holders = holders.exclude(pk=keep.pk)
        if holders.exists():
            _refuse(
                _("The merged record's %(what)s now belongs to another member, so the merge cannot be undone.")
                % {"what": _("phone number") if name == "phone" else _("e-mail address")},
                Code.TAKEN,
            )


def _void(keep: Member, merge: Member, entries: list[LedgerEntry], cards: dict, *, by, now) -> None:
    """VOID rows mirroring the merge's rows, newest first (a card never dips below zero on the way
    back), each on its own member's ledger, in one group."""
    group = uuid.uuid4()
    for member in (keep, merge):
        rows = [
            {
                "reason": Reason.VOID, "card": cards.get(entry.card_id), "stamps": -entry.stamps,
                "points": -entry.points, "voucher_id": entry.voucher_id, "voids": entry, "staff": by,
            }
            for entry in reversed(entries)
            if entry.member_id == member.pk
        ]  # fmt: skip
        if rows:
            post_all(member, rows, group=group, now=now)


def merges_of(member: Member) -> list[MemberMerge]:
    """The records ``member`` took in, merges that stand, latest first: what its page shows."""
    return list(MemberMerge.objects.filter(kept=member, undone_at__isnull=True).select_related("merged", "by"))
