from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from .. import services
from ..forms import ShopCreateForm


def home(request):
    """Anonymous visitors see what the portal is; signed-in users their shops."""
    if not request.user.is_authenticated:
        return render(request, "members/landing.html")
    # A customer who joined shops with this address: their cards, one click away.
    return render(request, "members/home.html", {"has_cards": request.user.memberships.exists()})


@login_required
@require_http_methods(["GET", "POST"])
def shop_create(request):
    form = ShopCreateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        shop = services.shop_create(owner=request.user, **form.cleaned_data)
        messages.success(request, _("Your shop %(name)s is ready.") % {"name": shop.name})
        return redirect("members:shop_home", shop_slug=shop.slug)
    return render(request, "members/shop_create.html", {"form": form})
