"""Pages customers see without an account: joining a shop, and leaving its news."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from .. import line_login, offers, services
from ..emails import canonical_email, masked_email
from ..forms import JoinForm, LostCardForm
from ..i18n import activate_customer_language
from ..models import Shop
from ..ratelimit import address_key, allow, client_ip
from ..tokens import card_token, member_from_unsubscribe_token, referrer_from_token


@require_http_methods(["GET", "POST"])
def join(request, shop_slug):
    shop = get_object_or_404(Shop, slug=shop_slug)
    activate_customer_language(request, shop)
    ref = request.GET.get("ref", "")
    form = JoinForm(request.POST or None, shop=shop, initial={"ref": ref})
    # What joining gives, in the customer's language, said first and large.
    offer_lines = offers.lines(shop, translation.get_language())
    line_url = _line_login_url(request, shop, ref)
    referrer = referrer_from_token(shop, ref) if ref and request.method == "GET" else None
    if ref and request.method == "GET" and referrer is None:
        messages.info(request, _("This invitation link is not valid any more, but you can still join."))
    if request.method == "POST":
        if not _join_allowed(request, shop):
            form.add_error(None, _("Too many sign-ups from here just now. Please try again in a while."))
            context = {"form": form, "public_shop": shop, "offer_lines": offer_lines, "line_url": line_url}
            return render(request, "members/join.html", context, status=429)
        if form.is_valid():
            fields = dict(form.cleaned_data)
            fields["referrer"] = fields.pop("ref")
            member, created = services.member_join(
                shop=shop, language=translation.get_language(), joined_from=address_key(request), **fields
            )
            if created:
                # The card at once, with how to keep it (the e-mail is a copy, when there is one).
                return redirect(reverse("rewards:card", args=[card_token(member)]) + "?welcome=1")
            return _already_a_member(request, member)
    context = {
        "form": form,
        "public_shop": shop,
        "referrer": referrer,
        "offer_lines": offer_lines,
        "line_url": line_url,
    }
    return render(request, "members/join.html", context, status=400 if form.errors else 200)


def _join_allowed(request, shop) -> bool:
    """The join limits, per client address and per shop, whichever way the customer joins."""
    return allow(f"join:ip:{client_ip(request)}", limit=settings.JOINS_PER_IP_PER_HOUR, period=3600) and allow(
        f"join:shop:{shop.pk}", limit=settings.JOINS_PER_SHOP_PER_HOUR, period=3600
    )


def _line_login_url(request, shop, ref: str) -> str:
    """Where the "Join with LINE" button posts: allauth's LINE login, back to join_line afterwards
    (with the friend's invitation, if any); empty when the installation has no LINE Login. A
    signed-in customer connects LINE to their account (signing in would first sign them out, and
    their address is already an account's)."""
    if not line_login.enabled():
        return ""
    process = "connect" if request.user.is_authenticated else "login"
    back = reverse("members:join_line", args=[shop.slug]) + (f"?{urlencode({'ref': ref})}" if ref else "")
    query = urlencode({"process": process, "next": back})
    return f"{reverse('line_login')}?{query}"


@require_GET
def join_line(request, shop_slug):
    """Where LINE Login brings the customer back: their membership of the shop, found or made
    (members.line_login.member_for_line), then their card, as after the form."""
    shop = get_object_or_404(Shop, slug=shop_slug)
    if not line_login.enabled():
        raise Http404
    activate_customer_language(request, shop)
    line = line_login.identity(request.user) if request.user.is_authenticated else None
    if line is None:
        # Not back from LINE (a bookmark, a signed-out visit): the join page and its LINE button.
        return redirect("members:join", shop.slug)
    if not _join_allowed(request, shop):
        messages.error(request, _("Too many sign-ups from here just now. Please try again in a while."))
        return redirect("members:join", shop.slug)
    member, created = line_login.member_for_line(
        shop=shop,
        user=request.user,
        line=line,
        language=translation.get_language(),
        referrer=referrer_from_token(shop, request.GET.get("ref", "")),
        joined_from=address_key(request),
    )
    url = reverse("rewards:card", args=[card_token(member)])
    return redirect(url + "?welcome=1" if created else url)


def _already_a_member(request, member):
    """Never a second member, and never a card to whoever typed a known address or number: the
    card link goes to the member's own mailbox, or staff show it at the counter."""
    if member.email:
        services.card_link_again(member=member)
    context = {"public_shop": member.shop, "sent_to": masked_email(member.email) if member.email else ""}
    return render(request, "members/join_known.html", context)


# At most this many requests for a card link per network address an hour, whatever the addresses typed.
LOST_CARD_PER_IP_PER_HOUR = 10


@require_http_methods(["GET", "POST"])
def lost_card(request, shop_slug):
    """Lost the link to my card: the link goes to the member's own mailbox (at most once a day,
    as when joining again), and the answer is the same whether the address is a member's or not,
    so the form tells nobody who is a member."""
    shop = get_object_or_404(Shop, slug=shop_slug)
    activate_customer_language(request, shop)
    form = LostCardForm(request.POST or None)
    context = {"public_shop": shop, "form": form, "sent": False}
    if request.method == "POST":
        if not allow(f"lost:ip:{client_ip(request)}", limit=LOST_CARD_PER_IP_PER_HOUR, period=3600):
            form.add_error(None, _("Too many requests from here just now. Please try again in a while."))
            return render(request, "members/lost_card.html", context, status=429)
        if form.is_valid():
            email = canonical_email(form.cleaned_data["email"])
            if member := shop.members.filter(email_canonical=email).first():
                services.card_link_again(member=member)
            return render(request, "members/lost_card.html", {**context, "sent": True})
    return render(request, "members/lost_card.html", context, status=400 if form.errors else 200)


# The signed token is the authorisation, and mail clients' one-click
# unsubscribe (RFC 8058) posts without a session or a CSRF cookie.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    member = member_from_unsubscribe_token(token)
    if member is None:
        raise Http404
    activate_customer_language(request, member.shop, member)
    done = request.method == "POST"
    if done:
        services.member_unsubscribe(member=member)
    return render(request, "members/unsubscribe.html", {"public_shop": member.shop, "done": done})
