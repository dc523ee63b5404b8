"""The member's own card: no account, the signed link is the key. Stamps, points, tier, rewards
and a QR code that refreshes itself while the page is open."""

import mimetypes

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET, require_POST

from members import line
from members.emails import masked_email
from members.i18n import activate_customer_language
from members.models import Member
from members.qr import qr_svg
from members.tokens import card_token, member_from_card_token, member_qr_payload

from ..config import shop_rewards
from ..models import WalletPass
from ..reads import card_panel, cards, stamps_by_program, usable_vouchers
from ..services import wallet


@never_cache
@require_GET
def card(request, token):
    member = member_from_card_token(token)
    if member is None:
        raise Http404
    shop = member.shop
    activate_customer_language(request, shop, member)
    context = {
        "public_shop": shop,
        "member": member,
        "qr": mark_safe(qr_svg(member_qr_payload(member))),  # noqa: S308 - SVG made by qrcode from our own data
        "qr_refresh_seconds": max(settings.MEMBER_QR_MAX_AGE_SECONDS // 3, 10),
    }
    if request.htmx:
        # The page asks for a fresh QR code while it is open.
        return render(request, "rewards/card.html#qr", context)
    # Just joined: how to keep the card comes first (and no word of an e-mail unless one was sent).
    context["welcome"] = request.GET.get("welcome") == "1"
    context["card_token"] = token
    context["sent_to"] = masked_email(member.email) if member.email else ""
    context.update(wallet.card_context(member, token))
    # LINE: asked of the database only at a shop that connected it (held with its settings).
    if line.has_line(shop):
        context["line"] = {"linked": line.linked(member), "code": line.live_code(member)}
    with timezone.override(shop.tz):
        return render(request, "rewards/card.html", {**context, **card_panel(member)})


def _logo_icon(shop) -> dict | None:
    """The shop's logo as an app icon (re-encoded on upload to fit 512 x 512: members.images), or None
    when there is none or its file cannot be read (the portal's icon stands in)."""
    if not shop.logo:
        return None
    try:
        width, height = shop.logo.width, shop.logo.height
    except (OSError, ValueError):
        return None
    kind = mimetypes.guess_type(shop.logo.name)[0] or "image/png"
    return {"src": shop.logo.url, "sizes": f"{width}x{height}", "type": kind}


@require_GET
def card_manifest(request, token):
    """The card as an installable web app: it opens on the member's own card, in the shop's colours,
    with the shop's logo (or the portal's icon)."""
    member = member_from_card_token(token)
    if member is None:
        raise Http404
    shop = member.shop
    language = activate_customer_language(request, shop, member)
    card_url = reverse("rewards:card", args=[token])
    icons = [
        {"src": static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": static("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        {"src": static("icons/icon-maskable-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
    ]
    if logo := _logo_icon(shop):
        icons.insert(0, logo)
    manifest = {
        "name": _("%(shop)s loyalty card") % {"shop": shop.name},
        "short_name": shop.name[:24],
        "lang": language,
        "start_url": card_url,
        "scope": card_url,
        "display": "standalone",
        "background_color": "#f7f6f3",
        "theme_color": shop.brand_colour,
        "icons": icons,
    }
    response = JsonResponse(manifest, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response


@require_GET
@cache_control(no_cache=True)
def card_service_worker(request):
    """Keeps the last card page each phone opened, for when the phone is offline (see the script)."""
    return render(request, "rewards/card_sw.js", content_type="text/javascript")


@login_required
@require_GET
def my_cards(request):
    """A customer's cards at every shop of this installation on one page, each with its balances,
    vouchers and QR code (signed in with a code sent to their e-mail)."""
    entries = []
    for member in Member.objects.filter(user=request.user).select_related("shop").order_by("shop__name", "pk"):
        entries.append(
            {
                "member": member,
                "shop": member.shop,
                "token": card_token(member),
                "cards": cards(member.shop, stamps_by_program(member)),
                "points_rule": shop_rewards(member.shop).active_rule,
                "vouchers": usable_vouchers(member),
                "qr": mark_safe(qr_svg(member_qr_payload(member))),  # noqa: S308 - SVG made by qrcode from our own data
            }
        )
    return render(request, "rewards/my_cards.html", {"entries": entries})


@require_POST
def card_wallet_revoke(request, token, pass_id):
    """The member revokes a pass from their card (a lost phone): its barcode stops working at once."""
    member = member_from_card_token(token)
    if member is None:
        raise Http404
    held = get_object_or_404(WalletPass, member=member, public_id=pass_id, revoked_at__isnull=True)
    wallet.pass_revoke(member=member, wallet_pass=held)
    activate_customer_language(request, member.shop, member)
    messages.success(request, _("The pass is revoked: its code no longer works at the counter."))
    return redirect("rewards:card", token=token)


@require_POST
def card_line_code(request, token):
    """A one-time code the member sends to the shop's LINE account to link it to this card."""
    member = member_from_card_token(token)
    if member is None or not line.has_line(member.shop):
        raise Http404
    line.code_new(member)
    return redirect(reverse("rewards:card", args=[token]) + "#line")


@require_POST
def card_line_disconnect(request, token):
    """The card stops reaching the LINE account linked to it."""
    member = member_from_card_token(token)
    if member is None:
        raise Http404
    line.member_unlink(member)
    activate_customer_language(request, member.shop, member)
    messages.success(request, _("LINE is disconnected from your card."))
    return redirect("rewards:card", token=token)
