"""The owner connects the shop's LINE official account: the credentials go in once and are never
shown again, only their last characters."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from .. import line
from ..forms import LineChannelForm
from ..tenancy import shop_view


@shop_view("shop.edit")
@require_http_methods(["GET", "POST"])
def line_settings(request):
    shop = request.shop
    channel = line.channel_of(shop)
    form = LineChannelForm(request.POST if request.method == "POST" and "connect" in request.POST else None)
    status = 200
    if request.method == "POST":
        if "disconnect" in request.POST:
            line.channel_disconnect(shop=shop, by=request.user)
            messages.success(request, _("LINE is disconnected."))
            return redirect("members:line_settings", shop_slug=shop.slug)
        if not line.available():
            status = 400
        elif form.is_valid():
            data = form.cleaned_data
            line.channel_connect(
                shop=shop,
                channel_id=data["channel_id"],
                secret=data["channel_secret"],
                token=data["access_token"],
                by=request.user,
            )
            messages.success(request, _("LINE is connected."))
            return redirect("members:line_settings", shop_slug=shop.slug)
        else:
            status = 400
    context = {
        "channel": channel,
        "form": form,
        "available": line.available(),
        "webhook_url": settings.SITE_URL + reverse("rewards:line_webhook", args=[shop.slug]),
    }
    return render(request, "members/line_settings.html", context, status=status)
