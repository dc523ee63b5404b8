from django.contrib import messages
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from .. import services
from ..forms import MemberSearchForm, ShopForm
from ..tenancy import shop_view


@shop_view("shop.view")
def shop_home(request):
    shop = request.shop
    context = {
        "member_count": shop.members.count(),
        "staff_count": shop.staff.count(),
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
    members = request.shop.members.order_by("-last_visit_at", "-joined_at")
    if form.is_valid() and (q := form.cleaned_data["q"].strip()):
        members = members.filter(
            Q(name__icontains=q) | Q(email__icontains=q) | Q(phone__icontains=q) | Q(code__iexact=q)
        )
    template = "members/member_list.html"
    if request.htmx:
        template += "#results"
    return render(request, template, {"form": form, "members": members[:100]})
