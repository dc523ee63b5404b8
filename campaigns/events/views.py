"""The owner's event pages, the door's check-in (staff) and the card's answer (public, addressed by the
card's signed link)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members.errors import Code, LoyaltyError
from members.i18n import activate_customer_language
from members.models import Message
from members.tenancy import shop_view, uuid_or_none
from members.tokens import member_from_card_token
from rewards.lookup import counter_lookup, found_by, found_method, found_token
from rewards.models import FoundBy

from ..models import Event, Rsvp
from . import reads, services
from .forms import EventForm, RepeatForm

PAGE = "campaigns/event_detail.html"
CHECK_IN = "campaigns/event_check_in.html"
CARD = "campaigns/_events.html"
# As the counter answers (rewards.views.counter): a refusal 409, what makes no sense 422.
REFUSED = 409
UNREADABLE = 422
QUERY_MAX = 120
ANSWERED = {
    Rsvp.Status.YES: gettext_lazy("See you there!"),
    Rsvp.Status.WAITING: gettext_lazy("You are on the waiting list: we will tell you if a seat comes free."),
    Rsvp.Status.NO: gettext_lazy("Thank you for letting us know."),
}


def _event_or_404(request, event_id) -> Event:
    event = (
        Event.objects.for_shop(request.shop)
        .select_related("shop", "audience_tier", "audience_plan", "gift_program", "series")
        .filter(public_id=event_id)
        .first()
    )
    if event is None:
        raise Http404
    return event


@shop_view("programs.edit")
@require_GET
def event_list(request):
    now = timezone.now()
    return render(request, "campaigns/event_list.html", {**reads.event_lists(request.shop, now), "now": now})


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def event_create(request):
    return _edit(request, Event(shop=request.shop, capacity=20))


@shop_view("programs.edit")
@require_http_methods(["GET", "POST"])
def event_edit(request, event_id):
    event = _event_or_404(request, event_id)
    if event.is_cancelled or event.starts_at <= timezone.now():
        messages.error(request, _("This event has started or is cancelled; it can no longer be changed."))
        return redirect("campaigns:event_detail", shop_slug=request.shop.slug, event_id=event.public_id)
    return _edit(request, event)


def _edit(request, event: Event):
    creating = event.pk is None
    form = EventForm(request.POST or None, instance=event)
    if request.method == "POST" and form.is_valid():
        try:
            event = services.event_save(event=form.instance, by=request.user)
        except LoyaltyError as error:
            form.add_error(None, error.message)
        else:
            done = _("Event created. Invite its members when you are ready.") if creating else _("Event saved.")
            messages.success(request, done)
            return redirect("campaigns:event_detail", shop_slug=request.shop.slug, event_id=event.public_id)
    context = {"form": form, "event": None if creating else event}
    return render(request, "campaigns/event_form.html", context, status=400 if form.errors else 200)


@shop_view("programs.edit")
@require_GET
def event_detail(request, event_id):
    return _detail(request, _event_or_404(request, event_id))


def _detail(request, event: Event, repeat: RepeatForm | None = None, status: int = 200):
    now = timezone.now()
    invited = Message.objects.filter(
        shop=request.shop, campaign=services.INVITATION, occasion=str(event.public_id)
    ).count() if event.invited_at else 0  # fmt: skip
    context = {
        "event": event,
        "answers": reads.answers(event),
        "now": now,
        "started": event.starts_at <= now,
        "invited": invited,
        "check_in_open": reads.check_in_open(event, now),
        "repeat": repeat or RepeatForm(event=event),
    }
    return render(request, PAGE, context, status=status)


def _act(request, event: Event, action, done: str):
    """An owner's action on an event from its page: the service's refusal, or what it did, as a message."""
    try:
        action()
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("campaigns:event_detail", shop_slug=request.shop.slug, event_id=event.public_id)


@shop_view("programs.edit")
@require_POST
def event_invite(request, event_id):
    event = _event_or_404(request, event_id)
    return _act(
        request, event, lambda: services.event_invite_request(event=event, by=request.user),
        _("Invitations are on their way; the event is on its members' cards."),
    )  # fmt: skip


@shop_view("programs.edit")
@require_POST
def event_cancel(request, event_id):
    event = _event_or_404(request, event_id)
    return _act(
        request, event, lambda: services.event_cancel(event=event, by=request.user),
        _("Event cancelled. Those who said yes or are waiting are told by e-mail."),
    )  # fmt: skip


@shop_view("programs.edit")
@require_POST
def event_repeat(request, event_id):
    event = _event_or_404(request, event_id)
    form = RepeatForm(request.POST, event=event)
    if not form.is_valid():
        return _detail(request, event, repeat=form, status=UNREADABLE)
    try:
        made = services.event_repeat(
            event=event, by=request.user, count=form.cleaned_data["count"], rule=form.cleaned_data.get("rule", "")
        )
    except LoyaltyError as error:
        messages.error(request, error.message)
    else:
        days = ", ".join(f"{timezone.localtime(copy.starts_at):%Y-%m-%d}" for copy in made)
        messages.success(request, _("Dates added: %(days)s.") % {"days": days})
    return redirect("campaigns:event_detail", shop_slug=request.shop.slug, event_id=event.public_id)


# At the door.


def _check_in_page(request, event: Event, result: dict | None = None, status: int = 200):
    context = {"event": event, "result": result, "answers": reads.answers(event), "now": timezone.now()}
    template = CHECK_IN + ("#answer" if request.htmx else "")
    return render(request, template, context, status=status)


def _member_or_404(request, member_id):
    member = request.shop.members.select_related("tier").filter(public_id=uuid_or_none(member_id)).first()
    if member is None:
        raise Http404
    return member


@shop_view("counter.use")
@require_http_methods(["GET", "POST"])
def event_check_in(request, event_id):
    """Check members in at the door: scan their QR code or type their code, phone or name; one member
    found is checked in at once, several are listed to choose from. A member not on the list is
    refused with the reason, and staff may check them in as a walk-in. HTMX swaps the answer and the
    lists; without it the whole page comes back."""
    event = _event_or_404(request, event_id)
    if request.method == "GET":
        result = None
        if "member" in request.GET:
            # From the counter: the member staff looked up, with their answer and a button.
            member = _member_or_404(request, request.GET["member"])
            rsvp = Rsvp.objects.filter(event=event, member=member).first()
            result = {"member": member, "rsvp": rsvp, "found": found_token(member.public_id, FoundBy.PAGE)}
        return _check_in_page(request, event, result)
    if "member" in request.POST:
        member = _member_or_404(request, request.POST["member"])
        method = found_method(request.POST.get("found"), member.public_id) or FoundBy.PAGE
    else:
        query = request.POST.get("q", "").strip()[:QUERY_MAX]
        if not query:
            return _check_in_page(request, event, {"error": _("Scan or type a member code.")}, UNREADABLE)
        lookup = counter_lookup(request.shop, query)
        if lookup.error or not lookup.members:
            error = lookup.error or _("No member matches “%(query)s”.") % {"query": query}
            return _check_in_page(request, event, {"error": error}, UNREADABLE)
        if len(lookup.members) > 1:
            found = [(member, found_token(member.public_id, lookup.method)) for member in lookup.members]
            return _check_in_page(request, event, {"choose": found})
        member, method = lookup.members[0], lookup.method
    try:
        with found_by(method):
            rsvp = services.event_check_in(
                event=event, member=member, staff=request.user, walk_in=request.POST.get("walk_in") == "1"
            )
    except LoyaltyError as error:
        result = {
            "member": member, "error": error.message, "already": error.code == Code.ALREADY_CHECKED_IN,
            "walk_in": error.code == Code.NOT_ON_LIST, "found": found_token(member.public_id, method),
        }  # fmt: skip
        return _check_in_page(request, event, result, REFUSED)
    return _check_in_page(request, event, {"member": member, "checked_in": rsvp})


# The card's answer.


@require_POST
def event_rsvp(request, token, event_id):
    """A member's yes or no from their card: the event's part of the card for HTMX (with why not, when
    refused), else back to the card with the same words as a message."""
    member = member_from_card_token(token)
    if member is None:
        raise Http404
    event = Event.objects.filter(shop_id=member.shop_id, public_id=event_id).first()
    if event is None:
        raise Http404
    shop = member.shop
    activate_customer_language(request, shop, member)
    now = timezone.now()
    try:
        rsvp = services.rsvp_set(member=member, event=event, answer=request.POST.get("answer", ""), now=now)
    except LoyaltyError as error:
        if not request.htmx:
            messages.error(request, error.message)
            return redirect("rewards:card", token=token)
        status, error_message = (UNREADABLE if error.code == Code.BAD_ANSWER else REFUSED), error.message
    else:
        if not request.htmx:
            messages.success(request, str(ANSWERED[rsvp.status]))
            return redirect("rewards:card", token=token)
        status, error_message = 200, ""
    with timezone.override(shop.tz):
        shown = reads.card_event(member, event, now)
        if shown is None:  # cancelled, or no longer for this member: the card drops it
            return render(request, f"{CARD}#gone", {"event": event, "error": error_message}, status=status)
        return render(request, f"{CARD}#event", {"event": shown, "token": token, "error": error_message}, status=status)
