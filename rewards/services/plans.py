"""Memberships and prepaid bundles: a plan sold at the counter, a bundle's items used one at a time,
and a refund that gives back the unused part, once.

A membership's prepaid items are a balance like a card's stamps: ledger rows' ``items`` move
``Membership.items_left`` (``ledger.post``). A sale is one PLAN_SOLD row (the money paid and, for a
bundle, its items), an item used one PLAN_ITEM row (a visit, as a stamp is), a refund one
PLAN_REFUND row (the items left taken off, the money given back). ``undo.action_undo`` voids an
item used, or a sale while none of its items was used; a refund is final.
"""

import uuid
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from members.config import config_changed
from members.currency import format_money, quantize
from members.models import Member, Message, User
from members.outbox import enqueue, message_queue
from members.tenancy import staff_may

from ..config import shop_rewards
from ..ledger import ActionResult, Code, LoyaltyError, Reason, idempotent, lock_member, post, replay
from ..models import Membership, MembershipPlan, PlanPriceChange, Voucher
from .stamps import opens_visit, visit_recorded
from .tiers import months_in_a_row, period_end, plan_tiers_settle, standing, tier_settle

Kind = MembershipPlan.Kind
Status = Membership.Status


def pending_change(plan: MembershipPlan) -> PlanPriceChange | None:
    return PlanPriceChange.objects.filter(plan=plan, applied_at__isnull=True, cancelled_at__isnull=True).first()


def _local_day(moment: datetime, tz) -> str:
    return timezone.localtime(moment, tz).strftime("%Y-%m-%d")


def plan_multiplier(member: Member, now) -> Decimal:
    """The highest points multiplier of the member's memberships running now (1 without): one query,
    and none in a shop whose plans multiply nothing. It does not stack with a tier's; the higher
    applies."""
    if not shop_rewards(member.shop).plans_multiply:
        return Decimal(1)
    running = Membership.objects.filter(
        member=member, status=Status.ACTIVE, starts_at__lte=now, ends_at__gt=now, plan__points_multiplier__gt=1
    )
    return running.aggregate(best=Max("plan__points_multiplier"))["best"] or Decimal(1)


def _renewed(locked: Member, plan: MembershipPlan, renews: Membership | None, now) -> Membership | None:
    """The membership a sale of a period plan continues, read under the member lock: the one staff
    tapped "Renew" on, or the member's running one of this plan. Refused when it was renewed
    already (two tills, two taps) or is no longer held."""
    tz = locked.shop.tz
    if renews is None:
        held = (
            Membership.objects.select_related("renewal")
            .filter(member=locked, plan=plan, status=Status.ACTIVE, trial=False, ends_at__gt=now)
            .exclude(renewal__status=Status.ACTIVE)
            .order_by("-ends_at")
            .first()
        )
    else:
        held = Membership.objects.select_related("renewal").filter(pk=renews.pk).first()
        if held is None or held.member_id != locked.pk or held.plan_id != plan.pk or held.trial:
            raise LoyaltyError(_("This membership changed meanwhile; open the member again."), code=Code.WRONG_MEMBER)
        if held.status != Status.ACTIVE:
            raise LoyaltyError(_("This membership has ended; sell the plan again instead."), code=Code.MEMBERSHIP_ENDED)
    renewal = getattr(held, "renewal", None)
    if renewal is not None and renewal.status == Status.ACTIVE:
        raise LoyaltyError(
            _("Already renewed: it runs on until %(day)s.") % {"day": _local_day(renewal.ends_at, tz)},
            code=Code.ALREADY_RENEWED,
        )
    if renewal is not None:
        # Its renewal was refunded: the member still holds this one, and the new sale renews it in
        # the refunded one's place (one renewal per membership).
        Membership.objects.filter(pk=renewal.pk).update(renews=None)
    return held


@idempotent
def plan_sell(
    *,
    member: Member,
    plan: MembershipPlan,
    staff: User,
    payment_method: str,
    idempotency_key: str,
    receipt: str = "",
    renews: Membership | None = None,
    at=None,
) -> ActionResult:
    """Sell a plan to a member at the counter, paid in the shop: a membership for its period (in
    calendar months of the shop's time zone), or a bundle of its items. A sale is not a visit (the
    drink bought with it is recorded as one), but the member was there. ``at`` backdates, for demo
    data and tests; the counter always uses the present.

    A member who holds the plan already renews it: the new period starts when the running one ends,
    so renewing early never loses a day, and it keeps their months in a row. ``renews`` names the
    membership staff renewed; a second renewal of it is refused. A free trial of the plan running
    ends now, and the paid membership starts now. The price is today's, until a scheduled new price
    starts."""
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
        plan = MembershipPlan.objects.select_related("tier", "vip_tier").get(pk=plan.pk)
        if not plan.on_sale:
            raise LoyaltyError(_("%(plan)s is not on sale at the moment.") % {"plan": plan.name}, code=Code.NOT_ON_SALE)
        now = at or timezone.now()
        continued = None
        if plan.kind == Kind.PERIOD:
            continued = _renewed(locked, plan, renews, now)
            # A trial of this plan gives way to the paid membership, from now, and its voucher of the
            # month not used yet to the membership's own.
            trials = Membership.objects.filter(member=locked, plan=plan, trial=True, status=Status.ACTIVE)
            Voucher.objects.filter(membership__in=trials, status=Voucher.Status.ISSUED).update(
                status=Voucher.Status.VOIDED
            )
            trials.update(status=Status.ENDED, next_allowance_at=None)
            starts = max(now, continued.ends_at) if continued else now
            ends = period_end(starts, plan.period_months, shop.tz)
        else:
            if renews is not None:
                raise LoyaltyError(_("A prepaid bundle is not renewed; sell another."), code=Code.WRONG_KIND)
            starts = now
            ends = now + timedelta(days=plan.valid_days) if plan.valid_days else None
        items = plan.items if plan.kind == Kind.BUNDLE else 0
        price = quantize(plan.price_at(now, pending_change(plan)), shop.currency)
        # Made with no items: they arrive with the sale's row, so the balance is the ledger's.
        membership = Membership.objects.create(
            shop=shop, member=locked, plan=plan, kind=plan.kind, price_paid=price, payment_method=payment_method,
            receipt=receipt.strip()[:40], items_total=items, starts_at=starts, ends_at=ends, sold_by=staff,
            created_at=now, refund_rule=plan.refund_rule, renews=continued,
            chain_started_at=(continued.chain_started_at or continued.starts_at) if continued else starts,
            next_allowance_at=starts if plan.allowance_title and plan.kind == Kind.PERIOD else None,
        )  # fmt: skip
        membership.plan = plan
        group = uuid.uuid4()
        entry = post(
            locked, Reason.PLAN_SOLD, membership=membership, items=items, money_amount=price, group=group,
            idempotency_key=idempotency_key, staff=staff, now=now, note=membership.receipt, seen=True,
        )  # fmt: skip
        entries = [entry]
        tier_before = locked.tier_id
        if starts <= now:
            entries += _started(locked, membership, now, group)
    result = ActionResult(group, entries, membership=membership)
    result.vouchers_issued = [e.voucher for e in entries if e.reason == Reason.PLAN_ALLOWANCE]
    if locked.tier_id != tier_before:
        # The plan gave a tier: the counter shows where the member stands now.
        result.standing = standing(locked, now)
        if result.standing is not None:
            result.standing.held = locked.tier
    return result


def _started(locked: Member, membership: Membership, now, group) -> list:
    """A membership that begins now: its first month's allowance, and the tier it gives."""
    entries = []
    if allowance := allowance_issue_locked(locked, membership, now, group=group):
        entries.append(allowance)
    tier_settle(member=locked, now=now, membership=membership)
    return entries


def allowance_issue_locked(locked: Member, membership: Membership, now, *, group=None):
    """The voucher of the membership's month that runs at ``now``, once per month: a month missed
    while the worker was down is not made up (its voucher would be past its date), the current one
    is. Each voucher is good until the next month starts. The caller holds the member lock; returns
    the ledger row, or None when nothing is due."""
    plan, tz = membership.plan, locked.shop.tz
    due = membership.next_allowance_at
    if due is None or due > now or not plan.allowance_title:
        return None
    if membership.status != Status.ACTIVE or membership.is_over(now):
        Membership.objects.filter(pk=membership.pk).update(next_allowance_at=None)
        membership.next_allowance_at = None
        return None
    month = months_in_a_row(membership.starts_at, now, tz)
    month = max(month, membership.allowances_issued)
    month_ends = min(period_end(membership.starts_at, month + 1, tz), membership.ends_at)
    following = month_ends if month_ends < membership.ends_at else None
    # The claim: a run that read the same month before this one committed changes nothing.
    claimed = Membership.objects.filter(pk=membership.pk, allowances_issued=membership.allowances_issued).update(
        allowances_issued=month + 1, next_allowance_at=following
    )
    if claimed != 1:
        return None
    membership.allowances_issued, membership.next_allowance_at = month + 1, following
    voucher = Voucher.objects.create(
        shop_id=locked.shop_id, member=locked, title=plan.allowance_title, issued_at=now, expires_at=month_ends,
        membership=membership, allowance_month=month,
    )  # fmt: skip
    return post(
        locked, Reason.PLAN_ALLOWANCE, voucher=voucher, membership=membership, group=group or uuid.uuid4(),
        now=now, note=plan.name[:200],
    )  # fmt: skip


def allowances_issue(*, now=None) -> int:
    """Hourly: each membership's monthly voucher at the start of its month, in the shop's time zone."""
    now = now or timezone.now()
    issued = 0
    due = Membership.objects.filter(next_allowance_at__lte=now).values_list("pk", "member_id")
    for membership_id, member_id in due.iterator(chunk_size=500):
        with transaction.atomic():
            locked = lock_member(member_id)
            held = Membership.objects.select_related("plan").get(pk=membership_id)
            if held.member_id == locked.pk and allowance_issue_locked(locked, held, now):
                issued += 1
    return issued


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
    if membership.refund_rule != MembershipPlan.RefundRule.PRO_RATA or membership.is_over(now):
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
        held = Membership.objects.select_related("plan__tier", "plan__vip_tier").get(pk=membership.pk)
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
            status=Status.REFUNDED, refunded_at=now, refunded_amount=refund, next_allowance_at=None
        )
        held.status, held.refunded_at, held.refunded_amount = Status.REFUNDED, now, refund
        # What it granted goes with it: the monthly vouchers not used yet, and the tier it gave.
        Voucher.objects.filter(membership=held, status=Voucher.Status.ISSUED).update(status=Voucher.Status.VOIDED)
        tier_settle(member=locked, now=now, membership=held, ended=True)
    return ActionResult(group, [entry], membership=held)


def plan_trial_start_locked(*, member: Member, plan: MembershipPlan, days: int, now, group=None, note=""):
    """A free trial of a membership plan for ``days`` days (a campaign's gift to chosen members): its
    benefits while it runs (the tier, multiplier, discount, monthly voucher), nothing paid. None for
    a member who holds the plan already, or who had a trial of it. The caller holds the member lock
    and makes this once per member (the campaign's reach)."""
    if plan.kind != Kind.PERIOD or plan.status == MembershipPlan.Status.RETIRED or not 1 <= days <= 365:
        return None
    if (
        Membership.objects.filter(member=member, plan=plan)
        .filter(Q(trial=True) | Q(status=Status.ACTIVE, ends_at__gt=now))
        .exists()
    ):
        return None
    tz = member.shop.tz
    # To the end of the shop's day, N days on: what "a month's trial" means to a customer.
    last_day = timezone.localtime(now, tz).date() + timedelta(days=days)
    ends = datetime.combine(last_day, time.max, tzinfo=tz).replace(microsecond=0)
    membership = Membership.objects.create(
        shop_id=member.shop_id, member=member, plan=plan, kind=plan.kind, price_paid=0, payment_method="",
        trial=True, starts_at=now, ends_at=ends, created_at=now, refund_rule=MembershipPlan.RefundRule.NONE,
        chain_started_at=now, next_allowance_at=now if plan.allowance_title else None,
    )  # fmt: skip
    membership.plan = plan
    group = group or uuid.uuid4()
    post(member, Reason.PLAN_TRIAL, membership=membership, group=group, now=now, note=note[:200])
    _started(member, membership, now, group)
    return membership


LAPSE = "plan_lapsed"


def memberships_end(*, now=None) -> int:
    """Memberships past their end: ended, a bundle's items left taken off by an expiry row, the tier
    they gave returned, and a member whose paid membership lapsed without a renewal told once.
    Idempotent."""
    now = now or timezone.now()
    ended = 0
    due = Membership.objects.filter(status=Status.ACTIVE, ends_at__lte=now).values_list("pk", "member_id")
    for membership_id, member_id in list(due):
        with transaction.atomic():
            locked = lock_member(member_id)
            held = Membership.objects.select_related("plan__tier", "plan__vip_tier").get(pk=membership_id)
            if held.status != Status.ACTIVE or not held.is_over(now) or held.member_id != locked.pk:
                continue
            Membership.objects.filter(pk=held.pk).update(status=Status.ENDED, next_allowance_at=None)
            held.status = Status.ENDED
            if held.items_left:
                post(locked, Reason.PLAN_EXPIRED, membership=held, items=-held.items_left, group=uuid.uuid4(), now=now)
            tier_settle(member=locked, now=now, membership=held, ended=True)
            if held.kind == Kind.PERIOD and not held.trial and not _continues(held):
                _tell_lapsed(locked, held, now)
            ended += 1
    return ended


def _continues(held: Membership) -> bool:
    """Whether the member holds the plan on after this membership: renewed, or sold again."""
    return Membership.objects.filter(
        member_id=held.member_id, plan_id=held.plan_id, status=Status.ACTIVE, ends_at__gt=held.ends_at
    ).exists()


def _tell_lapsed(locked: Member, held: Membership, now) -> None:
    if Membership.objects.filter(pk=held.pk, lapse_told_at__isnull=True).update(lapse_told_at=now) != 1:
        return
    message_queue(
        member=locked, campaign=LAPSE, occasion=str(held.pk), template="rewards/email/plan_lapsed",
        kind=Message.Kind.TRANSACTIONAL, context=_message_context(held, locked.shop, now),
    )  # fmt: skip


REMINDER = "plan_ending"
REMIND_DAYS = 7
REMIND_TRIAL_DAYS = 3


def _message_context(held: Membership, shop, now) -> dict:
    plan = held.plan
    change = pending_change(plan)
    tz = shop.tz
    context = {
        "plan": plan.name, "kind": held.kind, "trial": held.trial, "items_left": held.items_left,
        "item": plan.item_name, "ends_on": _local_day(held.ends_at, tz) if held.ends_at else "",
        "price": format_money(plan.price_at(now, change), shop.currency), "on_sale": plan.on_sale,
        "new_price": "", "new_price_from": "",
    }  # fmt: skip
    if change is not None and change.starts_at > now:
        context["new_price"] = format_money(change.new_price, shop.currency)
        context["new_price_from"] = _local_day(change.starts_at, tz)
    return context


def membership_reminders(*, now=None) -> int:
    """A week before a paid membership ends without a renewal, three days before a trial ends, and a
    week before a bundle with items left expires: one message each, through the outbox."""
    now = now or timezone.now()
    queued = 0
    due = (
        Membership.objects.filter(status=Status.ACTIVE, reminded_at__isnull=True, ends_at__gt=now)
        .filter(
            Q(trial=False, ends_at__lte=now + timedelta(days=REMIND_DAYS))
            | Q(trial=True, ends_at__lte=now + timedelta(days=REMIND_TRIAL_DAYS))
        )
        .filter((Q(kind=Kind.PERIOD) & ~Q(renewal__status=Status.ACTIVE)) | Q(kind=Kind.BUNDLE, items_left__gt=0))
        .select_related("plan", "member__shop")
    )
    for held in due:
        with transaction.atomic():
            # Claimed in the same transaction as the message: a parallel run finds it taken.
            if Membership.objects.filter(pk=held.pk, reminded_at__isnull=True).update(reminded_at=now) != 1:
                continue
            if held.kind == Kind.PERIOD and not held.trial and _continues(held):
                continue
            message = message_queue(
                member=held.member, campaign=REMINDER, occasion=str(held.pk), template="rewards/email/plan_ending",
                kind=Message.Kind.TRANSACTIONAL, context=_message_context(held, held.member.shop, now),
            )  # fmt: skip
            queued += message is not None
    return queued


def memberships_run(*, now=None) -> int:
    """The worker's hourly round: scheduled prices that start, memberships that end, monthly vouchers,
    tiers that memberships now give, reminders."""
    now = now or timezone.now()
    return (
        price_changes_apply(now=now)
        + memberships_end(now=now)
        + allowances_issue(now=now)
        + plan_tiers_settle(now=now)
        + membership_reminders(now=now)
    )


# A scheduled price change ---------------------------------------------------------------------------

PRICE_RISE = "plan_price_rise"
INVITE_TASK = "rewards.tasks.invite_to_renew"


def price_change_schedule(*, plan: MembershipPlan, new_price, from_day, staff: User) -> PlanPriceChange:
    """The owner's new price for a plan from a day on (midnight in the shop's time zone, tomorrow at
    the earliest). The members who hold the plan are then invited to renew early at today's price
    (``price_change_invite``, by the worker). One scheduled change per plan at a time."""
    shop = plan.shop
    if not staff_may(shop, staff, "plans.price"):
        raise LoyaltyError(_("Only the owner can change a plan's price."), code=Code.NOT_ALLOWED)
    tz = shop.tz
    today = timezone.localtime(timezone.now(), tz).date()
    if from_day <= today:
        raise LoyaltyError(_("Choose a day from tomorrow on."), code=Code.BAD_DATE)
    if from_day > today + timedelta(days=366):
        raise LoyaltyError(_("Choose a day within a year."), code=Code.BAD_DATE)
    new_price = quantize(Decimal(new_price), shop.currency)
    if new_price < 0:
        raise LoyaltyError(_("A price cannot be negative."), code=Code.BAD_AMOUNT)
    with transaction.atomic():
        plan = MembershipPlan.objects.select_for_update().get(pk=plan.pk)
        if new_price == plan.price:
            raise LoyaltyError(_("That is the price now."), code=Code.BAD_AMOUNT)
        if pending_change(plan) is not None:
            raise LoyaltyError(_("A new price is already scheduled; cancel it first."), code=Code.PRICE_CHANGE_PENDING)
        change = PlanPriceChange.objects.create(
            shop=shop, plan=plan, old_price=plan.price, new_price=new_price, created_by=staff,
            starts_at=datetime.combine(from_day, time.min, tzinfo=tz),
        )  # fmt: skip
        config_changed(shop.pk)
        enqueue(INVITE_TASK, change.pk)
    return change


def price_change_cancel(*, change: PlanPriceChange, staff: User) -> None:
    if not staff_may(change.shop, staff, "plans.price"):
        raise LoyaltyError(_("Only the owner can change a plan's price."), code=Code.NOT_ALLOWED)
    with transaction.atomic():
        if not PlanPriceChange.objects.filter(pk=change.pk, applied_at__isnull=True, cancelled_at__isnull=True).update(
            cancelled_at=timezone.now()
        ):
            raise LoyaltyError(_("This price change has already started or was cancelled."), code=Code.NOT_FOUND)
        config_changed(change.shop_id)


def _holders(plan: MembershipPlan, now):
    """Members who hold a plan now (paid, running or bought ahead), once each."""
    held = Membership.objects.filter(plan=plan, status=Status.ACTIVE, trial=False).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    )
    return Member.objects.filter(pk__in=held.values("member_id"))


def price_change_invite(*, change_id: int, now=None) -> int:
    """Invite every member who holds the plan to renew early at today's price, once each (the
    outbox's once per occasion): run again after a lost worker, it writes to nobody twice."""
    now = now or timezone.now()
    change = PlanPriceChange.objects.select_related("plan", "shop").get(pk=change_id)
    if not change.pending or change.starts_at <= now:
        return 0
    shop, plan = change.shop, change.plan
    context = {
        "plan": plan.name, "kind": plan.kind, "price": format_money(change.old_price, shop.currency),
        "new_price": format_money(change.new_price, shop.currency),
        "new_price_from": _local_day(change.starts_at, shop.tz),
    }  # fmt: skip
    queued = 0
    # Those invited already (a run again after a lost worker) and those without an address are not
    # read. Two lists of ids, compared here: a correlated NOT EXISTS over a message table just
    # written to was planned as a nested loop (90 s at 70,000 members in the benchmark).
    messages = Message.objects.filter(shop=shop, campaign=PRICE_RISE, occasion=str(change.pk))
    invited = set(messages.values_list("member_id", flat=True))
    holders = _holders(plan, now).exclude(email="").values_list("pk", flat=True)
    due = [pk for pk in holders.iterator(chunk_size=5_000) if pk not in invited]
    for start in range(0, len(due), 500):
        for member in Member.objects.filter(pk__in=due[start : start + 500]).select_related("shop"):
            message = message_queue(
                member=member, campaign=PRICE_RISE, occasion=str(change.pk),
                template="rewards/email/plan_price_rise", kind=Message.Kind.TRANSACTIONAL, context=context,
            )  # fmt: skip
            queued += message is not None
    invited = messages.count()
    # When the invitations first went out; a run again (a lost worker's) only counts them again.
    PlanPriceChange.objects.filter(pk=change.pk).update(invited=invited)
    PlanPriceChange.objects.filter(pk=change.pk, invited_at__isnull=True).update(invited_at=now)
    return queued


def price_changes_apply(*, now=None) -> int:
    """Scheduled prices whose day has come become the plans' prices; invitations whose task was
    lost are sent first."""
    now = now or timezone.now()
    for change_id in PlanPriceChange.objects.filter(
        invited_at__isnull=True, applied_at__isnull=True, cancelled_at__isnull=True
    ).values_list("pk", flat=True):
        price_change_invite(change_id=change_id, now=now)
    applied = 0
    due = PlanPriceChange.objects.filter(applied_at__isnull=True, cancelled_at__isnull=True, starts_at__lte=now)
    for change in due.select_related("plan"):
        with transaction.atomic():
            if PlanPriceChange.objects.filter(pk=change.pk, applied_at__isnull=True).update(applied_at=now):
                MembershipPlan.objects.filter(pk=change.plan_id).update(price=change.new_price)
                config_changed(change.shop_id)
                applied += 1
    return applied


def early_renewals(change: PlanPriceChange):
    """The renewals sold between the announcement and the new price's day: who renewed early."""
    return (
        Membership.objects.filter(plan_id=change.plan_id, renews__isnull=False, trial=False)
        .filter(created_at__gte=change.created_at, created_at__lt=change.starts_at)
        .select_related("member", "renews")
        .order_by("-created_at")
    )
