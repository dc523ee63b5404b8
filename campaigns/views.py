from django.contrib import messages
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members import outbox
from members.i18n import activate_customer_language
from members.models import Message, Shop
from members.tenancy import shop_view

from . import how_it_works, services
from .forms import CampaignForm
from .models import Campaign, Segment

# What each kind does, for the owner choosing one; lazy, so each request gets its own language.
KIND_HELP = {
    Campaign.Kind.WELCOME: gettext_lazy("A gift when someone joins: stamps, points or a voucher."),
    Campaign.Kind.BIRTHDAY: gettext_lazy("A voucher or bonus a few days before each member's birthday, once a year."),
    Campaign.Kind.BOOST: gettext_lazy("Double stamps or points on chosen days or hours; staff see it at the counter."),
    Campaign.Kind.WINBACK: gettext_lazy("A gift and a message for members who have not visited for a while."),
    Campaign.Kind.REFERRAL: gettext_lazy("Members share a link; when a friend joins and visits, both get a bonus."),
    Campaign.Kind.ANNOUNCEMENT: gettext_lazy("News by e-mail to members who agreed to hear from you, now or later."),
    Campaign.Kind.ANNIVERSARY: gettext_lazy(
        "A gift on the day each member joined, every year, growing with the years they have been with you."
    ),
}


def _campaign_or_404(request, campaign_id) -> Campaign:
    campaign = (
        Campaign.objects.for_shop(request.shop)
        .select_related("shop", "audience_tier", "gift_program", "gift_plan")
        .filter(public_id=campaign_id)
        .first()
    )
    if campaign is None:
        raise Http404
    return campaign


@shop_view("programs.edit")
@require_GET
def campaign_list(request):
    # How many each reached, from the figures the worker keeps (counting every reach of every
    # campaign here would grow with the shop).
    campaigns = Campaign.objects.for_shop(request.shop).annotate(reached=F("figures__figures__reached__members"))
    failed = Message.objects.for_shop(request.shop).filter(status=Message.Status.FAILED).count()
    kinds = [(kind, label, KIND_HELP[kind]) for kind, label in Campaign.Kind.choices]
    context = {"campaigns": campaigns, "kinds": kinds, "failed": failed, "now": timezone.now()}
    return render(request, "campaigns/campaign_list.html", context)


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def campaign_create(request, kind):
    if kind not in Campaign.Kind.values:
        raise Http404
    campaign = Campaign(shop=request.shop, kind=kind, name=Campaign.Kind(kind).label)
    # From a customer list on the insights pages: the campaign starts out for that group.
    segment = request.GET.get("segment", "")
    if request.method == "GET" and request.GET.get("audience") == Campaign.Audience.SEGMENT:
        if segment not in Segment.values:
            raise Http404
        campaign.audience, campaign.audience_segment = Campaign.Audience.SEGMENT, segment
        campaign.name = _("%(kind)s: %(group)s") % {"kind": Campaign.Kind(kind).label, "group": Segment(segment).label}
    return _edit(request, campaign)


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def campaign_edit(request, campaign_id):
    return _edit(request, _campaign_or_404(request, campaign_id))


def _edit(request, campaign: Campaign):
    form = CampaignForm(request.POST or None, instance=campaign)
    previewing = "preview" in request.POST
    if request.method == "POST" and form.is_valid() and not previewing:
        creating = campaign.pk is None
        services.campaign_save(campaign=form.instance)
        messages.success(request, _("Campaign saved."))
        if creating:
            return redirect("campaigns:campaign_edit", shop_slug=request.shop.slug, campaign_id=campaign.public_id)
        return redirect("campaigns:campaign_edit", shop_slug=request.shop.slug, campaign_id=campaign.public_id)
    # The preview follows what is in the form, saved or not; an invalid form shows the saved campaign's.
    shown = form.instance if not form.errors else (Campaign.objects.filter(pk=campaign.pk).first() or None)
    results = services.figures(campaign) if campaign.pk else None
    if request.method == "GET" and results is not None:
        # The saved campaign: who it would reach as the worker counted it (a big shop's audience
        # takes longer to count than the page may); a preview of the form's values counts now.
        shown_preview = {**results["audience"], "now": results["as_of"]}
    else:
        shown_preview = services.preview(shown) if shown is not None else None
    context = {
        "form": form,
        "campaign": campaign if campaign.pk else None,
        "kind": campaign.kind,
        "kind_label": Campaign.Kind(campaign.kind).label,
        "kind_help": KIND_HELP[campaign.kind],
        "preview": shown_preview,
        # What the preview's campaign gives, as the form has it (saved or not).
        "previewed": shown,
        "results": results,
    }
    template = "campaigns/campaign_form.html"
    if request.htmx and previewing:
        template += "#preview"
    status = 400 if form.errors and not (request.htmx and previewing) else 200
    return render(request, template, context, status=status)


@shop_view("programs.edit")
@require_POST
def campaign_send(request, campaign_id):
    campaign = _campaign_or_404(request, campaign_id)
    if campaign.kind != Campaign.Kind.ANNOUNCEMENT or campaign.sent_at or not campaign.is_active:
        messages.error(request, _("Only an active announcement that has not gone out yet can be sent."))
    else:
        services.announcement_send_now(campaign=campaign)
        messages.success(request, _("The announcement is on its way."))
    return redirect("campaigns:campaign_edit", shop_slug=request.shop.slug, campaign_id=campaign.public_id)


@shop_view("programs.edit")
@require_GET
def message_list(request):
    """Messages that failed (with their error) first, then the latest ones."""
    shop_messages = Message.objects.for_shop(request.shop).select_related("member", "reach__campaign")
    context = {
        # An erased member's unsent messages are not for sending again.
        "failed": list(
            shop_messages.filter(status=Message.Status.FAILED, member__erased_at__isnull=True).order_by(
                "-next_attempt_at"
            )[:100]
        ),
        "recent": list(shop_messages.exclude(status=Message.Status.FAILED)[:50]),
        "max_attempts": outbox.MAX_ATTEMPTS,
    }
    return render(request, "campaigns/message_list.html", context)


@shop_view("programs.edit")
@require_POST
def message_retry(request, message_id):
    """Try a failed message again now (after fixing, say, the member's address)."""
    message = Message.objects.for_shop(request.shop).filter(public_id=message_id).first()
    if message is None:
        raise Http404
    if outbox.message_retry(message_id=message.pk):
        messages.success(request, _("The message will be sent again."))
    else:
        messages.error(request, _("Only a failed message can be sent again."))
    return redirect("campaigns:message_list", shop_slug=request.shop.slug)


@require_GET
def how_it_works_page(request, shop_slug):
    """A shop's public "how our programme works" page, for anyone, in the visitor's language: made
    from the shop's settings and running campaigns at each request (``how_it_works``)."""
    shop = get_object_or_404(Shop, slug=shop_slug)
    activate_customer_language(request, shop)
    with timezone.override(shop.tz):
        context = {"public_shop": shop, "sections": how_it_works.sections(shop)}
        return render(request, "campaigns/how_it_works.html", context)
