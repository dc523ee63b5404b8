"""The member's own card: no account, the signed link is the key. Stamps, points, tier, rewards
and a QR code that refreshes itself while the page is open."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from members.i18n import activate_shop_language
from members.qr import qr_svg
from members.tokens import member_from_card_token, member_qr_payload

from ..reads import card_panel


@never_cache
@require_GET
def card(request, token):
    member = member_from_card_token(token)
    if member is None:
        raise Http404
    shop = member.shop
    activate_shop_language(request, shop)
    context = {
        "public_shop": shop,
        "member": member,
        "qr": mark_safe(qr_svg(member_qr_payload(member))),  # noqa: S308 - SVG made by qrcode from our own data
        "qr_refresh_seconds": max(settings.MEMBER_QR_MAX_AGE_SECONDS // 3, 10),
    }
    if request.htmx:
        # The page asks for a fresh QR code while it is open.
        return render(request, "rewards/card.html#qr", context)
    with timezone.override(shop.tz):
        return render(request, "rewards/card.html", {**context, **card_panel(member)})
