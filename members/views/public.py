"""Pages customers see without an account: the join page and their card."""

from allauth.account.internal.flows.login_by_code import LoginCodeVerificationProcess
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from campaigns.referrals import referral_offer, referrer_from_token
from rewards.catalogue import catalogue_for
from rewards.expiry import next_expiry
from rewards.models import PointsRule
from rewards.points import points_value
from rewards.tiers import standing

from .. import services
from ..counter import CardView, usable_vouchers
from ..forms import JoinForm
from ..i18n import activate_shop_language
from ..models import Shop
from ..qr import qr_svg
from ..ratelimit import allow, client_ip
from ..tokens import card_token, member_from_card_token, member_qr_payload

JOINS_PER_IP_PER_HOUR = 20
JOINS_PER_SHOP_PER_HOUR = 300


@require_http_methods(["GET", "POST"])
def join(request, shop_slug):
    shop = get_object_or_404(Shop, slug=shop_slug)
    activate_shop_language(request, shop)
    ref = request.GET.get("ref", "")
    form = JoinForm(request.POST or None, shop=shop, initial={"ref": ref})
    referrer = referrer_from_token(shop, ref) if ref and request.method == "GET" else None
    if ref and request.method == "GET" and referrer is None:
        messages.info(request, _("This invitation link is not valid any more, but you can still join."))
    if request.method == "POST":
        if not (
            allow(f"join:ip:{client_ip(request)}", limit=JOINS_PER_IP_PER_HOUR, period=3600)
            and allow(f"join:shop:{shop.pk}", limit=JOINS_PER_SHOP_PER_HOUR, period=3600)
        ):
            form.add_error(None, _("Too many sign-ups from here just now. Please try again in a while."))
            return render(request, "members/join.html", {"form": form, "public_shop": shop}, status=429)
        if form.is_valid():
            fields = dict(form.cleaned_data)
            fields["referrer"] = fields.pop("ref")
            member, created = services.member_join(shop=shop, language=translation.get_language(), **fields)
            card_url = reverse("members:card", args=[card_token(member)])
            if created:
                return redirect(card_url)
            return _already_a_member(request, member, card_url)
    context = {"form": form, "public_shop": shop, "referrer": referrer}
    return render(request, "members/join.html", context, status=400 if form.errors else 200)


def _already_a_member(request, member, card_url):
    """Never a second member: send a log-in code to the address we know, and no card to a stranger."""
    if member.user is not None and member.email:
        LoginCodeVerificationProcess.initiate(request=request, user=member.user, email=member.email)
        messages.info(request, _("You are already a member. We sent a log-in code to your e-mail."))
        return redirect(f"{reverse('account_confirm_login_code')}?next={card_url}")
    return render(request, "members/join_known.html", {"public_shop": member.shop})


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
        return render(request, "members/card.html#qr", context)
    with timezone.override(shop.tz):
        return _render_card(request, member, context)


def _render_card(request, member, context):
    shop = member.shop
    stamps = dict(member.cards.values_list("program_id", "stamps"))
    rule = PointsRule.objects.filter(shop=shop, is_active=True).first()
    context.update(
        points_rule=rule,
        catalogue=catalogue_for(member, stamps),
        standing=standing(member),
        tier_changes=list(member.tier_changes.select_related("from_tier", "to_tier")[:3]),
        points_value=points_value(rule, member.points, shop.currency) if rule else 0,
        expiring=next_expiry(member, rule, shop.tz),
        cards=[CardView(p, stamps.get(p.pk, 0)) for p in shop.stamp_programs.filter(is_active=True)],
        vouchers=list(usable_vouchers(member).order_by("expires_at", "issued_at")),
        history=list(member.ledger.select_related("voucher", "card__program")[:10]),
        referral=referral_offer(member),
    )
    return render(request, "members/card.html", context)
