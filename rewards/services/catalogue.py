"""The reward catalogue: members spend points or stamps on what they choose.

Redeeming locks the member (their balances) and the reward (its stock) and
re-checks every rule under both locks, so a balance that covers one reward,
or a stock of one, is spent exactly once however many taps race for it.
"""

import uuid

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from members.config import config_changed
from members.models import Member, User

from ..config import shop_rewards
from ..ledger import ActionResult, Code, LoyaltyError, Reason, card_for, idempotent, lock_member, post, replay
from ..models import CatalogueReward, LedgerEntry


@idempotent
def reward_redeem(*, member: Member, reward_id: int, staff: User, idempotency_key: str, at=None) -> ActionResult:
    shop = member.shop
    with transaction.atomic():
        locked = lock_member(member.pk, idempotency_key)
        if replayed := replay(shop, idempotency_key, locked):
            return replayed
        group = uuid.uuid4()
        entry, reward = redeem_locked(
            locked, reward_id=reward_id, staff=staff, group=group, now=at or timezone.now(),
            idempotency_key=idempotency_key, kinds=(CatalogueReward.Kind.FREE_ITEM,),
        )  # fmt: skip
    return ActionResult(group, [entry], reward_redeemed=reward)


def redeem_locked(
    locked: Member, *, reward_id: int, staff: User, group, now, idempotency_key=None, kinds=None
) -> tuple[LedgerEntry, CatalogueReward]:
    """Spend a member's points or stamps on a reward, the caller holding the member lock and the
    transaction (alone at the counter, or as part of a purchase for a discount)."""
    shop = locked.shop
    reward = next((r for r in shop_rewards(shop).catalogue if r.pk == reward_id), None)
    if reward is None or reward.stock is not None:
        # Only a reward in limited stock is locked: others can go to many members at once.
        reward = (
            CatalogueReward.objects.select_for_update(of=("self",))
            .select_related("min_tier", "stamp_program")
            .filter(shop=shop, pk=reward_id)
            .first()
        )
    if reward is None:
        raise LoyaltyError(_("No such reward."), code=Code.NOT_FOUND)
    if kinds is not None and reward.kind not in kinds:
        if reward.kind in CatalogueReward.DISCOUNTS:
            message = _("%(reward)s comes off a purchase: record the purchase and choose it there.")
        else:
            message = _("%(reward)s is not money off a purchase.")
        raise LoyaltyError(message % {"reward": reward.name}, code=Code.WRONG_KIND)
    if not reward.is_available(now):
        raise LoyaltyError(_("%(reward)s is not available now.") % {"reward": reward.name}, code=Code.NOT_AVAILABLE)
    if reward.min_tier_id and (locked.tier is None or locked.tier.threshold < reward.min_tier.threshold):
        raise LoyaltyError(
            _("%(reward)s is for %(tier)s members and above.") % {"reward": reward.name, "tier": reward.min_tier.name},
            code=Code.TIER_TOO_LOW,
        )
    if reward.per_member_limit:
        used = LedgerEntry.objects.filter(
            member=locked, reward=reward, reason=Reason.REDEEM, voided_by__isnull=True
        ).count()
        if used >= reward.per_member_limit:
            raise LoyaltyError(
                _("This member has already had %(reward)s as often as allowed.") % {"reward": reward.name},
                code=Code.LIMIT_REACHED,
            )
    if reward.cost_points and locked.points < reward.cost_points:
        raise LoyaltyError(
            _("%(reward)s needs %(cost)d points; the member has %(points)d.")
            % {"reward": reward.name, "cost": reward.cost_points, "points": locked.points},
            code=Code.NOT_ENOUGH_POINTS,
        )
    card = None
    if reward.cost_stamps:
        card = card_for(locked, reward.stamp_program)
        if card.stamps < reward.cost_stamps:
            raise LoyaltyError(
                _("%(reward)s needs %(cost)d stamps; the card has %(stamps)d.")
                % {"reward": reward.name, "cost": reward.cost_stamps, "stamps": card.stamps},
                code=Code.NOT_ENOUGH_STAMPS,
            )
    entry = post(
        locked, Reason.REDEEM, card=card, points=-(reward.cost_points or 0), stamps=-(reward.cost_stamps or 0),
        reward=reward, group=group, idempotency_key=idempotency_key, staff=staff, now=now, note=reward.name,
        seen=True,
    )  # fmt: skip
    if reward.stock is not None:
        CatalogueReward.objects.filter(pk=reward.pk).update(stock=F("stock") - 1)
        config_changed(shop.pk)  # the catalogue shows what is left
    return entry, reward
