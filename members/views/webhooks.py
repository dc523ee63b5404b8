"""The owner's webhooks: endpoints of the shop's own systems, their signing secrets, and the log of
what was sent to each, with a replay button (members/webhooks.py does the work)."""

import json

from django.contrib import messages
from django.db.models import Count, Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from .. import webhooks
from ..forms import WebhookEndpointForm
from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ..tenancy import shop_view

LOG_LENGTH = 50


def _endpoint_or_404(request, endpoint_id) -> WebhookEndpoint:
    """One of the request's shop's endpoints: another shop's is no such thing."""
    try:
        return WebhookEndpoint.objects.for_shop(request.shop).select_related("shop").get(public_id=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise Http404 from None


def _initial(endpoint: WebhookEndpoint) -> dict:
    return {"url": endpoint.url, "events": endpoint.events, "description": endpoint.description,
            "active": endpoint.active}  # fmt: skip


def _save(request, form: WebhookEndpointForm, endpoint: WebhookEndpoint | None = None) -> WebhookEndpoint:
    data = form.cleaned_data
    return webhooks.endpoint_save(
        shop=request.shop, by=request.user, url=data["url"], events=data["events"],
        description=data["description"], active=data["active"], endpoint=endpoint,
    )  # fmt: skip


@shop_view("webhooks.manage")
@require_http_methods(["GET"])
def webhook_list(request):
    endpoints = WebhookEndpoint.objects.for_shop(request.shop).annotate(deliveries_count=Count("deliveries"))
    labels = dict(webhooks.EVENTS)
    rows = [(endpoint, [labels[name] for name in endpoint.events if name in labels]) for endpoint in endpoints]
    return render(request, "members/webhook_list.html", {"rows": rows})


@shop_view("webhooks.manage")
@require_http_methods(["GET", "POST"])
def webhook_add(request):
    form = WebhookEndpointForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        endpoint = _save(request, form)
        messages.success(request, _("The endpoint is added. Copy its signing secret below."))
        return redirect("members:webhook_detail", shop_slug=request.shop.slug, endpoint_id=endpoint.public_id)
    status = 400 if request.method == "POST" else 200
    return render(request, "members/webhook_form.html", {"form": form}, status=status)


@shop_view("webhooks.manage")
@require_http_methods(["GET", "POST"])
def webhook_detail(request, endpoint_id):
    """The endpoint's settings, its secret and its deliveries log (the latest first)."""
    endpoint = _endpoint_or_404(request, endpoint_id)
    if request.method == "POST":
        form = WebhookEndpointForm(request.POST)
        if form.is_valid():
            _save(request, form, endpoint)
            messages.success(request, _("The endpoint is saved."))
            return redirect("members:webhook_detail", shop_slug=request.shop.slug, endpoint_id=endpoint.public_id)
    else:
        form = WebhookEndpointForm(initial=_initial(endpoint))
    attempts = Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("at", "id"))
    deliveries = list(endpoint.deliveries.order_by("-created_at", "-id").prefetch_related(attempts)[:LOG_LENGTH])
    for delivery in deliveries:
        delivery.pretty = json.dumps(delivery.payload, indent=2, sort_keys=True, ensure_ascii=False)
    replayable = {WebhookDelivery.Status.SENT, WebhookDelivery.Status.FAILED}
    context = {"endpoint": endpoint, "form": form, "deliveries": deliveries, "replayable": replayable}
    return render(request, "members/webhook_detail.html", context, status=400 if form.errors else 200)


@shop_view("webhooks.manage")
@require_POST
def webhook_delete(request, endpoint_id):
    webhooks.endpoint_delete(endpoint=_endpoint_or_404(request, endpoint_id), by=request.user)
    messages.success(request, _("The endpoint is deleted; nothing more is sent to it."))
    return redirect("members:webhook_list", shop_slug=request.shop.slug)


@shop_view("webhooks.manage")
@require_POST
def webhook_secret_roll(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    webhooks.secret_roll(endpoint=endpoint, by=request.user)
    messages.success(request, _("A new signing secret is set; the old one no longer signs anything."))
    return redirect("members:webhook_detail", shop_slug=request.shop.slug, endpoint_id=endpoint.public_id)


@shop_view("webhooks.manage")
@require_POST
def webhook_ping(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    webhooks.ping_send(endpoint=endpoint)
    messages.success(request, _("A test event is on its way; it shows in the log below."))
    return redirect("members:webhook_detail", shop_slug=request.shop.slug, endpoint_id=endpoint.public_id)


@shop_view("webhooks.manage")
@require_POST
def webhook_replay(request, endpoint_id, delivery_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    delivery = endpoint.deliveries.filter(public_id=delivery_id).first()
    if delivery is None:
        raise Http404
    if webhooks.delivery_replay(delivery=delivery):
        messages.success(request, _("The event is sent again, with the same event id."))
    else:
        messages.error(request, _("This event is still waiting to be sent."))
    return redirect("members:webhook_detail", shop_slug=request.shop.slug, endpoint_id=endpoint.public_id)
