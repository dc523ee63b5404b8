import uuid

from django.conf import settings
from django.contrib import messages
from django.db.models import F, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from rewards import points
from rewards import services as rewards_services
from rewards.forms import AdjustForm, RefundForm
from rewards.models import Purchase, Tier
from rewards.tiers import tier_trial_start

from .. import services
from ..counter import CardView
from ..forms import MemberSearchForm, ShopForm
from ..poster import FORMATS, render_poster
from ..tenancy import shop_member_or_404, shop_view, uuid_or_none

MEMBER_SORTS = {
    "last_visit": [F("last_visit_at").desc(nulls_last=True), "-joined_at"],
    "joined": ["-joined_at"],
    "name": ["name"],
}


@shop_view("shop.view")
@require_GET
def shop_home(request):
    shop = request.shop
    context = {
        "member_count": shop.members.count(),
        "staff_count": shop.staff.count(),
        "join_url": settings.SITE_URL + reverse("members:join", args=[shop.slug]),
    }
    return render(request, "members/shop_home.html", context)


@shop_view("shop.edit")
@require_http_methods(["GET", "POST"])
def shop_settings(request):
    shop = request.shop
    form = ShopForm(request.POST or None, request.FILES or None, instance=shop)
    if request.method == "POST" and form.is_valid():
        services.shop_update(shop=shop, fields={name: form.cleaned_data[name] for name in form.changed_data})
        messages.success(request, _("Settings saved."))
        return redirect("members:shop_settings", shop_slug=shop.slug)
    if request.method == "POST":
        # An invalid form must not leave half-applied values on the shop the
        # layout renders (a bad slug would break every link on the page).
        shop.refresh_from_db()
    return render(request, "members/shop_settings.html", {"form": form})


@shop_view("shop.delete")
@require_http_methods(["GET", "POST"])
def shop_delete(request):
    shop = request.shop
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm", "").strip().lower() == shop.slug:
            name = shop.name
            services.shop_delete(shop=shop)
            messages.success(request, _("The shop %(name)s and all its data were deleted.") % {"name": name})
            return redirect("members:home")
        error = _("Type the shop's web address exactly to confirm.")
    return render(request, "members/shop_delete.html", {"error": error}, status=400 if error else 200)


@shop_view("members.view")
def member_list(request):
    form = MemberSearchForm(request.GET or None)
    sort = request.GET.get("sort") if request.GET.get("sort") in MEMBER_SORTS else "last_visit"
    members = request.shop.members.order_by(*MEMBER_SORTS[sort])
    if form.is_valid() and (q := form.cleaned_data["q"].strip()):
        members = members.filter(
            Q(name__icontains=q) | Q(email__icontains=q) | Q(phone__icontains=q) | Q(code__iexact=q)
        )
    template = "members/member_list.html"
    if request.htmx:
        template += "#results"
    return render(request, template, {"form": form, "members": members[:100], "sort": sort})


def _render_member(request, member, *, form=None, status=200):
    stamps = dict(member.cards.values_list("program_id", "stamps"))
    context = {
        "member": member,
        "cards": [CardView(p, stamps.get(p.pk, 0)) for p in request.shop.stamp_programs.all()],
        "vouchers": list(member.vouchers.all()[:50]),
        "history": list(member.ledger.select_related("staff", "voucher", "card__program", "purchase")[:200]),
        "purchases": list(member.purchases.all()[:50]),
        "tier_changes": list(member.tier_changes.select_related("from_tier", "to_tier")[:20]),
        "tiers": list(Tier.objects.for_shop(request.shop)),
        "adjust_form": form or AdjustForm(shop=request.shop),
    }
    return render(request, "members/member_detail.html", context, status=status)


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
        rewards_services.stamps_adjust(
            member=member,
            program=form.cleaned_data["program"],
            stamps=form.cleaned_data["stamps"],
            note=form.cleaned_data["note"],
            staff=request.user,
            idempotency_key=request.POST.get("key") or uuid.uuid4().hex,
        )
    except rewards_services.LoyaltyError as error:
        form.add_error(None, error.message)
        return _render_member(request, member, form=form, status=409)
    messages.success(request, _("Balance adjusted."))
    return redirect("members:member_detail", shop_slug=request.shop.slug, member_id=member.public_id)


POSTER_LAYOUTS = {"a4", "tent"}


@shop_view("programs.edit")
@require_GET
def poster(request, layout, fmt):
    """The print-ready join poster (A4 or table tent) as PNG or PDF."""
    if layout not in POSTER_LAYOUTS or fmt not in FORMATS:
        raise Http404
    shop = request.shop
    join_url = settings.SITE_URL + reverse("members:join", args=[shop.slug])
    data = render_poster(shop=shop, join_url=join_url, layout=layout, fmt=fmt)
    content_type = "application/pdf" if fmt == "pdf" else "image/png"
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{shop.slug}-join-poster-{layout}.{fmt}"'
    return response


@shop_view("purchases.refund")
@require_POST
def purchase_refund(request, member_id, purchase_id):
    member = shop_member_or_404(request, member_id)
    purchase = Purchase.objects.for_shop(request.shop).filter(member=member, public_id=purchase_id).first()
    if purchase is None:
        raise Http404
    form = RefundForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the amount to refund."))
    else:
        try:
            points.purchase_refund(
                shop=request.shop,
                purchase_id=purchase.pk,
                amount=form.cleaned_data["amount"],
                staff=request.user,
                idempotency_key=request.POST.get("key") or uuid.uuid4().hex,
            )
            messages.success(request, _("Refund recorded."))
        except rewards_services.LoyaltyError as error:
            messages.error(request, error.message)
    return redirect("members:member_detail", shop_slug=request.shop.slug, member_id=member.public_id)


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
            tier_trial_start(member=member, tier=tier, days=days, staff=request.user)
            messages.success(request, _("Trial started."))
        except rewards_services.LoyaltyError as error:
            messages.error(request, error.message)
    return redirect("members:member_detail", shop_slug=request.shop.slug, member_id=member.public_id)
