"""The owner's membership plans: what the shop sells at the counter (memberships for a period and
prepaid bundles), their figures, and pausing, resuming or retiring a plan."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members.errors import LoyaltyError
from members.tenancy import shop_view

from .. import services
from ..forms import MembershipPlanForm, PlanStatusForm
from ..models import MembershipPlan
from ..plan_figures import SALES_DAYS, plans_summary

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
    plans = list(MembershipPlan.objects.for_shop(shop).select_related("tier"))
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
