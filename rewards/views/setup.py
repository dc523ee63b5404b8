from decimal import Decimal

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from members import onboarding
from members.tenancy import shop_view

from .. import services
from ..forms import CatalogueRewardForm, PointsRuleForm, StampProgramForm, TierForm, TierPolicyForm
from ..models import CatalogueReward, PointsRule, StampProgram, Tier, TierPolicy
from ..services.purchases import points_for
from ..services.tiers import Standing


@shop_view("programs.edit")
@require_GET
def program_list(request):
    programs = StampProgram.objects.for_shop(request.shop)
    return render(request, "rewards/program_list.html", {"programs": programs})


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def program_edit(request, program_id=None):
    program = None
    if program_id is not None:
        program = StampProgram.objects.for_shop(request.shop).filter(public_id=program_id).first()
        if program is None:
            raise Http404
    form = StampProgramForm(request.POST or None, instance=program or StampProgram(shop=request.shop))
    if request.method == "POST" and form.is_valid():
        services.program_save(program=form.instance, staff=request.user)
        onboarding.record(request.shop, "card")
        messages.success(request, _("Card saved."))
        return redirect("rewards:program_list", shop_slug=request.shop.slug)
    status = 400 if form.errors else 200
    return render(request, "rewards/program_form.html", {"form": form, "program": program}, status=status)


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def points_settings(request):
    shop = request.shop
    rule = PointsRule.objects.filter(shop=shop).first() or PointsRule(shop=shop)
    form = PointsRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        services.points_rule_save(rule=form.instance, expiry_from=form.expiry_start())
        messages.success(request, _("Points settings saved."))
        return redirect("rewards:points_settings", shop_slug=shop.slug)
    preview_rule = form.instance if not form.errors else PointsRule.objects.filter(shop=shop).first()
    context = {"form": form, "preview": _preview(preview_rule, shop) if preview_rule else None}
    return render(request, "rewards/points_settings.html", context, status=400 if form.errors else 200)


def _preview(rule, shop) -> dict:
    """What a member would see: the points a typical purchase earns, what points are worth."""
    example = Decimal(120 if shop.currency in ("TWD", "JPY") else 12)
    return {
        "example": example,
        "earned": points_for(rule, example),
        "bill_points": rule.bill_points,
        "bill_value": rule.bill_value,
        "bill_max_percent": rule.bill_max_percent,
        "expiry": rule.expiry,
        "expiry_months": rule.expiry_months,
    }


@shop_view("programs.edit")
@require_GET
def catalogue_list(request):
    rewards = CatalogueReward.objects.for_shop(request.shop).select_related("stamp_program")
    return render(request, "rewards/catalogue_list.html", {"rewards": rewards})


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def catalogue_edit(request, reward_id=None):
    reward = CatalogueReward(shop=request.shop)
    if reward_id is not None:
        reward = CatalogueReward.objects.for_shop(request.shop).filter(public_id=reward_id).first()
        if reward is None:
            raise Http404
    old_image = reward.image.name if reward.image else ""
    form = CatalogueRewardForm(request.POST or None, request.FILES or None, instance=reward)
    if request.method == "POST" and form.is_valid():
        services.reward_save(reward=form.instance, old_image=old_image)
        messages.success(request, _("Reward saved."))
        return redirect("rewards:catalogue_list", shop_slug=request.shop.slug)
    context = {"form": form, "reward": reward if reward_id else None}
    return render(request, "rewards/catalogue_form.html", context, status=400 if form.errors else 200)


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def tier_settings(request, tier_id=None):
    """How tiers are earned (top form), the tiers (list), and one tier to add or edit (bottom form)."""
    shop = request.shop
    policy = TierPolicy.objects.filter(shop=shop).first() or TierPolicy(shop=shop)
    tier = Tier(shop=shop)
    if tier_id is not None:
        tier = Tier.objects.for_shop(shop).filter(public_id=tier_id).first()
        if tier is None:
            raise Http404
    posted = request.POST if request.method == "POST" else None
    policy_form = TierPolicyForm(
        posted if posted and "save_policy" in posted else None, instance=policy, prefix="policy"
    )
    tier_form = TierForm(posted if posted and "save_tier" in posted else None, instance=tier, prefix="tier")
    if posted:
        form = policy_form if "save_policy" in posted else tier_form
        if form.is_valid():
            if form is policy_form:
                services.tier_settings_save(policy=form.instance)
            else:
                services.tier_settings_save(tier=form.instance)
            messages.success(request, _("Tiers saved."))
            return redirect("rewards:tier_settings", shop_slug=shop.slug)
    context = {
        "policy_form": policy_form,
        "tier_form": tier_form,
        "tiers": _tiers_with_unlocks(shop),
        "editing": tier if tier_id else None,
        "has_policy": policy.pk is not None,
        "preview": _tier_preview(policy) if policy.pk else None,
    }
    status = 400 if policy_form.errors or tier_form.errors else 200
    return render(request, "rewards/tier_settings.html", context, status=status)


def _tiers_with_unlocks(shop) -> list:
    """Each tier with the catalogue rewards it unlocks, for the settings table: two queries."""
    tiers = list(Tier.objects.for_shop(shop))
    unlocks: dict[int, list[str]] = {}
    for tier_id, name in (
        CatalogueReward.objects.for_shop(shop).filter(min_tier__isnull=False).values_list("min_tier_id", "name")
    ):
        unlocks.setdefault(tier_id, []).append(name)
    for tier in tiers:
        tier.unlocks = unlocks.get(tier.pk, [])
    return tiers


def _tier_preview(policy):
    """What a new member sees on their card: the first tier and how far it is."""
    first = Tier.objects.for_shop(policy.shop).first()
    return Standing(tier=None, value=0, next_tier=first, basis=policy.basis) if first else None
