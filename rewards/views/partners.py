"""Partner offers: the owners' page (propose, answer, end, see the use), and the partner's counter
giving an offer to another shop's member who shows a fresh QR code."""

from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members.errors import LoyaltyError
from members.models import Shop
from members.tenancy import shop_view

from ..forms import PartnerOfferForm
from ..lookup import Lookup
from ..models import PartnerOffer, PartnerRedemption
from ..services import partners

Status = PartnerOffer.Status


def _offer_or_404(shop: Shop, offer_id) -> PartnerOffer:
    offers = PartnerOffer.objects.filter(Q(members_shop=shop) | Q(partner_shop=shop))
    return get_object_or_404(offers.select_related("members_shop", "partner_shop"), public_id=offer_id)


@shop_view("partners.manage")
@require_GET
def partner_list(request):
    """Proposals to answer, proposals sent, running offers with their use, and past ones."""
    shop = request.shop
    offers = partners.offers_of(shop)
    counts = partners.figures(shop, [offer for offer in offers if offer.status in (Status.ACTIVE, Status.ENDED)])
    rows = [
        {
            "offer": offer,
            "other": offer.other_shop(shop),
            "for_ours": offer.members_shop_id == shop.pk,
            "ours_to_answer": offer.status == Status.PROPOSED and offer.proposed_by_shop_id != shop.pk,
            "figures": counts.get(offer.pk),
        }
        for offer in offers
    ]
    context = {
        "to_answer": [row for row in rows if row["ours_to_answer"]],
        "sent": [row for row in rows if row["offer"].status == Status.PROPOSED and not row["ours_to_answer"]],
        "running": [row for row in rows if row["offer"].status == Status.ACTIVE],
        "past": [row for row in rows if row["offer"].status not in (Status.PROPOSED, Status.ACTIVE)],
    }
    return render(request, "rewards/partner_list.html", context)


@shop_view("partners.manage")
@require_http_methods(["GET", "POST"])
def partner_propose(request):
    form = PartnerOfferForm(request.POST or None, shop=request.shop)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            partners.offer_propose(
                shop=request.shop, partner=data["partner"], ours=data["direction"], title=data["title"],
                terms=data["terms"], period=data["period"], ends_on=data["ends_on"], by=request.user,
            )  # fmt: skip
        except LoyaltyError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, _("Proposed to %(shop)s. It runs once their owner accepts.") % {"shop": data["partner"].name}
            )
            return redirect("rewards:partner_list", shop_slug=request.shop.slug)
    status = 400 if form.errors else 200
    return render(request, "rewards/partner_form.html", {"form": form}, status=status)


@shop_view("partners.manage")
@require_POST
def partner_answer(request, offer_id):
    offer = _offer_or_404(request.shop, offer_id)
    accept = request.POST.get("accept") == "1"
    try:
        partners.offer_answer(offer=offer, shop=request.shop, accept=accept, by=request.user)
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Accepted: the offer runs from now.") if accept else _("Declined."))
    return redirect("rewards:partner_list", shop_slug=request.shop.slug)


@shop_view("partners.manage")
@require_POST
def partner_end(request, offer_id):
    offer = _offer_or_404(request.shop, offer_id)
    try:
        offer = partners.offer_end(offer=offer, shop=request.shop, by=request.user)
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Withdrawn.") if offer.status == Status.WITHDRAWN else _("The offer has ended."))
    return redirect("rewards:partner_list", shop_slug=request.shop.slug)


def _counter(request, found, *, outcome=None, status=200):
    lookup = Lookup(partner=found)
    if found is None:
        lookup.error = outcome["error"]  # nothing to show but why
    context = {"query": "", "lookup": lookup, "outcome": outcome or {}, "partner_outcome": outcome}
    return render(request, "rewards/counter.html#result", context, status=status)


@shop_view("counter.use")
@require_POST
def counter_partner_redeem(request, offer_id):
    """Give a partner's member the offer, from the pass the look-up rendered: once per period."""
    offer = get_object_or_404(
        PartnerOffer.objects.select_related("members_shop", "partner_shop"), partner_shop=request.shop,
        public_id=offer_id,
    )  # fmt: skip
    member = partners.pass_member(request.POST.get("pass", ""), offer)
    if member is None:
        error = _("This look-up is too old. Scan the customer's card again.")
        return _counter(request, None, outcome={"error": error}, status=409)
    try:
        redemption = partners.redeem(offer=offer, member=member, shop=request.shop, staff=request.user)
    except LoyaltyError as error:
        found = partners.partner_view(request.shop, member)
        return _counter(request, found, outcome={"error": error.message}, status=409)
    found = partners.partner_view(request.shop, member)
    return _counter(request, found, outcome={"given": offer, "redemption": redemption})


@shop_view("counter.use")
@require_POST
def counter_partner_undo(request, redemption_id):
    redemption = PartnerRedemption.objects.select_related("offer", "member").filter(
        offer__partner_shop=request.shop, public_id=redemption_id
    )
    redemption = redemption.first()
    if redemption is None:
        raise Http404
    try:
        partners.redemption_undo(redemption=redemption, shop=request.shop)
    except LoyaltyError as error:
        found = partners.partner_view(request.shop, redemption.member)
        return _counter(request, found, outcome={"error": error.message}, status=409)
    found = partners.partner_view(request.shop, redemption.member)
    return _counter(request, found, outcome={"undone": redemption.offer})
