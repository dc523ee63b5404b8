"""The counter: find a member in one scan, stamp or redeem in one tap, undo a slip.

Every action form carries an idempotency key rendered with the panel, so a
double tap or a resent request returns the first result.
"""

import uuid

from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from members.errors import Code, LoyaltyError
from members.tenancy import shop_member_or_404, shop_view, uuid_or_none

from .. import services
from ..forms import PurchaseForm
from ..lookup import counter_lookup, found_by, found_method, found_token
from ..models import CatalogueReward, FoundBy, OverrideReason, StampProgram, Voucher
from ..reads import counter_panel, masked_contact

# Refusals whose reason is that it already happened: staff see "already done", not "not done".
ALREADY_DONE = {Code.REDEEMED, Code.ALREADY_UNDONE}
# Status codes the counter answers with; htmx swaps both into the result area (see base.html), so
# a refusal replaces the last success on screen instead of leaving it there.
REFUSED = 409
UNREADABLE = 422


def _render(request, *, member=None, lookup=None, outcome=None, status=200, method=""):
    # Every key the template reads is present, whatever the outcome.
    outcome = {"error": "", "code": "", "result": None, "voucher": None, **(outcome or {})}
    outcome["already_done"] = outcome["code"] in ALREADY_DONE
    context = {"query": request.GET.get("q", ""), "lookup": lookup, "outcome": outcome}
    if lookup is not None and len(lookup.members) > 1:
        # Each result keeps how it was found, for the panel it opens.
        context["found_links"] = [(m, found_token(m.public_id, lookup.method)) for m in lookup.members]
    if member is not None:
        context.update(counter_panel(request.shop, member))
        context["key"] = uuid.uuid4().hex
        # Only a fresh QR code proves the customer is at the counter: after anything else, staff
        # confirm the person before points or vouchers are spent.
        context["found"] = found_token(member.public_id, method)
        context["needs_confirm"] = method != FoundBy.QR
        context["contact"] = masked_contact(member)
        context["override_reasons"] = OverrideReason.choices
        # Money-off and percent-off rewards the member can have now: they apply to a purchase.
        context["discounts"] = [
            item for item in context["catalogue"] if item.affordable and item.reward.kind in CatalogueReward.DISCOUNTS
        ]
    template = "rewards/counter.html"
    if request.htmx:
        template += "#result"
    return render(request, template, context, status=status)


def _key(request) -> str:
    """The form's idempotency key (a request without one acts once, as itself)."""
    return request.POST.get("key") or uuid.uuid4().hex


def _posted_reward(request, *, required: bool):
    """The catalogue reward the form names, of this shop; a name of no such reward is a 404."""
    reward_id = uuid_or_none(request.POST.get("reward"))
    reward = reward_id and CatalogueReward.objects.for_shop(request.shop).filter(public_id=reward_id).first()
    if (required or reward_id) and not reward:
        raise Http404
    return reward or None


@shop_view("counter.use")
@require_GET
def counter(request):
    lookup = counter_lookup(request.shop, request.GET.get("q", ""))
    member = lookup.members[0] if len(lookup.members) == 1 and not lookup.error else None
    outcome = None
    if lookup.voucher is not None:
        outcome = {"voucher": lookup.voucher}
    return _render(request, member=member, lookup=lookup, outcome=outcome, method=lookup.method)


@shop_view("counter.use")
@require_GET
def counter_member(request, member_id):
    member = shop_member_or_404(request, member_id)
    method = found_method(request.GET.get("found"), member.public_id) or FoundBy.PAGE
    return _render(request, member=member, method=method)


def _act(request, member, action, *, spends=False):
    """Run a counter action, recording how the member was found; a spend after anything but a
    fresh QR code needs staff to have confirmed the person with the customer."""
    method = found_method(request.POST.get("found"), member.public_id)
    if spends and method != FoundBy.QR and request.POST.get("confirmed") != "1":
        message = _("Check with the customer that this is %(name)s (%(contact)s), tick the box, then try again.") % {
            "name": member.name, "contact": masked_contact(member) or _("no phone or e-mail"),
        }  # fmt: skip
        outcome = {"error": message, "code": "confirm_person"}
        return _render(request, member=member, outcome=outcome, status=REFUSED, method=method)
    try:
        with found_by(method):
            result = action()
    except LoyaltyError as error:
        outcome = {"error": error.message, "code": error.code}
        return _render(request, member=member, outcome=outcome, status=REFUSED, method=method)
    # The panel shows the balances the action just moved.
    member.refresh_from_db(fields=["points", "last_visit_at"])
    return _render(request, member=member, outcome={"result": result}, method=method)


@shop_view("counter.use")
@require_POST
def counter_stamp(request, member_id):
    member = shop_member_or_404(request, member_id)
    program = (
        StampProgram.objects.for_shop(request.shop).filter(public_id=uuid_or_none(request.POST.get("program"))).first()
    )
    try:
        count = int(request.POST.get("count", "1"))
    except ValueError:
        count = 0
    if program is None or not 1 <= count <= 50:
        return _render(
            request, member=member, outcome={"error": _("Choose a card and a number of stamps.")}, status=UNREADABLE
        )
    return _act(
        request,
        member,
        lambda: services.stamp_add(
            member=member,
            program=program,
            count=count,
            staff=request.user,
            idempotency_key=_key(request),
            override=request.POST.get("override") == "1",
            override_reason=request.POST.get("override_reason", ""),
            note=request.POST.get("override_note", "")[:200],
        ),
    )


@shop_view("counter.use")
@require_POST
def counter_redeem(request, member_id):
    member = shop_member_or_404(request, member_id)
    voucher_id = uuid_or_none(request.POST.get("voucher"))
    voucher = voucher_id and Voucher.objects.for_shop(request.shop).filter(member=member, public_id=voucher_id).first()
    if not voucher:
        raise Http404
    return _act(
        request,
        member,
        spends=True,
        action=lambda: services.voucher_redeem(
            shop=request.shop,
            voucher_id=voucher.pk,
            staff=request.user,
            idempotency_key=_key(request),
        ),
    )


@shop_view("counter.use")
@require_POST
def counter_undo(request, member_id):
    member = shop_member_or_404(request, member_id)
    group = uuid_or_none(request.POST.get("group"))
    if group is None:
        return _render(request, member=member, outcome={"error": _("Nothing to undo.")}, status=UNREADABLE)
    if not member.ledger.filter(group=group).exists():
        raise Http404
    return _act(
        request,
        member,
        lambda: services.action_undo(
            shop=request.shop,
            group=group,
            staff=request.user,
            idempotency_key=_key(request),
        ),
    )


@shop_view("counter.use")
@require_POST
def counter_purchase(request, member_id):
    member = shop_member_or_404(request, member_id)
    form = PurchaseForm(request.POST)
    reward = _posted_reward(request, required=False)
    if not form.is_valid():
        error = "; ".join(f"{form.fields[name].label}: {errors[0]}" for name, errors in form.errors.items())
        return _render(request, member=member, outcome={"error": error}, status=UNREADABLE)
    return _act(
        request,
        member,
        spends=bool(form.cleaned_data["pay_points"] or reward),
        action=lambda: services.purchase_record(
            member=member,
            amount=form.cleaned_data["amount"],
            receipt=form.cleaned_data["receipt"],
            pay_points=form.cleaned_data["pay_points"] or 0,
            reward_id=reward.pk if reward else None,
            override=form.cleaned_data["override"],
            override_reason=form.cleaned_data["override_reason"],
            note=form.cleaned_data["override_note"],
            staff=request.user,
            idempotency_key=_key(request),
        ),
    )


@shop_view("counter.use")
@require_POST
def counter_reward(request, member_id):
    member = shop_member_or_404(request, member_id)
    reward = _posted_reward(request, required=True)
    return _act(
        request,
        member,
        spends=True,
        action=lambda: services.reward_redeem(
            member=member,
            reward_id=reward.pk,
            staff=request.user,
            idempotency_key=_key(request),
        ),
    )
