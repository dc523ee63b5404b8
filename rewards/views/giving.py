"""Giving: the shop's causes (set up by managers, reported to the owner), a cause's public page, a
member's gift of points from their card, and a manager's reversal of one."""

import uuid
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members.errors import LoyaltyError
from members.i18n import activate_customer_language
from members.models import Shop
from members.spreadsheet import csv_text
from members.tenancy import shop_member_or_404, shop_view
from members.tokens import member_from_card_token

from ..forms import CauseForm, CauseReportForm, DonateForm, DonationReverseForm
from ..models import Cause, Contribution
from ..services import giving


def _cause_or_404(shop: Shop, cause_id) -> Cause:
    return get_object_or_404(Cause.objects.for_shop(shop), public_id=cause_id)


@shop_view("programs.edit")
@require_GET
def cause_list(request):
    causes = list(Cause.objects.for_shop(request.shop))
    start, end = report_default_period(timezone.localdate())
    context = {"progress": giving.progress(request.shop, causes), "last_month": {"start": start, "end": end}}
    return render(request, "rewards/cause_list.html", context)


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def cause_edit(request, cause_id=None):
    cause = _cause_or_404(request.shop, cause_id) if cause_id is not None else None
    title = cause.name if cause else ""  # as saved: the form writes what was typed onto the cause
    form = CauseForm(request.POST or None, request.FILES or None, instance=cause or Cause(shop=request.shop))
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        if fields["picture"] is None or fields["picture"] is False:
            fields["picture"] = ""  # cleared, or none uploaded to a new cause
        try:
            giving.cause_save(shop=request.shop, cause=cause, fields=fields, by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Cause saved."))
            return redirect("rewards:cause_list", shop_slug=request.shop.slug)
    status = 400 if form.errors else 200
    return render(request, "rewards/cause_form.html", {"form": form, "cause": cause, "title": title}, status=status)


@shop_view("causes.report")
@require_GET
def cause_report(request, cause_id):
    """What the shop owes the partner for a period (this month so far unless asked), on the page or
    as CSV."""
    cause = _cause_or_404(request.shop, cause_id)
    today = timezone.localdate()
    initial = {"start": today.replace(day=1), "end": today}
    form = CauseReportForm(request.GET if "start" in request.GET else initial)
    if not form.is_valid():
        return render(request, "rewards/cause_report.html", {"cause": cause, "form": form}, status=400)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    days, total = giving.report(cause, start, end)
    if request.GET.get("format") == "csv":
        header = [
            "day", "visits", "for_visits", "purchases", "for_purchases", "points_given", "members_gave",
            "shop_matched", "total",
        ]  # fmt: skip

        def row(line):
            return [
                line.day.isoformat(), line.visits, line.for_visits, line.purchases, line.for_purchases, line.points,
                line.donated, line.matched, line.total,
            ]  # fmt: skip

        body = csv_text(header, [*(row(line) for line in days), ["total", *row(total)[1:]]])
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        name = f"cause-{cause.public_id.hex[:8]}-{start.isoformat()}-{end.isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    context = {"cause": cause, "form": form, "days": days, "total": total, "start": start, "end": end}
    return render(request, "rewards/cause_report.html", context)


@shop_view("donations.reverse")
@require_POST
def donation_reverse(request, member_id, contribution_id):
    member = shop_member_or_404(request, member_id)
    contribution = get_object_or_404(
        Contribution.objects.select_related("cause__shop", "entry"),
        shop=request.shop, member=member, public_id=contribution_id,
    )  # fmt: skip
    form = DonationReverseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the gift is reversed."))
    else:
        try:
            giving.donation_reverse(contribution=contribution, staff=request.user, reason=form.cleaned_data["reason"])
        except LoyaltyError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The gift was reversed and the points given back."))
    return redirect("rewards:member_detail", shop_slug=request.shop.slug, member_id=member.public_id)


@require_GET
def cause_page(request, shop_slug, cause_id):
    """A cause's public page: what it is, who it helps, how far it has come."""
    shop = get_object_or_404(Shop, slug=shop_slug)
    cause = get_object_or_404(Cause.objects.for_shop(shop), public_id=cause_id)
    activate_customer_language(request, shop)
    [progress] = giving.progress(shop, [cause])
    return render(request, "rewards/cause_page.html", {"public_shop": shop, "progress": progress})


@require_POST
def card_donate(request, token, cause_id):
    """A member gives points to a cause from their card. The card's form carries a key, so a resent
    form gives once."""
    member = member_from_card_token(token)
    if member is None:
        raise Http404
    shop = member.shop
    cause = get_object_or_404(Cause.objects.for_shop(shop), public_id=cause_id)
    activate_customer_language(request, shop, member)
    form = DonateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a whole number of points to give."))
    else:
        try:
            giving.points_donate(
                member=member, cause=cause, points=form.cleaned_data["points"],
                idempotency_key=request.POST.get("key") or uuid.uuid4().hex,
            )  # fmt: skip
        except LoyaltyError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Thank you: %(points)d points given to %(cause)s.")
                % {"points": form.cleaned_data["points"], "cause": cause.name},
            )
    return redirect("rewards:card", token=token)


def report_default_period(today) -> tuple:
    """Last month, for the list's link: what an owner pays a partner for."""
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1), first - timedelta(days=1)
