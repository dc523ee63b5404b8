"""The shop's page of one member, and what a manager does there: correct a card, refund a
purchase or a membership, give a tier trial."""

import uuid

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members.currency import format_money
from members.errors import LoyaltyError
from members.forms import EraseForm
from members.services import member_erase
from members.tenancy import shop_member_or_404, shop_view, uuid_or_none

from .. import services
from ..forms import AdjustForm, RefundForm
from ..models import MemberCard, Membership, Purchase, Tier, Voucher
from ..reads import member_page


def _render_member(request, member, *, form=None, status=200):
    context = {**member_page(request.shop, member), "adjust_form": form or AdjustForm(shop=request.shop)}
    return render(request, "rewards/member_detail.html", context, status=status)


def _back(request, member):
    return redirect("rewards:member_detail", shop_slug=request.shop.slug, member_id=member.public_id)


@shop_view("members.view")
@require_GET
def member_detail(request, member_id):
    return _render_member(request, shop_member_or_404(request, member_id))


@shop_view("balances.adjust")
@require_POST
def member_adjust(request, member_id):
    member = shop_member_or_404(request, member_id)
    form = AdjustForm(request.POST, shop=request.shop)
    if not form.is_valid():
        return _render_member(request, member, form=form, status=400)
    try:
        services.stamps_adjust(
            member=member,
            program=form.cleaned_data["program"],
            stamps=form.cleaned_data["stamps"],
            note=form.cleaned_data["note"],
            staff=request.user,
            idempotency_key=request.POST.get("key") or uuid.uuid4().hex,
        )
    except LoyaltyError as error:
        form.add_error(None, error.message)
        return _render_member(request, member, form=form, status=409)
    messages.success(request, _("Balance adjusted."))
    return _back(request, member)


@shop_view("purchases.refund")
@require_POST
def purchase_refund(request, member_id, purchase_id):
    member = shop_member_or_404(request, member_id)
    purchase = Purchase.objects.for_shop(request.shop).filter(member=member, public_id=purchase_id).first()
    if purchase is None:
        raise Http404
    form = RefundForm(request.POST, currency=request.shop.currency)
    if not form.is_valid():
        messages.error(request, _("Enter the amount to refund."))
    else:
        try:
            services.purchase_refund(
                shop=request.shop,
                purchase_id=purchase.pk,
                amount=form.cleaned_data["amount"],
                staff=request.user,
                idempotency_key=request.POST.get("key") or uuid.uuid4().hex,
            )
            messages.success(request, _("Refund recorded."))
        except LoyaltyError as error:
            messages.error(request, error.message)
    return _back(request, member)


@shop_view("purchases.refund")
@require_POST
def membership_refund(request, member_id, membership_id):
    """Refund a membership as its plan says and end it; the amount was on the button."""
    member = shop_member_or_404(request, member_id)
    held = Membership.objects.for_shop(request.shop).filter(member=member, public_id=membership_id).first()
    if held is None:
        raise Http404
    try:
        result = services.membership_refund(
            membership=held, staff=request.user, idempotency_key=request.POST.get("key") or uuid.uuid4().hex
        )
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        refunded = result.membership.refunded_amount
        if refunded:
            amount = format_money(refunded, request.shop.currency)
            messages.success(request, _("Membership refunded: give back %(amount)s.") % {"amount": amount})
        else:
            messages.success(request, _("Membership ended. Its plan gives nothing back."))
    return _back(request, member)


@shop_view("tiers.grant")
@require_POST
def member_tier_trial(request, member_id):
    member = shop_member_or_404(request, member_id)
    tier = Tier.objects.for_shop(request.shop).filter(public_id=uuid_or_none(request.POST.get("tier"))).first()
    try:
        days = int(request.POST.get("days", ""))
    except ValueError:
        days = 0
    if tier is None:
        messages.error(request, _("Choose a tier."))
    else:
        try:
            services.tier_trial_start(member=member, tier=tier, days=days, staff=request.user)
            messages.success(request, _("Trial started."))
        except LoyaltyError as error:
            messages.error(request, error.message)
    return _back(request, member)


@shop_view("members.erase")
@require_http_methods(["GET", "POST"])
def member_erase_confirm(request, member_id):
    """Erase a member's personal data at their request, after a page that says what goes, what is
    kept and what they lose."""
    member = shop_member_or_404(request, member_id)
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        member_erase(member=member, by=request.user, note=form.cleaned_data["note"])
        messages.success(request, _("The member's personal data was erased. Their history stays, naming nobody."))
        return redirect("members:member_list", shop_slug=request.shop.slug)
    context = {
        "member": member,
        "form": form,
        "stamps": sum(MemberCard.objects.filter(member=member, stamps__gt=0).values_list("stamps", flat=True)),
        "vouchers": Voucher.objects.filter(member=member, status=Voucher.Status.ISSUED).count(),
    }
    return render(request, "rewards/member_erase.html", context, status=400 if form.errors else 200)
