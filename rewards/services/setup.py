"""Shop setup: the stamp cards, the points rule, the catalogue and the tiers an owner configures.

Changing a rule never rewrites the past: stamps already earned stay, points keep the expiry terms
they were earned under, members keep their tier until they next qualify or the review moves them."""

import uuid

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Shop

from ..ledger import lock_member
from ..models import CatalogueReward, MemberCard, PointsExpiryTerms, PointsRule, StampProgram
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
