"""A shop's public "how our programme works" page, in plain words, from its settings as they are now:
its stamp cards, how points are earned, what they are worth and when they expire, the rewards to
choose from, tiers and how to reach and keep them, the memberships on sale, and the gifts and member
days its running campaigns give.

It lives in campaigns, the top app, because it reads both apps' settings: rewards' through
``shop_rewards`` (held per process until the shop's settings change, ``members.config``) and the
running campaigns in one query. Only what is on now is said: paused cards, plans not on sale,
campaigns that have not started or have ended, rewards out of stock or out of their dates, and
anything that points at a paused card or a deleted tier are left out. A campaign is said only when
everyone it names would get it: one that holds a share back for comparison, or that is for members
chosen by dates or customer group, is no promise to make on a public page (as the join page's offer,
``members.offers``).

Every sentence is made in the active language (the caller activates the visitor's); names, rewards
and benefits are what the owner typed.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from members.currency import format_money, quantize
from members.models import Shop
from rewards.config import ShopRewards, shop_rewards
from rewards.models import (
    CatalogueReward,
    Cause,
    MembershipPlan,
    PartnerOffer,
    PointsRule,
    StampProgram,
    Tier,
    TierPolicy,
)
from rewards.services.expiry import Terms, terms_history
from rewards.services.giving import give_rate
from rewards.services.purchases import points_for

from .forms import WEEKDAYS
from .models import Campaign

Kind = Campaign.Kind
Gift = Campaign.Gift
Expiry = PointsRule.Expiry

# The campaigns a member can count on; announcements are news, not rules.
RULE_KINDS = (Kind.WELCOME, Kind.BIRTHDAY, Kind.BOOST, Kind.REFERRAL, Kind.WINBACK, Kind.ANNIVERSARY)


@dataclass(frozen=True)
class Rule:
    """One thing a member can count on, as a sentence, with the small print under it."""

    text: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    key: str  # stamps, points, rewards, tiers, plans, extras: for tests and the page's anchors
    title: str
    rules: tuple[Rule, ...]
    intro: str = ""


def sections(shop: Shop, now: datetime | None = None) -> list[Section]:
    """What the shop's programme is now, section by section; empty when it has nothing on. Costs the
    shop's held settings (``shop_rewards``), one query for its running campaigns, and one for its
    partners' offers if it has any."""
    now = now or timezone.now()
    settings = shop_rewards(shop)
    found = [
        _stamps(shop, settings),
        _points(shop, settings, now),
        _rewards(shop, settings, now),
        _tiers(settings),
        _plans(shop, settings, now),
        _causes(shop, settings),
        _partners(shop, now) if settings.has_partner_offers else None,
        _extras(shop, settings, running_campaigns(shop, now), now),
    ]
    return [section for section in found if section is not None and section.rules]


def running_campaigns(shop: Shop, now: datetime) -> list[Campaign]:
    """The shop's campaigns of the kinds above that are on at ``now``, oldest first: one query."""
    return list(
        Campaign.objects.filter(
            Q(starts_at__isnull=True) | Q(starts_at__lte=now),
            Q(ends_at__isnull=True) | Q(ends_at__gt=now),
            shop=shop,
            kind__in=RULE_KINDS,
            is_active=True,
        ).order_by("created_at", "pk")
    )


# Small words used by several sections.


def _money(amount, shop: Shop) -> str:
    return format_money(amount, shop.currency)


def _factor(multiplier: Decimal) -> str:
    """1.5, 2: as few decimals as the multiplier needs (a point in all three languages)."""
    return format(Decimal(multiplier).normalize(), "f")


def _day(moment: datetime, shop: Shop) -> str:
    return date_format(timezone.localtime(moment, shop.tz), "DATE_FORMAT")


def _stamps_text(count: int, program: StampProgram) -> str:
    return ngettext("%(count)s stamp on %(card)s", "%(count)s stamps on %(card)s", count) % {
        "count": count,
        "card": program.name,
    }


def _points_text(count: int) -> str:
    return ngettext("%(count)s point", "%(count)s points", count) % {"count": count}


def _benefits(text: str) -> tuple[str, ...]:
    """What the owner typed, a line each."""
    return tuple(line.strip() for line in text.splitlines() if line.strip())


# Stamp cards.


def _stamps(shop: Shop, settings: ShopRewards) -> Section:
    rule = settings.active_rule
    rules = []
    for program in settings.active_programs:
        count = program.stamps_needed
        text = ngettext(
            "%(card)s: collect %(count)s stamp and get %(reward)s.",
            "%(card)s: collect %(count)s stamps and get %(reward)s.",
            count,
        ) % {"card": program.name, "count": count, "reward": program.reward}
        details = [
            ngettext(
                "Staff stamp your card at the counter: up to %(count)s stamp per visit.",
                "Staff stamp your card at the counter: up to %(count)s stamps per visit.",
                program.max_stamps_per_visit,
            )
            % {"count": program.max_stamps_per_visit}
        ]
        if gap := _visit_gap(program.min_minutes_between_visits):
            details.append(gap)
        if rule is not None and rule.purchase_stamps_id == program.pk:
            details.append(_("A purchase also stamps this card."))
        if program.voucher_valid_days:
            details.append(
                ngettext(
                    "A full card gives you a voucher on your card, valid for %(count)s day.",
                    "A full card gives you a voucher on your card, valid for %(count)s days.",
                    program.voucher_valid_days,
                )
                % {"count": program.voucher_valid_days}
            )
        else:
            details.append(_("A full card gives you a voucher on your card that does not expire."))
        rules.append(Rule(text, tuple(details)))
    return Section("stamps", _("Stamp cards"), tuple(rules))


def _visit_gap(minutes: int) -> str:
    """How far apart two visits must be to count apart, in the largest whole unit."""
    if not minutes:
        return ""
    if minutes % (24 * 60) == 0:
        count = minutes // (24 * 60)
        return ngettext(
            "Visits count when they are at least %(count)s day apart.",
            "Visits count when they are at least %(count)s days apart.",
            count,
        ) % {"count": count}
    if minutes % 60 == 0:
        count = minutes // 60
        return ngettext(
            "Visits count when they are at least %(count)s hour apart.",
            "Visits count when they are at least %(count)s hours apart.",
            count,
        ) % {"count": count}
    return ngettext(
        "Visits count when they are at least %(count)s minute apart.",
        "Visits count when they are at least %(count)s minutes apart.",
        minutes,
    ) % {"count": minutes}


# Points: earning, what they are worth, expiry.

# A purchase between two steps shows what the rounding does: half a step over rounded down or to the
# nearest, a fifth of a step over rounded up.
EXAMPLE_PART = {
    PointsRule.Rounding.DOWN: Decimal("0.5"),
    PointsRule.Rounding.NEAREST: Decimal("0.5"),
    PointsRule.Rounding.UP: Decimal("0.2"),
}


def _example(rule: PointsRule, currency: str) -> Decimal:
    """An amount between two steps that earns points: past the smallest purchase that does."""
    steps = max(1, math.ceil(rule.min_purchase / rule.step_amount))
    return quantize(rule.step_amount * (steps + EXAMPLE_PART[rule.rounding]), currency)


def _points(shop: Shop, settings: ShopRewards, now: datetime) -> Section | None:
    rule = settings.active_rule
    if rule is None:
        return None
    step = _money(rule.step_amount, shop)
    earn = ngettext(
        "Earn %(points)s point for every %(amount)s you spend.",
        "Earn %(points)s points for every %(amount)s you spend.",
        rule.points_per_step,
    ) % {"points": rule.points_per_step, "amount": step}
    example = _example(rule, shop.currency)
    earned = points_for(rule, example)
    values = {"step": step, "amount": _money(example, shop), "count": earned}
    if rule.rounding == PointsRule.Rounding.UP:
        rounding = ngettext(
            "What you spend counts in steps of %(step)s, rounded up: %(amount)s earns %(count)s point.",
            "What you spend counts in steps of %(step)s, rounded up: %(amount)s earns %(count)s points.",
            earned,
        )
    elif rule.rounding == PointsRule.Rounding.NEAREST:
        rounding = ngettext(
            "What you spend counts in steps of %(step)s, rounded to the nearest: %(amount)s earns %(count)s point.",
            "What you spend counts in steps of %(step)s, rounded to the nearest: %(amount)s earns %(count)s points.",
            earned,
        )
    else:
        rounding = ngettext(
            "What you spend counts in steps of %(step)s, rounded down: %(amount)s earns %(count)s point.",
            "What you spend counts in steps of %(step)s, rounded down: %(amount)s earns %(count)s points.",
            earned,
        )
    details = [rounding % values]
    if rule.min_purchase > 0:
        details.append(_("Purchases under %(amount)s earn no points.") % {"amount": _money(rule.min_purchase, shop)})
    rules = [Rule(earn, tuple(details))]
    if rule.pays_bills:
        worth = ngettext(
            "%(count)s point takes %(amount)s off your bill.",
            "%(count)s points take %(amount)s off your bill.",
            rule.bill_points,
        ) % {"count": rule.bill_points, "amount": _money(rule.bill_value, shop)}
        limit = _("You can pay up to %(percent)s%% of a bill with points.") % {"percent": rule.bill_max_percent}
        rules.append(Rule(worth, (limit,)))
    elif any(reward.cost_points for reward in _offered(settings, now)):
        rules.append(Rule(_("Spend your points on the rewards below.")))
    rules.append(_expiry(shop, rule, settings, now))
    return Section("points", _("Points"), tuple(rules))


def _expiry(shop: Shop, rule: PointsRule, settings: ShopRewards, now: datetime) -> Rule:
    """The expiry terms points earned now keep; terms announced for a later day; and, when the terms
    changed, that points keep the terms they were earned under (changes are never retroactive)."""
    history = terms_history(rule, held=settings.terms)
    past = [terms for terms in history if terms.valid_from <= now]
    current = past[-1] if past else None
    details = []
    for terms in history:
        if terms.valid_from > now:
            details.append(
                _("From %(date)s: %(terms)s") % {"date": _day(terms.valid_from, shop), "terms": _terms_text(terms)}
            )
    if current is not None and any(_terms_text(terms) != _terms_text(current) for terms in past):
        details.append(
            _("Points earned before %(date)s keep the terms that applied when they were earned.")
            % {"date": _day(current.valid_from, shop)}
        )
    return Rule(_terms_text(current), tuple(details))


def _terms_text(terms: Terms | None) -> str:
    if terms is None or terms.expiry == Expiry.NEVER or not terms.months:
        return _("Points do not expire.")
    if terms.expiry == Expiry.AFTER_LAST_VISIT:
        return ngettext(
            "Points expire after %(count)s month without a visit: every visit keeps them all.",
            "Points expire after %(count)s months without a visit: every visit keeps them all.",
            terms.months,
        ) % {"count": terms.months}
    return ngettext(
        "Points expire %(count)s month after you earn them.",
        "Points expire %(count)s months after you earn them.",
        terms.months,
    ) % {"count": terms.months}


# Rewards from the catalogue.


def _offered(settings: ShopRewards, now: datetime) -> list[CatalogueReward]:
    """Rewards on offer now that a member can pay for: points only while points are on, stamps only
    from a card that is not paused."""
    active = {program.pk for program in settings.active_programs}
    points_on = settings.active_rule is not None
    return [
        reward
        for reward in settings.rewards_on(now)
        if (not reward.cost_points or points_on) and (not reward.cost_stamps or reward.stamp_program_id in active)
    ]


def _rewards(shop: Shop, settings: ShopRewards, now: datetime) -> Section:
    rules = []
    for reward in _offered(settings, now):
        costs = []
        if reward.cost_points:
            costs.append(_points_text(reward.cost_points))
        if reward.cost_stamps:
            costs.append(_stamps_text(reward.cost_stamps, reward.stamp_program))
        text = _("%(reward)s: %(cost)s") % {"reward": reward.name, "cost": " + ".join(costs)}
        details = []
        if reward.min_tier is not None:
            details.append(_("For %(tier)s members and above.") % {"tier": reward.min_tier.name})
        if reward.per_member_limit:
            details.append(_("At most %(count)s per member.") % {"count": reward.per_member_limit})
        if reward.ends_at is not None:
            details.append(_("Until %(date)s.") % {"date": _day(reward.ends_at, shop)})
        rules.append(Rule(text, tuple(details)))
    intro = _("Ask at the counter for the reward you choose.") if rules else ""
    return Section("rewards", _("Rewards to choose from"), tuple(rules), intro)


# Tiers.


def _tiers(settings: ShopRewards) -> Section | None:
    policy, tiers = settings.policy, settings.tiers
    if policy is None or not tiers:
        return None
    visits = policy.basis == TierPolicy.Basis.VISITS
    if policy.window_months:
        window = {"count": policy.window_months}
        if visits:
            basis = ngettext(
                "Your tier depends on your visits in the last %(count)s month.",
                "Your tier depends on your visits in the last %(count)s months.",
                policy.window_months,
            )
        else:
            basis = ngettext(
                "Your tier depends on the points you earned in the last %(count)s month.",
                "Your tier depends on the points you earned in the last %(count)s months.",
                policy.window_months,
            )
        basis %= window
    else:
        basis = (
            _("Your tier depends on all your visits since you joined.")
            if visits
            else _("Your tier depends on all the points you earned since you joined.")
        )
    if policy.grace_days:
        keep = ngettext(
            "If you fall below your tier, you keep it for %(count)s more day before moving down.",
            "If you fall below your tier, you keep it for %(count)s more days before moving down.",
            policy.grace_days,
        ) % {"count": policy.grace_days}
    else:
        keep = _("If you fall below your tier, you move down the next day.")
    rules = [Rule(basis, (_("You move up as soon as you reach a tier."), keep))]
    rules += [_tier(tier, visits) for tier in tiers]
    return Section("tiers", _("Tiers"), tuple(rules))


def _tier(tier: Tier, visits: bool) -> Rule:
    if not tier.threshold:
        text = _("%(tier)s: from the start.") % {"tier": tier.name}
    elif visits:
        text = ngettext("%(tier)s: %(count)s visit", "%(tier)s: %(count)s visits", tier.threshold) % {
            "tier": tier.name,
            "count": tier.threshold,
        }
    else:
        text = ngettext("%(tier)s: %(count)s point", "%(tier)s: %(count)s points", tier.threshold) % {
            "tier": tier.name,
            "count": tier.threshold,
        }
    details = []
    if tier.multiplier > 1:
        details.append(_("Points ×%(factor)s on your purchases.") % {"factor": _factor(tier.multiplier)})
    return Rule(text, (*details, *_benefits(tier.benefits)))


# Memberships and prepaid bundles on sale.


def _plans(shop: Shop, settings: ShopRewards, now: datetime) -> Section:
    tiers = {tier.pk: tier for tier in settings.tiers}
    rules = []
    for plan in settings.plans_on_sale:
        price = _money(settings.price_now(plan, now), shop)
        if plan.kind == MembershipPlan.Kind.BUNDLE:
            text = _("%(plan)s: %(count)s × %(item)s for %(price)s.") % {
                "plan": plan.name, "count": plan.items, "item": plan.item_name, "price": price,
            }  # fmt: skip
            details = []
            if plan.valid_days:
                details.append(
                    ngettext("Use them within %(count)s day.", "Use them within %(count)s days.", plan.valid_days)
                    % {"count": plan.valid_days}
                )
        else:
            text = ngettext(
                "%(plan)s: %(price)s for %(count)s month.", "%(plan)s: %(price)s for %(count)s months.",
                plan.period_months,
            ) % {"plan": plan.name, "price": price, "count": plan.period_months}  # fmt: skip
            details = _period_benefits(plan, tiers)
        change = settings.price_change(plan)
        if change is not None and change.pending and change.starts_at > now:
            details.append(
                _("From %(date)s it costs %(price)s.")
                % {"date": _day(change.starts_at, shop), "price": _money(change.new_price, shop)}
            )
        rules.append(Rule(text, (*details, *_benefits(plan.benefits))))
    intro = _("Sold at the counter: ask staff.") if rules else ""
    return Section("plans", _("Memberships"), tuple(rules), intro)


def _causes(shop: Shop, settings: ShopRewards) -> Section:
    """The good the programme does: what the shop gives, what a point given is worth, the match."""
    rules = []
    for cause in settings.causes:
        details = []
        if cause.basis == Cause.Basis.VISIT and cause.amount_per > 0:
            details.append(
                _("For every visit, the shop gives %(amount)s.") % {"amount": _money(cause.amount_per, shop)}
            )
        elif cause.basis == Cause.Basis.PURCHASE and cause.amount_per > 0:
            details.append(
                _("For every purchase, the shop gives %(amount)s.") % {"amount": _money(cause.amount_per, shop)}
            )
        if cause.takes_points:
            points, value = give_rate(cause, shop.currency)
            details.append(
                ngettext(
                    "You can give your points from your card: %(count)s point sends %(value)s.",
                    "You can give your points from your card: every %(count)s points send %(value)s.",
                    points,
                )
                % {"count": points, "value": _money(value, shop)}
            )
        if cause.matches:
            details.append(
                _("The shop matches what members give, up to %(limit)s in all.")
                % {"limit": _money(cause.match_limit, shop)}
            )
        text = _("%(cause)s, with %(partner)s: the goal is %(goal)s %(unit)s.") % {
            "cause": cause.name, "partner": cause.partner, "goal": cause.goal, "unit": cause.unit,
        }  # fmt: skip
        rules.append(Rule(text, tuple(details)))
    return Section("causes", _("Doing some good"), tuple(rules))


def _partners(shop: Shop, now: datetime) -> Section:
    """Offers of partner shops for this shop's members, and where to use them (one query, asked only
    when the shop's settings say partners give its members something)."""
    offers = PartnerOffer.objects.filter(members_shop=shop, status=PartnerOffer.Status.ACTIVE).select_related(
        "partner_shop"
    )
    rules = []
    for offer in offers.order_by("proposed_at", "id"):
        if not offer.runs_on(timezone.localtime(now, offer.partner_shop.tz).date()):
            continue
        details = [offer.terms] if offer.terms else []
        if offer.ends_on:
            details.append(_("Until %(day)s.") % {"day": date_format(offer.ends_on)})
        text = _("%(offer)s at %(partner)s: show your card's QR code at their counter, %(period)s.") % {
            "offer": offer.title, "partner": offer.partner_shop.name, "period": offer.get_period_display(),
        }  # fmt: skip
        rules.append(Rule(text, tuple(details)))
    return Section("partners", _("At our partners"), tuple(rules))


def _period_benefits(plan: MembershipPlan, tiers: dict[int, Tier]) -> list[str]:
    details = []
    if tier := tiers.get(plan.tier_id):
        details.append(_("You are %(tier)s while it runs.") % {"tier": tier.name})
    if plan.points_multiplier and plan.points_multiplier > 1:
        details.append(_("Points ×%(factor)s on your purchases.") % {"factor": _factor(plan.points_multiplier)})
    if plan.discount_percent:
        details.append(_("%(percent)s%% off what you buy at the counter") % {"percent": plan.discount_percent})
    if plan.allowance_title:
        details.append(_("Each month: %(item)s, as a voucher on your card.") % {"item": plan.allowance_title})
    if plan.has_vip:
        months = plan.vip_after_months
        if vip := tiers.get(plan.vip_tier_id):
            details.append(
                ngettext(
                    "After %(count)s month in a row you are VIP: %(tier)s.",
                    "After %(count)s months in a row you are VIP: %(tier)s.",
                    months,
                )
                % {"count": months, "tier": vip.name}
            )
        else:
            details.append(
                ngettext(
                    "After %(count)s month in a row you are VIP.", "After %(count)s months in a row you are VIP.",
                    months,
                ) % {"count": months}
            )  # fmt: skip
    return details


# Gifts and member days: the running campaigns.


def _extras(shop: Shop, settings: ShopRewards, campaigns: list[Campaign], now: datetime) -> Section:
    tiers = {tier.pk: tier for tier in settings.tiers}
    rules = []
    for campaign in campaigns:
        if campaign.has_holdout and campaign.holdout_percent:
            continue  # some members get nothing, on purpose: no promise to make
        if campaign.audience == Campaign.Audience.ALL:
            audience = ()
        elif campaign.audience == Campaign.Audience.TIER and (tier := tiers.get(campaign.audience_tier_id)):
            audience = (_("For %(tier)s members.") % {"tier": tier.name},)
        else:
            continue  # members chosen by dates or customer group, or a tier that is gone
        if rule := _campaign_rule(shop, settings, campaign, now):
            rules.append(Rule(rule.text, (*rule.details, *audience)))
    return Section("extras", _("Gifts and member days"), tuple(rules))


def _campaign_rule(shop: Shop, settings: ShopRewards, campaign: Campaign, now: datetime) -> Rule | None:
    if campaign.kind == Kind.BOOST:
        return _boost(shop, campaign, now)
    gift = _gift(settings, campaign)
    if not gift:
        return None
    if campaign.kind == Kind.WELCOME:
        return Rule(_("A welcome gift when you join: %(gift)s") % {"gift": gift})
    if campaign.kind == Kind.BIRTHDAY:
        if campaign.days_before:
            text = ngettext(
                "A birthday gift: %(gift)s, %(count)s day before your birthday.",
                "A birthday gift: %(gift)s, %(count)s days before your birthday.",
                campaign.days_before,
            ) % {"gift": gift, "count": campaign.days_before}
        else:
            text = _("A birthday gift on your birthday: %(gift)s.") % {"gift": gift}
        return Rule(text, (_("Only for members who gave us their birthday."),))
    if campaign.kind == Kind.REFERRAL:
        text = _(
            "Bring a friend: when a friend joins with your link and comes for a first visit, you both get %(gift)s."
        )
        limit = ngettext("For up to %(count)s friend.", "For up to %(count)s friends.", campaign.referral_limit)
        return Rule(
            text % {"gift": gift}, (limit % {"count": campaign.referral_limit}, _("Your link is on your card."))
        )
    if campaign.kind == Kind.WINBACK and campaign.days_away:
        text = ngettext(
            "We miss you: after %(count)s day without a visit, you get %(gift)s.",
            "We miss you: after %(count)s days without a visit, you get %(gift)s.",
            campaign.days_away,
        )
        return Rule(text % {"count": campaign.days_away, "gift": gift})
    if campaign.kind == Kind.ANNIVERSARY:
        details = ()
        if campaign.gift in (Gift.STAMPS, Gift.POINTS):
            details = (_("It grows with every year you have been with us, up to ten years."),)
        return Rule(_("Every year on the day you joined: %(gift)s.") % {"gift": gift}, details)
    return None


def _gift(settings: ShopRewards, campaign: Campaign) -> str:
    """What the campaign gives, as a customer reads it; "" when it would give nothing (as the gift
    itself does, ``rewards.services.gifts``: stamps land on its card, else the first active one)."""
    if campaign.gift == Gift.STAMPS and campaign.gift_stamps:
        programs = settings.active_programs
        if campaign.gift_program_id is None:
            program = programs[0] if programs else None
        else:
            program = next((p for p in programs if p.pk == campaign.gift_program_id), None)
        return _stamps_text(campaign.gift_stamps, program) if program else ""
    if campaign.gift == Gift.POINTS and campaign.gift_points:
        return _points_text(campaign.gift_points)
    if campaign.gift == Gift.VOUCHER:
        return campaign.voucher_title or campaign.name
    return ""


def _boost(shop: Shop, campaign: Campaign, now: datetime) -> Rule | None:
    """A member day or happy hour: what it multiplies, on which days, at which hours."""
    if not campaign.multiplier:
        return None
    if campaign.on_date and campaign.on_date < timezone.localtime(now, shop.tz).date():
        return None  # its one day is over
    values = {"name": campaign.name, "factor": _factor(campaign.multiplier)}
    if campaign.multiplies == Campaign.Multiplies.STAMPS:
        text = _("%(name)s: your stamps count ×%(factor)s.") % values
    elif campaign.multiplies == Campaign.Multiplies.POINTS:
        text = _("%(name)s: your points count ×%(factor)s.") % values
    else:
        text = _("%(name)s: your stamps and points count ×%(factor)s.") % values
    return Rule(text, (_when(campaign),))


def _when(campaign: Campaign) -> str:
    if campaign.on_date:
        days = _("On %(date)s") % {"date": date_format(campaign.on_date, "DATE_FORMAT")}
    elif campaign.weekdays:
        names = dict(WEEKDAYS)
        listed = pgettext("between the items of a list", ", ").join(
            str(names[day]) for day in sorted(campaign.weekdays) if day in names
        )
        days = _("Every %(days)s") % {"days": listed}
    else:
        days = _("Every day")
    start, end = campaign.hours_from, campaign.hours_to
    if start is None and end is None:
        return days
    if start is None:
        hours = _("until %(end)s") % {"end": time_format(end, "TIME_FORMAT")}
    elif end is None:
        hours = _("from %(start)s") % {"start": time_format(start, "TIME_FORMAT")}
    else:
        hours = _("from %(start)s to %(end)s") % {
            "start": time_format(start, "TIME_FORMAT"),
            "end": time_format(end, "TIME_FORMAT"),
        }
    return _("%(days)s, %(hours)s") % {"days": days, "hours": hours}
