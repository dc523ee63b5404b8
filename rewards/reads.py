"""What the counter, the card and the member page show of a member: one place, shared by all three.

Each panel is a fixed number of queries, whatever the member's history. Apps above rewards add
their news (a member day running now, a referral offer) through ``signals.extras_wanted``.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone

from members.emails import masked_email
from members.models import Member, Shop

from . import signals
from .config import shop_rewards
from .ledger import Reason
from .models import CatalogueReward, LedgerEntry, Membership, MembershipPlan, PlanPriceChange, StampProgram, Voucher
from .services import challenges, giving, menu, partners
from .services.expiry import next_expiry
from .services.merge import merges_of, undoable
from .services.plans import refund_due
from .services.purchases import points_value
from .services.tiers import months_in_a_row, standing


@dataclass
class CardView:
    program: StampProgram
    stamps: int

    @property
    def slots(self) -> list[bool]:
        needed = self.program.stamps_needed
        return [i < self.stamps for i in range(max(needed, self.stamps))]

    @property
    def extra_counts(self) -> list[int]:
        """Buttons for +2, +3 … up to the per-visit limit (five at most, to stay one tap)."""
        return list(range(2, min(self.program.max_stamps_per_visit, 5) + 1))

    @property
    def to_go(self) -> int:
        return max(self.program.stamps_needed - self.stamps, 0)


def stamps_by_program(member: Member) -> dict[int, int]:
    return dict(member.cards.values_list("program_id", "stamps"))


def cards(shop: Shop, stamps: dict[int, int], *, active_only: bool = True) -> list[CardView]:
    """Every card of the shop with the member's stamps on it, empty cards too."""
    settings = shop_rewards(shop)
    programs = settings.active_programs if active_only else settings.programs
    return [CardView(program, stamps.get(program.pk, 0)) for program in programs]


def usable_vouchers(member: Member) -> list[Voucher]:
    now = timezone.now()
    vouchers = member.vouchers.filter(status=Voucher.Status.ISSUED)
    return list(vouchers.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).order_by("expires_at", "issued_at"))


def masked_contact(member: Member) -> str:
    """Enough of the phone (or e-mail) to check with the customer, not enough to learn it: ••• 678."""
    if member.phone:
        return f"••• {member.phone[-3:]}"
    if member.email:
        return masked_email(member.email)
    return ""


@dataclass
class PlanOffer:
    """A plan on sale at the counter, at what it costs now, with a new price scheduled if any."""

    plan: MembershipPlan
    price: Decimal
    change: PlanPriceChange | None


def plans_on_sale(settings) -> list[PlanOffer]:
    """The plans staff may sell, priced for now (held with the shop's settings: no query)."""
    now = timezone.now()
    offers = []
    for plan in settings.plans_on_sale:
        change = settings.price_change(plan)
        offers.append(
            PlanOffer(plan, settings.price_now(plan, now), change if change and change.starts_at > now else None)
        )
    return offers


def held_memberships(member: Member) -> list[Membership]:
    """The memberships a member holds now, newest first, each with its plan (one query, none in a
    shop that never had a plan): a period not yet over, a bundle not expired, used up or not (staff
    see "0 of 10 left" and sell another). A renewal bought ahead is not listed on its own: the one it
    continues says until when it runs on (``renewed_until``). Each also carries what it costs to
    renew now (``renew_price``), a new price scheduled (``price_change``), its months in a row and
    whether they make the member VIP."""
    settings = shop_rewards(member.shop)
    if not settings.has_plans:
        return []
    now, tz = timezone.now(), member.shop.tz
    renewal = Membership.objects.filter(renews=OuterRef("pk"), status=Membership.Status.ACTIVE).values("ends_at")
    held = (
        member.memberships.filter(status=Membership.Status.ACTIVE)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("plan")
        .annotate(renewed_until=Subquery(renewal[:1]))
    )
    held = list(held)
    # A renewal bought ahead shows on the one it continues; one whose membership was refunded since
    # shows on its own, from the day it starts.
    listed = {membership.pk for membership in held}
    held = [membership for membership in held if membership.renews_id not in listed]
    for membership in held:
        membership.upcoming = membership.starts_at > now
        plan = membership.plan
        membership.renew_price = settings.price_now(plan, now)
        change = settings.price_change(plan)
        membership.price_change = change if change is not None and change.starts_at > now else None
        membership.months_in_a_row = months_in_a_row(membership.chain_started_at or membership.starts_at, now, tz)
        membership.is_vip = (
            plan.has_vip and not membership.trial and membership.months_in_a_row >= plan.vip_after_months
        )
    return held


@dataclass
class RewardView:
    reward: CatalogueReward
    affordable: bool
    points_short: int
    stamps_short: int


def catalogue_for(member: Member, stamps_by_program: dict[int, int]) -> list[RewardView]:
    """The rewards a member could choose now, each saying whether they can afford it: the shop's
    catalogue is held (``config``); one query counts the member's own redemptions, and only when a
    reward has a limit per member."""
    rewards = shop_rewards(member.shop).rewards_on(timezone.now())
    used = {}
    if limited := [reward.pk for reward in rewards if reward.per_member_limit]:
        mine = LedgerEntry.objects.filter(
            member=member, reward__in=limited, reason=Reason.REDEEM, voided_by__isnull=True
        )  # The member's own rows (a few), never every redemption of the reward in the shop.
        used = dict(mine.order_by().values("reward").annotate(n=Count("pk")).values_list("reward", "n"))
    rank = member.tier.threshold if member.tier_id and member.tier else -1
    views = []
    for reward in rewards:
        if reward.per_member_limit and used.get(reward.pk, 0) >= reward.per_member_limit:
            continue
        if reward.min_tier_id and reward.min_tier.threshold > rank:
            # Locked rewards are not offered; the tier page tells members what a tier unlocks.
            continue
        points_short = max((reward.cost_points or 0) - member.points, 0)
        stamps_short = max((reward.cost_stamps or 0) - stamps_by_program.get(reward.stamp_program_id, 0), 0)
        views.append(RewardView(reward, points_short == 0 and stamps_short == 0, points_short, stamps_short))
    return views


def counter_panel(shop: Shop, member: Member) -> dict:
    """Cards, points, tier, rewards, vouchers and memberships of one member, for staff (history opens
    on demand), and the plans staff may sell (held with the shop's settings: no query)."""
    stamps = stamps_by_program(member)
    settings = shop_rewards(shop)
    rule = settings.active_rule
    return {
        "member": member,
        "points_rule": rule,
        "catalogue": catalogue_for(member, stamps),
        "standing": standing(member),
        "extras": signals.extras_for(member=member, page="counter", now=timezone.now()),
        "expiring": next_expiry(member, rule, shop.tz),
        "cards": cards(shop, stamps),
        "vouchers": usable_vouchers(member),
        "memberships": held_memberships(member),
        "plans_on_sale": plans_on_sale(settings),
        # What the member usually has, from the menu items their visits were tagged with (no query
        # in a shop without a menu), beside staff's note.
        "usual": menu.usual_order(member),
        # Each running challenge's progress in its window (no query in a shop without one).
        "challenges": challenges.progress_for(member),
    }


def card_panel(member: Member) -> dict:
    """What a member sees on their own card."""
    shop = member.shop
    stamps = stamps_by_program(member)
    rule = shop_rewards(shop).active_rule
    return {
        "points_rule": rule,
        "catalogue": catalogue_for(member, stamps),
        "standing": standing(member),
        "tier_changes": list(member.tier_changes.select_related("from_tier", "to_tier")[:3]),
        "points_value": points_value(rule, member.points, shop.currency) if rule else 0,
        "expiring": next_expiry(member, rule, shop.tz),
        "cards": cards(shop, stamps),
        "vouchers": usable_vouchers(member),
        "memberships": held_memberships(member),
        "history": list(member.ledger.select_related("voucher", "card__program")[:10]),
        "extras": signals.extras_for(member=member, page="card", now=timezone.now()),
        # Each running cause's progress and the member's part: no query in a shop without one.
        "causes": giving.progress(shop, list(shop_rewards(shop).causes), member),
        # Offers of partner shops: shown with where to use them and whether they are used this period.
        "partner_offers": partners.card_offers(member),
        **challenges_panel(member),
    }


def challenges_panel(member: Member) -> dict:
    """The card's challenges: each running one's progress with the member's seat on its board (if
    they joined it), and their badges (no query in a shop that never had a challenge)."""
    progress = challenges.progress_for(member)
    seats = challenges.seats_of(member, progress)
    return {
        "challenges": [(item, seats.get(item.challenge.pk)) for item in progress],
        "badges": challenges.badges_of(member),
    }


def memberships_with_refunds(shop: Shop, member: Member) -> list[tuple[Membership, Decimal | None]]:
    """Every membership of a member, newest first (one query), each with what a refund would give
    back now, as ``membership_refund`` would compute it; None for one that cannot be refunded. No
    query in a shop that never had a plan."""
    if not shop_rewards(shop).has_plans:
        return []
    now = timezone.now()
    return [
        (held, refund_due(held, now, shop.tz, shop.currency) if held.status == Membership.Status.ACTIVE else None)
        for held in member.memberships.select_related("plan", "sold_by")[:50]
    ]


def member_page(shop: Shop, member: Member) -> dict:
    """Everything of one member for the shop's member page: every card, voucher and row, and the
    records merged into it with their own rows (one query more when there are any)."""
    merges = merges_of(member)
    merged_history = []
    if merges:
        merged_history = list(
            LedgerEntry.objects.filter(member_id__in=[record.merged_id for record in merges]).select_related(
                "staff", "voucher", "card__program", "purchase"
            )[:200]
        )
    return {
        "merges": [(record, undoable(record)) for record in merges],
        "merged_history": merged_history,
        "member": member,
        "cards": cards(shop, stamps_by_program(member), active_only=False),
        "vouchers": list(member.vouchers.all()[:50]),
        "history": list(member.ledger.select_related("staff", "voucher", "card__program", "purchase", "api_key")[:200]),
        "purchases": list(member.purchases.all()[:50]),
        "memberships": memberships_with_refunds(shop, member),
        "tier_changes": list(member.tier_changes.select_related("from_tier", "to_tier")[:20]),
        "tiers": shop_rewards(shop).tiers,
        "donations": giving.member_donations(member) if shop_rewards(shop).has_causes else [],
        "badges": challenges.badges_of(member),
        "challenge_completions": challenges.completions_of(member),
    }
