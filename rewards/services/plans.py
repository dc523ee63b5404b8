"""Memberships and prepaid bundles: a plan sold at the counter, a bundle's items used one at a time,
and a refund that gives back the unused part, once.

A membership's prepaid items are a balance like a card's stamps: ledger rows' ``items`` move
``Membership.items_left`` (``ledger.post``). A sale is one PLAN_SOLD row (the money paid and, for a
bundle, its items), an item used one PLAN_ITEM row (a visit, as a stamp is), a refund one
PLAN_REFUND row (the items left taken off, the money given back). ``undo.action_undo`` voids an
item used, or a sale while none of its items was used; a refund is final.
"""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from members.currency import quantize
from members.models import Member, User
from members.tenancy import staff_may

from ..ledger import ActionResult, Code, LoyaltyError, Reason, idempotent, lock_member, post, replay
from ..models import Membership, MembershipPlan
from .stamps import opens_visit, visit_recorded
from .tiers import months_after

Kind = MembershipPlan.Kind


def period_end(starts_at: datetime, months: int, tz) -> datetime:
    """``months`` calendar months after ``starts_at`` in the shop's time zone, at the same local
    time: sold on 31 January at 10:00, a month runs until 28 (or 29) February at 10:00."""
    local = timezone.localtime(starts_at, tz)
    return datetime.combine(months_after(local.date(), months), local.time(), tzinfo=tz)


def _local_day(moment: datetime, tz) -> str:
    return timezone.localtime(moment, tz).strftime("%Y-%m-%d")


@idempotent
def plan_sell(
    *,
    member: Member,
    plan: MembershipPlan,
    staff: User,
    payment_method: str,
    idempotency_key: str,
    receipt: str = "",
    at=None,
) -> ActionResult:
    """Sell a plan to a member at the counter, paid in the shop: a membership for its period (in
    calendar months of the shop's time zone), or a bundle of its items. A sale is not a visit (the
    drink bought with it is recorded as one), but the member was there. ``at`` backdates, for demo
    data and tests; the counter always uses the present."""
    if plan.shop_id != member.shop_id:
        raise LoyaltyError(_("This plan belongs to another shop."), code=Code.WRONG_SHOP)
    if payment_method not in Membership.PaymentMethod.values:
        raise LoyaltyError(_("Choose how the member paid."), code=Code.BAD_PAYMENT)
    with transaction.atomic():
        locked = lock_member(member.pk, idempotency_key)
        if replayed := replay(member.shop, idempotency_key, locked):
            return replayed
        shop = locked.shop
        # The plan as it is now, under the lock: paused since the panel was opened?
        plan = MembershipPlan.objects.get(pk=plan.pk)
        if not plan.on_sale:
            raise LoyaltyError(_("%(plan)s is not on sale at the moment.") % {"plan": plan.name}, code=Code.NOT_ON_SALE)
        now = at or timezone.now()
        if plan.kind == Kind.PERIOD:
            ends = period_end(now, plan.period_months, shop.tz)
        else:
            ends = now + timedelta(days=plan.valid_days) if plan.valid_days else None
        items = plan.items if plan.kind == Kind.BUNDLE else 0
        price = quantize(plan.price, shop.currency)
        # Made with no items: they arrive with the sale's row, so the balance is the ledger's.
        membership = Membership.objects.create(
            shop=shop, member=locked, plan=plan, kind=plan.kind, price_paid=price, payment_method=payment_method,
            receipt=receipt.strip()[:40], items_total=items, starts_at=now, ends_at=ends, sold_by=staff,
            created_at=now,
        )  # fmt: skip
        group = uuid.uuid4()
        entry = post(
            locked, Reason.PLAN_SOLD, membership=membership, items=items, money_amount=price, group=group,
            idempotency_key=idempotency_key, staff=staff, now=now, note=membership.receipt, seen=True,
        )  # fmt: skip
    return ActionResult(group, [entry], membership=membership)


def _refuse_unusable(membership: Membership, now, tz) -> None:
    """Why an item of this bundle cannot be used now, if it cannot. The caller holds the member lock
    and read the membership under it."""
    if membership.kind != Kind.BUNDLE:
        raise LoyaltyError(_("This membership has no prepaid items."), code=Code.WRONG_KIND)
    if membership.status == Membership.Status.REFUNDED:
        raise LoyaltyError(
            _("This bundle was refunded on %(day)s.") % {"day": _local_day(membership.refunded_at, tz)},
            code=Code.MEMBERSHIP_ENDED,
        )
    if membership.status == Membership.Status.ENDED:
        raise LoyaltyError(_("This bundle has ended."), code=Code.MEMBERSHIP_ENDED)
    if membership.is_over(now):
        raise LoyaltyError(
            _("This bundle expired on %(day)s.") % {"day": _local_day(membership.ends_at, tz)}, code=Code.EXPIRED
        )
    if membership.items_left <= 0:
        total = membership.items_total
        raise LoyaltyError(
            ngettext(
                "None left: the %(total)d item of this bundle is used.",
                "None left: all %(total)d items of this bundle are used.",
                total,
            )
            % {"total": total},
            code=Code.NONE_LEFT,
        )


@idempotent
def bundle_redeem(
    *, member: Member, membership: Membership, staff: User, idempotency_key: str, at=None
) -> ActionResult:
    """Use one item of a prepaid bundle, in one tap. A drink taken at the counter is a visit, as a
    stamp is: it may open one, moves the member's last visit and counts towards a tier by visits.
    Two taps on the last item queue on the member lock; the second finds none left."""
    if membership.member_id != member.pk:
        raise LoyaltyError(_("This bundle belongs to another member."), code=Code.WRONG_MEMBER)
    with transaction.atomic():
        locked = lock_member(member.pk, idempotency_key)
        if replayed := replay(member.shop, idempotency_key, locked):
            return replayed
        # Read under the lock: a twin that used the last item has committed by now.
        held = Membership.objects.select_related("plan").get(pk=membership.pk)
        if held.member_id != locked.pk:
            raise LoyaltyError(_("This bundle belongs to another member."), code=Code.WRONG_MEMBER)
        now = at or timezone.now()
        _refuse_unusable(held, now, locked.shop.tz)
        group = uuid.uuid4()
        entry = post(
            locked, Reason.PLAN_ITEM, membership=held, items=-1, group=group, idempotency_key=idempotency_key,
            staff=staff, now=now, opens_visit=opens_visit(locked.pk, now), seen=True,
        )  # fmt: skip
        standing = visit_recorded(locked, now, [entry])
    return ActionResult(group, [entry], membership=held, standing=standing)


def refund_due(membership: Membership, now, tz, currency: str) -> Decimal:
    """What a refund now gives back, rounded as the currency rounds: the unused share of the price
    when the plan refunds pro rata (a bundle's items left; a period's days left, today included),
    nothing when it does not, and nothing once the period is over or the bundle expired."""
    if membership.plan.refund_rule != MembershipPlan.RefundRule.PRO_RATA or membership.is_over(now):
        return Decimal(0)
    if membership.kind == Kind.BUNDLE:
        if not membership.items_total:
            return Decimal(0)
        share = Decimal(membership.items_left) / membership.items_total
    else:
        first, today = (timezone.localtime(t, tz).date() for t in (membership.starts_at, now))
        last = timezone.localtime(membership.ends_at, tz).date()
        days = (last - first).days
        unused = min(max((last - max(today, first)).days, 0), days)
        share = Decimal(unused) / days if days else Decimal(0)
    return min(quantize(membership.price_paid * share, currency), membership.price_paid)


@idempotent
def membership_refund(*, membership: Membership, staff: User, idempotency_key: str, at=None) -> ActionResult:
    """Refund a membership, once, as its plan says (the unused part, or nothing), and end it: a
    bundle's items left are taken off. A manager's or owner's, as a purchase's refund is."""
    shop = membership.shop
    if not staff_may(shop, staff, "purchases.refund"):
        raise LoyaltyError(_("Only a manager or owner can refund a membership."), code=Code.NOT_ALLOWED)
    with transaction.atomic():
        # Whose it is now, not when the page was read; checked again under the lock.
        member_id = Membership.objects.filter(pk=membership.pk).values_list("member_id", flat=True).get()
        locked = lock_member(member_id, idempotency_key)
        if replayed := replay(shop, idempotency_key, locked):
            return replayed
        held = Membership.objects.select_related("plan").get(pk=membership.pk)
        if held.member_id != locked.pk:
            raise LoyaltyError(_("This membership changed meanwhile; open the member again."), code=Code.WRONG_MEMBER)
        tz = locked.shop.tz
        if held.status == Membership.Status.REFUNDED:
            raise LoyaltyError(
                _("This membership was already refunded on %(day)s.") % {"day": _local_day(held.refunded_at, tz)},
                code=Code.ALREADY_REFUNDED,
            )
        if held.status == Membership.Status.ENDED:
            raise LoyaltyError(_("This membership has ended; there is nothing to refund."), code=Code.MEMBERSHIP_ENDED)
        now = at or timezone.now()
        refund = refund_due(held, now, tz, shop.currency)
        group = uuid.uuid4()
        entry = post(
            locked, Reason.PLAN_REFUND, membership=held, items=-held.items_left, money_amount=-refund, group=group,
            idempotency_key=idempotency_key, staff=staff, now=now,
        )  # fmt: skip
        Membership.objects.filter(pk=held.pk).update(
            status=Membership.Status.REFUNDED, refunded_at=now, refunded_amount=refund
        )
        held.status, held.refunded_at, held.refunded_amount = Membership.Status.REFUNDED, now, refund
    return ActionResult(group, [entry], membership=held)
