"""Shop setup: the stamp cards, the points rule, the catalogue, the tiers and the membership plans an
owner configures.

Changing a rule never rewrites the past: stamps already earned stay, points keep the expiry terms
they were earned under, members keep their tier until they next qualify or the review moves them."""

import uuid

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.errors import Code, LoyaltyError
from members.models import Shop, User
from members.tenancy import staff_may

from ..ledger import lock_member
from ..models import CatalogueReward, MemberCard, MembershipPlan, PointsExpiryTerms, PointsRule, StampProgram
from .stamps import complete_cards


def program_create_default(*, shop: Shop) -> StampProgram:
    """The card a new shop starts with, named in the language the owner is using as they create the
    shop (they read it next, and rename it in the same language)."""
    with transaction.atomic():
        return StampProgram.objects.create(shop=shop, name=_("Coffee card"), reward=_("Free drink"))


def on_shop_created(sender, *, shop: Shop, **kwargs) -> None:
    """A new shop can stamp at once: a 10-stamp card it can edit later (receiver of members' signal)."""
    program_create_default(shop=shop)


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
                member = lock_member(member_id)
                card = MemberCard.objects.get(pk=card_id)
                complete_cards(member=member, card=card, program=program, group=uuid.uuid4(), staff=staff, now=now)
    return program


def points_rule_save(*, rule: PointsRule, expiry_from=None) -> None:
    """Change how points are earned and spent. Points already earned keep the expiry terms they were
    earned under: changed terms apply to points earned from ``expiry_from`` (now, or a date the owner
    schedules) on, and the rule keeps the date it first started."""
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


# What the owner sets on a plan; its shop, status and history are not theirs to set here.
PLAN_FIELDS = frozenset({
    "name", "kind", "price", "period_months", "items", "item_name", "valid_days", "tier", "points_multiplier",
    "discount_percent", "benefits", "refund_rule", "allowance_title", "vip_after_months", "vip_tier",
})  # fmt: skip


def _may_edit_plans(shop: Shop, by: User) -> None:
    if not staff_may(shop, by, "programs.edit"):
        raise LoyaltyError(_("Only a manager or owner can change membership plans."), code=Code.NOT_ALLOWED)


def plan_save(*, shop: Shop, plan: MembershipPlan | None = None, fields: dict, by: User) -> MembershipPlan:
    """Create a plan, or change one. Memberships already sold keep the kind, price and items they
    were sold with (a price rise reaches the next sale only). The model's rules apply
    (``MembershipPlan.clean``): a ``ValidationError`` names the fields that break them."""
    _may_edit_plans(shop, by)
    unknown = set(fields) - PLAN_FIELDS
    if unknown:
        raise ValueError(f"Not a plan's setting: {sorted(unknown)}")
    if plan is not None and plan.shop_id != shop.pk:
        raise LoyaltyError(_("This plan belongs to another shop."), code=Code.WRONG_SHOP)
    with transaction.atomic():
        if plan is None:
            plan = MembershipPlan(shop=shop)
        else:
            # The row as it is now: a pause or retirement made meanwhile stays.
            plan = MembershipPlan.objects.select_for_update().get(pk=plan.pk)
            plan.shop = shop
        for name, value in fields.items():
            setattr(plan, name, value)
        plan.full_clean()
        # Saving renews the shop's settings key (rewards.config watches plans): the counter offers
        # the plans on sale as they are now on its next request.
        plan.save()
    return plan


def plan_set_status(*, plan: MembershipPlan, status: str, by: User) -> MembershipPlan:
    """Put a plan on sale, pause it, or retire it. Only its sale changes: memberships already sold run
    on, and a bundle's items can still be used, whatever the plan's status."""
    if status not in MembershipPlan.Status.values:
        raise ValueError(f"Not a plan's status: {status!r}")
    _may_edit_plans(plan.shop, by)
    with transaction.atomic():
        held = MembershipPlan.objects.select_for_update().get(pk=plan.pk)
        if held.status != status:
            held.status = status
            held.save(update_fields=["status"])  # a save, not update(): the counter's settings key moves
    plan.status = held.status
    return held
