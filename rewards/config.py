"""A shop's reward settings, read once per change (``members.config``): its cards, points rule and
expiry terms, tier policy and tiers, the catalogue, and the plans on sale. The counter, the card and
the services read them from here, so a look-up or a stamp spends its queries on the member, not on
the shop.

The rows held here are shared by every request of the process: read them, never change them."""

from dataclasses import dataclass
from datetime import datetime

from members.config import shop_cached, watch
from members.models import Shop

from .models import (
    CatalogueReward,
    Cause,
    Challenge,
    MembershipPlan,
    MenuItem,
    PartnerOffer,
    PlanPriceChange,
    PointsExpiryTerms,
    PointsRule,
    StampProgram,
    Tier,
    TierPolicy,
)


@dataclass(frozen=True)
class ShopRewards:
    programs: tuple[StampProgram, ...]  # every card, paused ones too, oldest first
    points_rule: PointsRule | None  # the rule, on or off
    terms: tuple[PointsExpiryTerms, ...]  # the expiry terms over time, oldest first
    policy: TierPolicy | None
    tiers: tuple[Tier, ...]  # lowest first
    catalogue: tuple[CatalogueReward, ...]  # active rewards, whatever their dates and stock
    # Plans on sale at the counter, oldest first; memberships already sold name their plan themselves.
    plans_on_sale: tuple[MembershipPlan, ...]
    # Whether the shop has ever had a plan: if not, nobody holds a membership, and the counter, the
    # card and the member page do not ask.
    has_plans: bool
    # Each plan's new price scheduled and not started yet (at most one per plan), by plan.
    price_changes: dict = None
    # Whether a plan gives a points multiplier: only then does a purchase ask for the member's.
    plans_multiply: bool = False
    # The shop's causes that are running, oldest first. Their ``matched`` is not kept current here:
    # read it from the database (rewards/services/giving.py does, under the cause's lock).
    causes: tuple[Cause, ...] = ()
    # Whether the shop has ever had a cause: if not, no member gave to one, and the member page does not ask.
    has_causes: bool = False
    # The menu items on offer at the counter, in the menu's order; whether the shop ever had a menu
    # (if not, no visit was tagged and nothing asks for a member's usual order).
    menu: tuple[MenuItem, ...] = ()
    has_menu: bool = False
    # Whether partner shops give this shop's members an offer now (their cards then ask which).
    has_partner_offers: bool = False
    # Every challenge of the shop, ended ones too (their badges stay), oldest first; a shop without
    # one pays no query for challenges anywhere.
    challenges: tuple[Challenge, ...] = ()

    def running_challenges(self, now: datetime) -> list[Challenge]:
        return [challenge for challenge in self.challenges if challenge.is_running(now)]

    @property
    def active_programs(self) -> list[StampProgram]:
        return [program for program in self.programs if program.is_active]

    @property
    def active_rule(self) -> PointsRule | None:
        return self.points_rule if self.points_rule is not None and self.points_rule.is_active else None

    def program(self, public_id) -> StampProgram | None:
        return next((p for p in self.programs if p.public_id == public_id), None)

    def plan_on_sale(self, public_id) -> MembershipPlan | None:
        return next((plan for plan in self.plans_on_sale if plan.public_id == public_id), None)

    def price_change(self, plan: MembershipPlan) -> PlanPriceChange | None:
        return (self.price_changes or {}).get(plan.pk)

    def price_now(self, plan: MembershipPlan, now: datetime):
        """What the plan costs now: its scheduled new price once the day has come."""
        return plan.price_at(now, self.price_change(plan))

    def rewards_on(self, now: datetime) -> list[CatalogueReward]:
        """Rewards on offer at ``now``: within their dates and not sold out."""
        return [
            reward
            for reward in self.catalogue
            if (reward.starts_at is None or reward.starts_at <= now)
            and (reward.ends_at is None or reward.ends_at > now)
            and reward.stock != 0
        ]


def _load(shop: Shop) -> ShopRewards:
    plans = list(MembershipPlan.objects.filter(shop=shop).order_by("created_at", "pk"))
    causes = list(Cause.objects.filter(shop=shop))
    menu = list(MenuItem.objects.filter(shop=shop))
    tiers = tuple(Tier.objects.filter(shop=shop))
    programs = tuple(StampProgram.objects.filter(shop=shop))
    program_by_id = {program.pk: program for program in programs}
    tier_by_id = {tier.pk: tier for tier in tiers}
    catalogue = tuple(CatalogueReward.objects.filter(shop=shop, is_active=True))
    challenges = tuple(Challenge.objects.filter(shop=shop))
    for challenge in challenges:
        challenge.gift_program = program_by_id.get(challenge.gift_program_id) if challenge.gift_program_id else None
    for reward in catalogue:
        # The rows above, not a query each (and not another copy of them).
        reward.stamp_program = program_by_id.get(reward.stamp_program_id) if reward.stamp_program_id else None
        reward.min_tier = tier_by_id.get(reward.min_tier_id) if reward.min_tier_id else None
    return ShopRewards(
        programs=programs,
        points_rule=PointsRule.objects.filter(shop=shop).first(),
        terms=tuple(PointsExpiryTerms.objects.filter(shop=shop)),
        policy=TierPolicy.objects.filter(shop=shop).first(),
        tiers=tiers,
        catalogue=catalogue,
        plans_on_sale=tuple(plan for plan in plans if plan.status == MembershipPlan.Status.ACTIVE),
        has_plans=bool(plans),
        price_changes={
            change.plan_id: change
            for change in PlanPriceChange.objects.filter(shop=shop, applied_at__isnull=True, cancelled_at__isnull=True)
        }
        if plans
        else {},
        plans_multiply=any(plan.points_multiplier and plan.points_multiplier > 1 for plan in plans),
        causes=tuple(cause for cause in causes if cause.is_active),
        has_causes=bool(causes),
        menu=tuple(item for item in menu if item.is_active),
        has_menu=bool(menu),
        has_partner_offers=PartnerOffer.objects.filter(members_shop=shop, status=PartnerOffer.Status.ACTIVE).exists(),
        challenges=challenges,
    )


def shop_rewards(shop: Shop) -> ShopRewards:
    return shop_cached(shop, "rewards", _load)


def watch_settings() -> None:
    for model in (
        StampProgram, PointsRule, PointsExpiryTerms, TierPolicy, Tier, CatalogueReward, MembershipPlan, PlanPriceChange,
        Cause, MenuItem, Challenge,
    ):  # fmt: skip
        watch(model)
