"""The owner's membership plans: what the shop sells at the counter (memberships for a period and
prepaid bundles), their figures, and pausing, resuming or retiring a plan.

A plan's new price, scheduled by the owner ahead of its day (``plans.price``): the form that
schedules it, its results (who was invited to renew early at today's price, who did, who holds the
plan without renewing), and cancelling it before its day."""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import FilteredRelation, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members.errors import Code, LoyaltyError
from members.tenancy import shop_view

from .. import services
from ..forms import MembershipPlanForm, PlanPriceForm, PlanStatusForm
from ..models import MembershipPlan, PlanPriceChange
from ..plan_figures import SALES_DAYS, holders_not_renewed, plans_summary

Status = MembershipPlan.Status


def _plan_or_404(request, plan_id) -> MembershipPlan:
    plan = MembershipPlan.objects.for_shop(request.shop).filter(public_id=plan_id).first()
    if plan is None:
        raise Http404
    plan.shop = request.shop  # the request's shop row, not a query for it again
    return plan


@shop_view("programs.edit")
@require_GET
def plan_list(request):
    shop = request.shop
    # Each plan with its scheduled new price, if any (one at most), in the same query.
    pending = FilteredRelation(
        "price_changes", condition=Q(price_changes__applied_at__isnull=True, price_changes__cancelled_at__isnull=True)
    )
    plans = list(MembershipPlan.objects.for_shop(shop).annotate(pending=pending).select_related("tier", "pending"))
    summary = plans_summary(shop, timezone.now())
    for plan in plans:
        plan.figures = summary.of(plan)
    context = {
        "plans": [plan for plan in plans if plan.status != Status.RETIRED],
        "retired": [plan for plan in plans if plan.status == Status.RETIRED],
        "summary": summary,
        "sales_days": SALES_DAYS,
    }
    return render(request, "rewards/plan_list.html", context)


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def plan_edit(request, plan_id=None):
    plan = _plan_or_404(request, plan_id) if plan_id is not None else None
    title = plan.name if plan else ""  # as saved: the form writes what was typed onto the plan
    form = MembershipPlanForm(request.POST or None, instance=plan or MembershipPlan(shop=request.shop))
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            services.plan_save(shop=request.shop, plan=plan, fields=fields, by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Plan saved."))
            return redirect("rewards:plan_list", shop_slug=request.shop.slug)
    status = 400 if form.errors else 200
    return render(request, "rewards/plan_form.html", {"form": form, "plan": plan, "title": title}, status=status)


@shop_view("programs.edit")
@require_POST
def plan_status(request, plan_id):
    plan = _plan_or_404(request, plan_id)
    form = PlanStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether the plan is on sale, paused or retired."))
        return redirect("rewards:plan_list", shop_slug=request.shop.slug)
    try:
        services.plan_set_status(plan=plan, status=form.cleaned_data["status"], by=request.user)
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        done = {
            Status.ACTIVE: _("%(plan)s is on sale."),
            Status.PAUSED: _("%(plan)s is paused: it is not sold until you resume it."),
            Status.RETIRED: _("%(plan)s is retired: it is no longer sold."),
        }[form.cleaned_data["status"]]
        messages.success(request, done % {"plan": plan.name})
    return redirect("rewards:plan_list", shop_slug=request.shop.slug)


# Where the service's refusals go on the form: the field they are about, or above it.
ERROR_FIELDS = {Code.BAD_DATE: "from_day", Code.BAD_AMOUNT: "new_price"}


def _changes(plan: MembershipPlan) -> list[PlanPriceChange]:
    """The plan's price changes, latest day first, each with who scheduled it: one query."""
    changes = list(PlanPriceChange.objects.filter(plan=plan).select_related("created_by"))
    for change in changes:
        change.plan = plan  # the plan at hand, not a query for it again
    return changes


def _change_or_404(request, plan_id, change_id) -> tuple[MembershipPlan, PlanPriceChange, list[PlanPriceChange]]:
    """The plan of this shop, one of its price changes and all of them; another shop's, or another
    plan's, is a 404."""
    plan = _plan_or_404(request, plan_id)
    changes = _changes(plan)
    change = next((item for item in changes if item.public_id == change_id), None)
    if change is None:
        raise Http404
    return plan, change, changes


@shop_view("plans.price")
@require_http_methods(["GET", "POST"])
def plan_price(request, plan_id):
    shop = request.shop
    plan = _plan_or_404(request, plan_id)
    tomorrow = timezone.localdate(timezone=shop.tz) + timedelta(days=1)
    form = PlanPriceForm(request.POST or None, currency=shop.currency, tomorrow=tomorrow)
    if request.method == "POST" and form.is_valid():
        try:
            change = services.price_change_schedule(
                plan=plan, new_price=form.cleaned_data["new_price"], from_day=form.cleaned_data["from_day"],
                staff=request.user,
            )  # fmt: skip
        except LoyaltyError as error:
            form.add_error(ERROR_FIELDS.get(error.code), error.message)
        else:
            messages.success(
                request, _("The new price is scheduled. Members who hold the plan are being invited to renew early.")
            )
            return redirect(
                "rewards:plan_price_change", shop_slug=shop.slug, plan_id=plan.public_id, change_id=change.public_id
            )
    changes = _changes(plan)
    context = {
        "plan": plan,
        "form": form,
        "changes": changes,
        "pending": next((change for change in changes if change.pending), None),
    }
    return render(request, "rewards/plan_price_form.html", context, status=400 if form.errors else 200)


@shop_view("plans.price")
@require_GET
def plan_price_change(request, plan_id, change_id):
    plan, change, changes = _change_or_404(request, plan_id, change_id)
    context = {
        "plan": plan,
        "change": change,
        "changes": changes,
        "renewals": list(services.early_renewals(change)),
        "not_renewed": holders_not_renewed(plan, timezone.now()),
    }
    return render(request, "rewards/plan_price_change.html", context)


@shop_view("plans.price")
@require_POST
def plan_price_cancel(request, plan_id, change_id):
    plan, change, _all = _change_or_404(request, plan_id, change_id)
    change.shop = request.shop
    try:
        services.price_change_cancel(change=change, staff=request.user)
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The new price of %(plan)s is cancelled: it stays as it is.") % {"plan": plan.name})
    return redirect("rewards:plan_list", shop_slug=request.shop.slug)
