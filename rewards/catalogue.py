"""The reward catalogue: members spend points or stamps on what they choose.

Redeeming locks the member (their balances) and the reward (its stock) and
re-checks every rule under both locks, so a balance that covers one reward,
or a stock of one, is spent exactly once however many taps race for it.
"""

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, User

from .models import CatalogueReward, LedgerEntry, MemberCard
from .services import ActionResult, LoyaltyError, Reason, _card, _idempotent, _lock_member, _replay


@_idempotent
def reward_redeem(*, member: Member, reward_id: int, staff: User, idempotency_key: str) -> ActionResult:
    shop = member.shop
    with transaction.atomic():
        locked = _lock_member(member.pk)
        if replay := _replay(shop, idempotency_key):
            return replay
        group = uuid.uuid4()
        entry, reward = redeem_locked(
            locked, reward_id=reward_id, staff=staff, group=group, now=timezone.now(), idempotency_key=idempotency_key,
            kinds=(CatalogueReward.Kind.FREE_ITEM,),
        )  # fmt: skip
    return ActionResult(group, [entry], reward_redeemed=reward)


def redeem_locked(
    locked: Member, *, reward_id: int, staff: User, group, now, idempotency_key=None, kinds=None
) -> tuple[LedgerEntry, CatalogueReward]:
    """Spend a member's points or stamps on a reward, the caller holding the member lock and the
    transaction (alone at the counter, or as part of a purchase for a discount)."""
    shop = locked.shop
    reward = (
        CatalogueReward.objects.select_for_update(of=("self",))
        .select_related("min_tier", "stamp_program")
        .filter(shop=shop, pk=reward_id)
        .first()
    )
    if reward is None:
        raise LoyaltyError(_("No such reward."), code="not_found")
    if kinds is not None and reward.kind not in kinds:
        if reward.kind in CatalogueReward.DISCOUNTS:
            message = _("%(reward)s comes off a purchase: record the purchase and choose it there.")
        else:
            message = _("%(reward)s is not money off a purchase.")
        raise LoyaltyError(message % {"reward": reward.name}, code="wrong_kind")
    if not reward.is_available(now):
        raise LoyaltyError(_("%(reward)s is not available now.") % {"reward": reward.name}, code="not_available")
    if reward.min_tier_id and (locked.tier is None or locked.tier.threshold < reward.min_tier.threshold):
        raise LoyaltyError(
            _("%(reward)s is for %(tier)s members and above.") % {"reward": reward.name, "tier": reward.min_tier.name},
            code="tier_too_low",
        )
    if reward.per_member_limit:
        used = LedgerEntry.objects.filter(
            member=locked, reward=reward, reason=Reason.REDEEM, voided_by__isnull=True
        ).count()
        if used >= reward.per_member_limit:
            raise LoyaltyError(
                _("This member has already had %(reward)s as often as allowed.") % {"reward": reward.name},
                code="limit_reached",
            )
    if reward.cost_points and locked.points < reward.cost_points:
        raise LoyaltyError(
            _("%(reward)s needs %(cost)d points; the member has %(points)d.")
            % {"reward": reward.name, "cost": reward.cost_points, "points": locked.points},
            code="not_enough_points",
        )
    card = None
    if reward.cost_stamps:
        card = _card(locked, reward.stamp_program)
        if card.stamps < reward.cost_stamps:
            raise LoyaltyError(
                _("%(reward)s needs %(cost)d stamps; the card has %(stamps)d.")
                % {"reward": reward.name, "cost": reward.cost_stamps, "stamps": card.stamps},
                code="not_enough_stamps",
            )
    entry = LedgerEntry.objects.create(
        shop=shop,
        member=locked,
        card=card,
        reason=Reason.REDEEM,
        points=-(reward.cost_points or 0),
        stamps=-(reward.cost_stamps or 0),
        reward=reward,
        group=group,
        idempotency_key=idempotency_key,
        staff=staff,
        created_at=now,
        note=reward.name,
    )
    Member.objects.filter(pk=locked.pk).update(points=F("points") - (reward.cost_points or 0), last_visit_at=now)
    locked.points -= reward.cost_points or 0
    if card is not None:
        MemberCard.objects.filter(pk=card.pk).update(stamps=F("stamps") - reward.cost_stamps)
    if reward.stock is not None:
        CatalogueReward.objects.filter(pk=reward.pk).update(stock=F("stock") - 1)
    return entry, reward


@dataclass
class RewardView:
    reward: CatalogueReward
    affordable: bool
    points_short: int
    stamps_short: int


def catalogue_for(member: Member, stamps_by_program: dict[int, int]) -> list[RewardView]:
    """The rewards a member could choose now, each saying whether they can afford it: two queries."""
    now = timezone.now()
    rewards = (
        CatalogueReward.objects.for_shop(member.shop_id)
        .filter(is_active=True)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now), Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .exclude(stock=0)
        .annotate(
            used=Count(
                "entries",
                filter=Q(entries__member=member, entries__reason=Reason.REDEEM, entries__voided_by__isnull=True),
            )
        )
        .select_related("stamp_program", "min_tier")
    )
    rank = member.tier.threshold if member.tier_id and member.tier else -1
    views = []
    for reward in rewards:
        if reward.per_member_limit and reward.used >= reward.per_member_limit:
            continue
        if reward.min_tier_id and reward.min_tier.threshold > rank:
            # Locked rewards are not offered; the tier page tells members what a tier unlocks.
            continue
        points_short = max((reward.cost_points or 0) - member.points, 0)
        stamps_short = max((reward.cost_stamps or 0) - stamps_by_program.get(reward.stamp_program_id, 0), 0)
        views.append(RewardView(reward, points_short == 0 and stamps_short == 0, points_short, stamps_short))
    return views
