"""The card's answer (public, addressed by the card's signed link) and the owner's pages: results per
week and per member of staff with replies to low ratings, and the setting."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members.errors import LoyaltyError
from members.i18n import activate_customer_language
from members.tenancy import shop_view
from members.tokens import member_from_card_token

from ..models import Feedback, FeedbackSetup
from . import figures, services
from .forms import AnswerForm, ReplyForm, SetupForm

CARD_TEMPLATE = "campaigns/_feedback.html"
PAGE_TEMPLATE = "campaigns/feedback.html"


def _first_error(form) -> str:
    return next(iter(form.errors.values()))[0]


@require_POST
def feedback_give(request, token):
    """A rating and an optional comment from the card: a fragment for HTMX (thanks, or why not), else
    back to the card with the same words as a message."""
    member = member_from_card_token(token)
    if member is None:
        raise Http404
    activate_customer_language(request, member.shop, member)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            extra = services.card_question(member, services.setup_for(member.shop))
            extra.update(error=_first_error(form), comment=request.POST.get("comment", ""))
            return render(request, f"{CARD_TEMPLATE}#question", {"extra": extra}, status=422)
        messages.error(request, _first_error(form))
        return redirect("rewards:card", token=token)
    try:
        services.feedback_give(member=member, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"])
    except LoyaltyError as error:
        if request.htmx:
            return render(request, f"{CARD_TEMPLATE}#refused", {"message": error.message}, status=409)
        messages.error(request, error.message)
        return redirect("rewards:card", token=token)
    if request.htmx:
        return render(request, f"{CARD_TEMPLATE}#thanks")
    messages.success(request, _("Thank you for telling us about your visit."))
    return redirect("rewards:card", token=token)


def _page(request, failed: Feedback | None = None, form: ReplyForm | None = None, status: int = 200):
    shop = request.shop
    today = timezone.localdate()  # shop_view runs the view in the shop's time zone
    weeks = figures.weeks(shop, today)
    awaiting = [
        (item, form if failed is not None and item.pk == failed.pk else ReplyForm(), services.can_reply(item))
        for item in figures.awaiting_reply(shop, weeks[0].start)
    ]
    setup = services.setup_for(shop)
    context = {
        "setup": setup,
        "question": services.question_text(setup),
        "weeks": weeks[::-1],
        "overall": figures.overall(weeks),
        "staff_lines": figures.by_staff(shop, weeks[0].start, today),
        "awaiting": awaiting,
        "recent": figures.recent(shop, weeks[0].start),
    }
    return render(request, PAGE_TEMPLATE, context, status=status)


@shop_view("feedback.view")
@require_GET
def feedback_page(request):
    return _page(request)


@shop_view("feedback.view")
@require_POST
def feedback_reply(request, feedback_id):
    """The reply to one answer, by e-mail. HTMX swaps the answer's item; a form posted without it
    comes back to the page (with what was typed, when it was refused)."""
    feedback = (
        Feedback.objects.for_shop(request.shop).select_related("member", "staff").filter(public_id=feedback_id).first()
    )
    if feedback is None:
        raise Http404
    form = ReplyForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            feedback = services.feedback_reply(feedback=feedback, by=request.user, text=form.cleaned_data["reply"])
        except LoyaltyError as error:
            form.add_error(None, error.message)
            status = 409
        else:
            if request.htmx:
                context = {"item": feedback, "form": ReplyForm(), "can_reply": False}
                return render(request, f"{PAGE_TEMPLATE}#awaiting_item", context)
            messages.success(request, _("Your reply is on its way to %(name)s.") % {"name": feedback.member})
            return redirect("campaigns:feedback", shop_slug=request.shop.slug)
    if request.htmx:
        context = {"item": feedback, "form": form, "can_reply": services.can_reply(feedback)}
        return render(request, f"{PAGE_TEMPLATE}#awaiting_item", context, status=status)
    return _page(request, failed=feedback, form=form, status=status)


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def feedback_settings(request):
    shop = request.shop
    # A row of its own for the form: what setup_for hands out is shared by the process's requests.
    instance = FeedbackSetup.objects.filter(shop=shop).first() or FeedbackSetup(shop=shop)
    form = SetupForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            services.setup_save(shop=shop, by=request.user, **form.cleaned_data)
        except LoyaltyError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Feedback settings saved."))
            return redirect("campaigns:feedback", shop_slug=shop.slug)
    context = {"form": form, "default_question": services.QUESTION}
    return render(request, "campaigns/feedback_settings.html", context, status=400 if form.errors else 200)
