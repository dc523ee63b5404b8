"""The owner's API keys (docs/api.md): made for a point of sale or a tool, the key shown once on
the page that answers its making and never again, listed with when each was last used, revoked."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from members.errors import LoyaltyError
from members.tenancy import shop_view

from ..api.keys import api_key_create, api_key_revoke
from ..forms import ApiKeyForm
from ..models import ApiKey


@shop_view("api.manage")
@require_http_methods(["GET", "POST"])
@never_cache
def api_keys(request):
    shop = request.shop
    form = ApiKeyForm(request.POST or None)
    created = secret = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created, secret = api_key_create(shop=shop, by=request.user, **form.cleaned_data)
            except LoyaltyError as error:
                form.add_error(None, error.message)
                status = 400
            else:
                form = ApiKeyForm()
        else:
            status = 400
    keys = ApiKey.objects.for_shop(shop).select_related("created_by")
    context = {"form": form, "keys": keys, "created": created, "secret": secret}
    return render(request, "rewards/api_keys.html", context, status=status)


@shop_view("api.manage")
@require_POST
def api_key_revoke_view(request, key_id):
    key = get_object_or_404(ApiKey.objects.for_shop(request.shop), public_id=key_id)
    api_key_revoke(key=key, by=request.user)
    messages.success(request, _("The key %(name)s is revoked: requests with it are refused from now on.") % {
        "name": key.name,
    })  # fmt: skip
    return redirect("rewards:api_keys", shop_slug=request.shop.slug)
