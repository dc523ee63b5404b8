"""Purchases and refunds: points earned on money spent, part of a bill paid with points or a
reward from the catalogue, the purchase's stamp, and refunds that take back exactly what a
purchase gave, once."""

import uuid
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from members.currency import format_money, minor_digits, quantize
from members.models import Member, Shop, User
from members.tenancy import staff_may

from .. import signals, webhook_events
from ..config import shop_rewards
from ..ledger import ActionResult, Code, LoyaltyError, Reason, idempotent, lock_member, post, post_all, replay
from ..models import API_KEY, CatalogueReward, LedgerEntry, MemberCard, PointsRule, Purchase
from . import catalogue, challenges, giving
from .plans import plan_multiplier
from .stamps import check_override, opens_visit, stamp_locked, visit_recorded

ROUNDING = {
    PointsRule.Rounding.DOWN: ROUND_FLOOR,
    PointsRule.Rounding.NEAREST: ROUND_HALF_UP,
    PointsRule.Rounding.UP: ROUND_CEILING,
}


def points_for(rule: PointsRule, amount: Decimal) -> int:
    """Points a purchase of ``amount`` earns: 1 per NT$10, rounded as the shop chose."""
    if amount <= 0 or amount < rule.min_purchase:
        return 0
    steps = (Decimal(amount) / rule.step_amount).to_integral_value(rounding=ROUNDING[rule.rounding])
    return int(steps) * rule.points_per_step


def points_value(rule: PointsRule, points: int, currency: str) -> Decimal:
    """What ``points`` take off a bill (100 points = NT$10), in what the currency can express."""
    if not rule.pays_bills or points <= 0:
        return Decimal(0)
    exact = Decimal(points) * rule.bill_value / rule.bill_points
    return exact.quantize(Decimal(1).scaleb(-minor_digits(currency)), rounding=ROUND_FLOOR)


def rule_for(shop: Shop) -> PointsRule | None:
    return shop_rewards(shop).points_rule


@idempotent
def purchase_record(
    *,
    member: Member,
    amount: Decimal,
    staff: User,
    idempotency_key: str,
    receipt: str = "",
    pay_points: int = 0,
    reward_id: int | None = None,
    override: bool = False,
    override_reason: str = "",
    note: str = "",
    items=(),
    at=None,
) -> ActionResult:
    """Record a purchase: points on what is paid in money, optionally part of the bill paid with
    points or a money-off reward from the catalogue, and the stamp card's stamp when the shop counts
    a purchase as a visit. An amount above the shop's largest purchase needs a manager's override
    with a reason. ``at`` backdates, for imports and tests; the counter always uses the present."""
    shop = member.shop
    amount = quantize(amount, shop.currency)
    if amount <= 0:
        raise LoyaltyError(_("Enter the amount of the purchase."), code=Code.BAD_AMOUNT)
    if pay_points < 0:
        raise LoyaltyError(_("Points to pay with cannot be negative."), code=Code.BAD_POINTS)
    with transaction.atomic():
        locked = lock_member(member.pk, idempotency_key)
        if replayed := replay(shop, idempotency_key, locked):
            return replayed
        rule = rule_for(shop)
        if rule is None or not rule.is_active:
            raise LoyaltyError(_("This shop does not give points."), code=Code.POINTS_OFF)
        check_override(shop, staff, override, override_reason)
        _check_amount(rule, amount, shop.currency, override)
        value = _points_payment(rule, locked, amount, pay_points)
        now = at or timezone.now()
        group = uuid.uuid4()
        # A money-off or percent-off reward redeemed with the purchase: its row is in the
        # purchase's group, so an undo gives the points back.
        redeemed, discount = _discount(locked, reward_id, amount, amount - value, staff=staff, group=group, now=now)
        earned = points_for(rule, amount - value - discount)
        multiplier = max(locked.tier.multiplier if locked.tier else 1, plan_multiplier(locked, now))
        if multiplier != 1:
            earned = int(earned * multiplier)
        # A member day or happy hour on at this moment: its bonus is a row of its own, part of what
        # the purchase earned (so a refund takes it back in proportion).
        boost = signals.boost_for(member=locked, what="points", now=now)
        bonus = boost.bonus(earned) if boost else 0
        purchase = Purchase.objects.create(
            shop=shop, member=member, amount=amount, receipt=receipt.strip(), points_earned=earned + bonus,
            points_spent=pay_points, paid_with_points=value, discount=discount, group=group, staff=staff,
            created_at=now,
        )  # fmt: skip
        common = {"purchase": purchase, "staff": staff}
        rows = [
            dict(
                reason=Reason.PURCHASE, points=earned, opens_visit=opens_visit(member.pk, now), money_amount=amount,
                idempotency_key=idempotency_key, override=override, override_reason=override_reason if override else "",
                note=" · ".join(part for part in (purchase.receipt, note.strip() if override else "") if part)[:200],
                **common,
            )
        ]  # fmt: skip
        if bonus:
            rows.append(dict(reason=Reason.CAMPAIGN, points=bonus, note=boost.name[:200], **common))
        if pay_points:
            rows.append(dict(reason=Reason.REDEEM, points=-pay_points, money_amount=value, **common))
        # The purchase's rows in one INSERT, and the points they earn and pay in one UPDATE.
        earning, *paying = post_all(locked, rows, group=group, now=now, seen=True)
        entries = [earning, *([redeemed] if redeemed else []), *paying]
        result = ActionResult(group, entries, purchase=purchase)
        result.standing = visit_recorded(locked, now, entries, items)
        stamps_on = next((p for p in shop_rewards(shop).programs if p.pk == rule.purchase_stamps_id), None)
        _stamp_for_purchase(result, stamps_on, locked, staff=staff, now=now)
        webhook_events.purchase(locked, now, purchase, result)
    return result


def _check_amount(rule: PointsRule, amount: Decimal, currency: str, override: bool) -> None:
    """A typo of a few zeros is refused: more than the shop's largest purchase needs an override."""
    if amount > rule.max_purchase and not override:
        limit = format_money(rule.max_purchase, currency)
        raise LoyaltyError(
            _("%(amount)s is more than this shop's largest purchase (%(limit)s). Check the amount; a manager can "
              "override.") % {"amount": format_money(amount, currency), "limit": limit},
            code=Code.TOO_LARGE,
        )  # fmt: skip


def _points_payment(rule: PointsRule, member: Member, amount: Decimal, pay_points: int) -> Decimal:
    """What ``pay_points`` take off the bill, if the shop allows it, the member has them, and they
    stay within the share of a bill points may pay."""
    if not pay_points:
        return Decimal(0)
    currency = member.shop.currency
    if not rule.pays_bills:
        raise LoyaltyError(_("This shop does not take points as payment."), code=Code.NO_BILL_PAYMENT)
    if pay_points > member.points:
        raise LoyaltyError(
            _("The member has only %(points)d points.") % {"points": max(member.points, 0)},
            code=Code.NOT_ENOUGH_POINTS,
        )
    value = points_value(rule, pay_points, currency)
    limit = quantize(amount * rule.bill_max_percent / 100, currency)
    if value > limit:
        raise LoyaltyError(
            _("Points may pay at most %(percent)d%% of a bill (%(limit)s here).")
            % {"percent": rule.bill_max_percent, "limit": format_money(limit, currency)},
            code=Code.TOO_MUCH,
        )
    return value


def _discount(member: Member, reward_id, amount: Decimal, payable: Decimal, *, staff, group, now):
    """Redeem a money-off or percent-off reward with the purchase: (its ledger row, the money off),
    never more than what is left to pay."""
    if reward_id is None:
        return None, Decimal(0)
    entry, reward = catalogue.redeem_locked(
        member, reward_id=reward_id, staff=staff, group=group, now=now,
        kinds=(CatalogueReward.Kind.AMOUNT_OFF, CatalogueReward.Kind.PERCENT_OFF),
    )  # fmt: skip
    off = reward.value if reward.kind == CatalogueReward.Kind.AMOUNT_OFF else amount * reward.value / 100
    return entry, min(quantize(off, member.shop.currency), payable)


def _stamp_for_purchase(result: ActionResult, program, member: Member, *, staff, now) -> None:
    """The card's stamp when the shop counts a purchase as a visit, in a savepoint: a refused stamp
    (too soon, say) leaves the purchase standing and tells staff why."""
    if program is None or not program.is_active:
        return
    try:
        with transaction.atomic():
            stamped, vouchers = stamp_locked(
                member=member, program=program, count=1, staff=staff, override=False, now=now, group=result.group,
                idempotency_key=None,
            )  # fmt: skip
    except LoyaltyError as error:
        result.notes.append(_("No stamp: %(reason)s") % {"reason": error.message})
        return
    result.entries += stamped
    result.vouchers_issued = vouchers


@idempotent
def purchase_refund(
    *, shop: Shop, purchase_id: int, amount: Decimal, staff: User | None, idempotency_key: str
) -> ActionResult:
    """Refund all or part of a purchase, once: take back the points it earned in proportion, give
    back the points that paid for it, and on a full refund take back its stamp if the card has it.
    ``staff`` None: an API key acts (``API_KEY`` is set), whose admin scope the API checked."""
    amount = quantize(amount, shop.currency)
    if amount <= 0:
        raise LoyaltyError(_("Enter the amount to refund."), code=Code.BAD_AMOUNT)
    if not (API_KEY.get() is not None if staff is None else staff_may(shop, staff, "purchases.refund")):
        raise LoyaltyError(_("Only a manager or owner can refund a purchase."), code=Code.NOT_ALLOWED)
    with transaction.atomic():
        member_id = Purchase.objects.filter(shop=shop, pk=purchase_id).values_list("member_id", flat=True).first()
        if member_id is None:
            raise LoyaltyError(_("No such purchase."), code=Code.NOT_FOUND)
        locked = lock_member(member_id, idempotency_key)
        if replayed := replay(shop, idempotency_key, locked):
            return replayed
        purchase = Purchase.objects.select_for_update().get(pk=purchase_id)
        if amount > purchase.refundable:
            raise LoyaltyError(
                _("At most %(amount)s of this purchase can still be refunded.")
                % {"amount": format_money(purchase.refundable, shop.currency)},
                code=Code.TOO_MUCH,
            )
        refunded = purchase.refunded_amount + amount
        full = refunded == purchase.amount

        def share(total: int) -> int:
            # Cumulative, so partial refunds add up to exactly the whole.
            return total if full else int(Decimal(total) * refunded / purchase.amount)

        reverse = share(purchase.points_earned) - purchase.points_reversed
        give_back = share(purchase.points_spent) - purchase.points_returned
        now = timezone.now()
        group = uuid.uuid4()
        # Two rows: the points taken back (which also undo tier progress) and the
        # points that had paid for the bill, given back.
        entries = [
            post(
                locked, Reason.REFUND, points=-reverse, money_amount=-amount, purchase=purchase, group=group,
                idempotency_key=idempotency_key, staff=staff, now=now,
            )
        ]  # fmt: skip
        if give_back:
            entries.append(
                post(
                    locked, Reason.REFUND, points=give_back, purchase=purchase, group=group, staff=staff, now=now,
                    note=_("points that paid for it, given back"),
                )
            )  # fmt: skip
        Purchase.objects.filter(pk=purchase.pk).update(
            refunded_amount=refunded,
            points_reversed=F("points_reversed") + reverse,
            points_returned=F("points_returned") + give_back,
        )
        notes = []
        if full:
            notes += _take_back_stamps(locked, purchase, staff=staff, group=group, now=now, entries=entries)
            giving.purchase_refunded(purchase, entries[0], staff=staff, now=now)
        # A challenge this purchase completed that the refund leaves unmet is revoked.
        entries += challenges.purchase_refunded(locked, purchase, staff=staff, now=now, group=group)
        webhook_events.refund(locked, now, purchase, amount, refunded, entries, group)
    purchase.refresh_from_db()
    return ActionResult(group, entries, purchase=purchase, notes=notes)


def _take_back_stamps(member: Member, purchase: Purchase, *, staff, group, now, entries: list) -> list[str]:
    stamped = LedgerEntry.objects.filter(group=purchase.group, reason=Reason.VISIT, voided_by__isnull=True)
    notes = []
    for visit in stamped:
        card = MemberCard.objects.get(pk=visit.card_id)
        if card.stamps < visit.stamps:
            # The stamp already went into a reward; a manager decides what to do about it.
            notes.append(_("The stamp from this purchase is already part of a reward and stays."))
            continue
        entries.append(
            post(
                member, Reason.REFUND, card=card, stamps=-visit.stamps, purchase=purchase, group=group, staff=staff,
                now=now,
            )
        )  # fmt: skip
    return notes
