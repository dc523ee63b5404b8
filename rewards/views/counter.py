"""The counter: find a member in one scan, stamp or redeem in one tap, undo a slip.

Every action form carries an idempotency key rendered with the panel, so a
double tap or a resent request returns the first result.
"""

import logging
import uuid
from datetime import timedelta

from django.conf import settings as django_settings
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members.emails import canonical_email
from members.errors import Code, LoyaltyError
from members.forms import EnrolForm
from members.phones import normalise_phone, shop_region
from members.qr import qr_svg
from members.services import member_join
from members.tenancy import shop_member_or_404, shop_view, staff_may, uuid_or_none
from members.tokens import card_token

from .. import services
from ..config import shop_rewards
from ..forms import CounterNoteForm, PurchaseForm
from ..ledger import Reason
from ..lookup import Lookup, counter_lookup, found_by, found_method, found_token, lookup_allowed
from ..models import CatalogueReward, FoundBy, LedgerEntry, Membership, MembershipPlan, OverrideReason, Voucher
from ..reads import (
    CardView,
    catalogue_for,
    counter_panel,
    held_memberships,
    masked_contact,
    plans_on_sale,
    stamps_by_program,
    usable_vouchers,
)
from ..services import challenges, menu, wallet
from ..services.expiry import next_expiry
from ..services.merge import likely_duplicates
from ..services.tiers import standing

# Refusals whose reason is that it already happened: staff see "already done", not "not done".
ALREADY_DONE = {Code.REDEEMED, Code.ALREADY_UNDONE}
# Status codes the counter answers with; htmx swaps both into the result area (see base.html), so
# a refusal replaces the last success on screen instead of leaving it there.
REFUSED = 409
UNREADABLE = 422
# Found in a way that proves the customer is the one at the counter: scanned from their phone just
# now, or enrolled by staff from what they said a moment ago.
PRESENT = {FoundBy.QR, FoundBy.ENROLLED}
# A stamp queued by a counter that had lost its connection (static/js/counter-offline.js) and sent
# later than this after it was queued is refused: the customer left long ago, and a stamp given
# now would be a visit nobody can vouch for. Staff see the reason and give it again if they must.
OFFLINE_MAX_AGE = timedelta(hours=12)
TOO_OLD = "queued_too_long"

logger = logging.getLogger(__name__)


def _urls(shop, member) -> dict[str, str]:
    args = (shop.slug, member.public_id)
    return {
        name: reverse(f"rewards:counter_{name}", args=args)
        for name in ("stamp", "redeem", "undo", "purchase", "reward", "plan_sell", "note")
    }


def _member_context(request, member, method: str) -> dict:
    """What every form of the panel carries: how the member was found, and the actions' addresses."""
    return {
        "member": member,
        # Only a fresh QR code proves the customer is at the counter: after anything else, staff
        # confirm the person before points or vouchers are spent.
        "found": found_token(member.public_id, method),
        "needs_confirm": method not in PRESENT,
        "contact": masked_contact(member),
        "override_reasons": OverrideReason.choices,
        "payment_methods": Membership.PaymentMethod.choices,
        "urls": _urls(request.shop, member),
        # The shop's menu, for tagging a stamp or a purchase (held with its settings: no query).
        "menu": shop_rewards(request.shop).menu,
        # Scanned from a wallet pass: a barcode that never changes, so staff are told.
        "from_wallet": method == FoundBy.WALLET,
    }


def _discounts(catalogue) -> list:
    """Money-off and percent-off rewards the member can have now: they apply to a purchase."""
    return [item for item in catalogue if item.affordable and item.reward.kind in CatalogueReward.DISCOUNTS]


def _outcome(**outcome) -> dict:
    # Every key the template reads is present, whatever the outcome.
    outcome = {"error": "", "code": "", "result": None, "voucher": None, "notice": "", "challenges_done": [], **outcome}
    outcome["already_done"] = outcome["code"] in ALREADY_DONE
    # A plan sold or a prepaid item used: the confirmation names the plan and what is left of it.
    reasons = {entry.reason for entry in outcome["result"].entries} if outcome["result"] else set()
    outcome["plan_sold"] = Reason.PLAN_SOLD in reasons
    outcome["item_used"] = Reason.PLAN_ITEM in reasons
    return outcome


def _render(request, *, member=None, lookup=None, outcome=None, status=200, method="", **extra):
    """The look-up: the member's whole panel (history opens on demand), or the members found; or
    the form to enrol a new member (``enrol``)."""
    # A partner's QR code holds that shop's member code: it is not echoed back into the field.
    query = "" if lookup is not None and lookup.partner else request.GET.get("q", "")
    context = {
        "query": query, "lookup": lookup, "outcome": _outcome(**(outcome or {})), "duplicates": [],
        "partner_outcome": None, **extra,
        # For the offline look-up (static/js/counter-offline.js): a card QR code's age, a wallet pass.
        "qr_max_age": django_settings.MEMBER_QR_MAX_AGE_SECONDS, "wallet_prefix": wallet.PREFIX,
    }  # fmt: skip
    # What the offline panel names as needing the connection: only what this shop offers.
    offers = shop_rewards(request.shop)
    context["offline_needs"] = {"points": offers.active_rule is not None, "plans": bool(plans_on_sale(offers))}
    if lookup is not None and len(lookup.members) > 1:
        # Each result keeps how it was found, for the panel it opens.
        context["found_links"] = [
            (m, found_token(m.public_id, lookup.method), masked_contact(m)) for m in lookup.members
        ]
    if member is not None:
        context.update(counter_panel(request.shop, member))
        context.update(_member_context(request, member, method))
        context["discounts"] = _discounts(context["catalogue"])
    template = "rewards/counter.html"
    if request.htmx:
        template += "#result"
    return render(request, template, context, status=status)


def _answer(request, member, method, *, result=None, outcome=None, status=200, refresh=False):
    """A counter action's answer: its outcome, and each part of the panel it changed, swapped in place
    (htmx out-of-band swaps): a stamp sends the card it stamped, not the member's whole history.
    ``refresh``: the member's state is not known here (a refusal, a replay), so every balance is
    read again and sent."""
    shop = request.shop
    settings = shop_rewards(shop)
    context = {"outcome": _outcome(result=result, **(outcome or {}))}
    changed = {}
    locked = result.entries[0].member if result and result.entries and not result.replayed else None
    if locked is not None and not refresh:
        member = locked  # the row the action locked and moved: its balances are the new ones
        cards = {entry.card.program_id: entry.card for entry in result.entries if entry.card_id}
        programs = {program.pk: program for program in settings.active_programs}
        changed["cards"] = [CardView(programs[pk], card.stamps) for pk, card in cards.items() if pk in programs]
        moved_points = any(entry.points for entry in result.entries)
        changed["points"] = moved_points
        if moved_points or cards:
            stamps = {pk: card.stamps for pk, card in cards.items()}
            if any(r.cost_stamps and r.stamp_program_id not in stamps for r in settings.catalogue):
                stamps = stamps_by_program(member)
            changed["catalogue"] = True
            context["catalogue"] = catalogue_for(member, stamps)
        if result.standing is not None:
            changed["standing"] = True
            context["standing"] = result.standing
        if result.is_undo:
            refresh_vouchers = any(entry.voucher_id for entry in result.entries)
            if refresh_vouchers:
                changed["vouchers"] = True
                context["vouchers"] = usable_vouchers(member)
            if settings.policy is not None:
                changed["standing"] = True
                context["standing"] = standing(member)
        else:
            changed["vouchers_added"] = result.vouchers_issued
            changed["vouchers_gone"] = [result.voucher_redeemed] if result.voucher_redeemed else []
        if any(entry.membership_id for entry in result.entries):
            # A plan sold, an item used or either undone: the member's memberships, read again.
            changed["memberships"] = True
            context["memberships"] = held_memberships(member)
            context["plans_on_sale"] = plans_on_sale(settings)
        if settings.challenges:
            # Progress moved (or went back with an undo); a challenge this action completed is named.
            changed["challenges"] = True
            context["challenges"] = challenges.progress_for(member)
            rows = {entry.pk for entry in result.entries}
            context["outcome"]["challenges_done"] = [
                item.challenge for item in context["challenges"] if item.completion and item.completion.entry_id in rows
            ]
    elif refresh or result is not None:
        member.refresh_from_db(fields=["points", "last_visit_at", "tier"])
        panel = counter_panel(shop, member)
        context.update(panel)
        changed = {
            "standing": True, "points": True, "catalogue": True, "vouchers": True, "memberships": True,
            "cards": panel["cards"], "challenges": True,
        }  # fmt: skip
        # A card paused since the panel opened leaves it.
        context["paused"] = [program for program in settings.programs if not program.is_active]
    context.update(_member_context(request, member, method))
    context["changed"] = changed
    context.setdefault("points_rule", settings.active_rule)
    if "catalogue" in context:
        context["discounts"] = _discounts(context["catalogue"])
    if changed.get("points") and "expiring" not in context:
        context["expiring"] = next_expiry(member, settings.active_rule, shop.tz)
    return render(request, "rewards/counter.html#action", context, status=status)


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
    if request.GET.get("q", "").strip() and (wait := lookup_allowed(request.shop, request.user)):
        error = _("Too many look-ups in a minute: wait %(seconds)s seconds, then try again.") % {"seconds": wait}
        response = _render(request, lookup=Lookup(error=error), status=429)
        response["Retry-After"] = str(wait)
        return response
    lookup = counter_lookup(request.shop, request.GET.get("q", ""))
    member = lookup.members[0] if len(lookup.members) == 1 and not lookup.error else None
    outcome = None
    if lookup.voucher is not None:
        outcome = {"voucher": lookup.voucher}
    # Managers see another record that is probably the same person (one query, theirs only).
    duplicates = []
    if member is not None and staff_may(request.shop, request.user, "members.merge"):
        duplicates = likely_duplicates(request.shop, member=member)
    return _render(request, member=member, lookup=lookup, outcome=outcome, method=lookup.method, duplicates=duplicates)


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
    if spends and method not in PRESENT and request.POST.get("confirmed") != "1":
        message = _("Check with the customer that this is %(name)s (%(contact)s), tick the box, then try again.") % {
            "name": member.name, "contact": masked_contact(member) or _("no phone or e-mail"),
        }  # fmt: skip
        outcome = {"error": message, "code": "confirm_person"}
        return _answer(request, member, method, outcome=outcome, status=REFUSED)
    try:
        with found_by(method):
            result = action()
    except LoyaltyError as error:
        # Refused: the panel may be out of date (spent at another till, a card paused), so every
        # balance comes back with the reason.
        outcome = {"error": error.message, "code": error.code}
        return _answer(request, member, method, outcome=outcome, status=REFUSED, refresh=True)
    return _answer(request, member, method, result=result, refresh=result.replayed)


def _unreadable(request, member, message: str):
    """A form that makes no sense (no card chosen, an amount that is no amount): nothing changed."""
    method = found_method(request.POST.get("found"), member.public_id)
    return _answer(request, member, method, outcome={"error": message}, status=UNREADABLE)


@shop_view("counter.use")
@require_POST
def counter_stamp(request, member_id):
    """+1 stamp (or more), from the panel; or sent later by a counter that was offline, which asks
    for a JSON answer and posts when it queued the stamp (``queued_at``, ISO 8601)."""
    member = shop_member_or_404(request, member_id)
    as_json = _wants_json(request)
    program = shop_rewards(request.shop).program(uuid_or_none(request.POST.get("program")))
    try:
        count = int(request.POST.get("count", "1"))
    except ValueError:
        count = 0
    problem = ""
    if program is None or not 1 <= count <= 50:
        problem = _("Choose a card and a number of stamps.")
    elif (items := _posted_items(request)) is None:
        problem = _("An item chosen is not on the menu any more. Open the member again.")
    elif (queued_at := _queued_at(request)) is None:
        problem = _("The time this stamp was queued is not a time. Give the stamp again.")
    if problem:
        if as_json:
            return _json_answer("refused", problem, status=UNREADABLE)
        return _unreadable(request, member, problem)
    key = _key(request)
    if too_old := _queued_too_long_ago(request, member, queued_at, key):
        if as_json:
            return _json_answer("refused", too_old, stamps=_card_stamps(member, program), status=REFUSED, code=TOO_OLD)
        method = found_method(request.POST.get("found"), member.public_id)
        outcome = {"error": too_old, "code": TOO_OLD}
        return _answer(request, member, method, outcome=outcome, status=REFUSED, refresh=True)

    def action():
        return services.stamp_add(
            member=member,
            program=program,
            count=count,
            staff=request.user,
            idempotency_key=key,
            override=request.POST.get("override") == "1",
            override_reason=request.POST.get("override_reason", ""),
            note=request.POST.get("override_note", "")[:200],
            items=items,
        )

    if as_json:
        return _stamp_json(request, member, program, action)
    return _act(request, member, action)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _queued_at(request):
    """When an offline counter queued the action: "" when it was not queued (now), None when the
    posted value is no time with its zone."""
    value = request.POST.get("queued_at", "").strip()
    if not value:
        return ""
    try:
        moment = parse_datetime(value)
    except ValueError:
        return None
    if moment is None or timezone.is_naive(moment):
        return None
    return moment


def _queued_too_long_ago(request, member, queued_at, key: str) -> str:
    """The reason to refuse a stamp queued offline too long ago, or "". A stamp that already reached
    the server (its answer was lost, the queue sends it again) stays "already done", however late."""
    if not queued_at or timezone.now() - queued_at <= OFFLINE_MAX_AGE:
        return ""
    if LedgerEntry.objects.filter(shop=request.shop, idempotency_key=key).exists():
        return ""
    logger.info("Offline stamp queued at %s refused as too old (member %s)", queued_at.isoformat(), member.public_id)
    hours = int(OFFLINE_MAX_AGE.total_seconds() // 3600)
    when = date_format(timezone.localtime(queued_at), "DATETIME_FORMAT")
    return ngettext(
        "Queued offline at %(when)s, more than %(hours)s hour ago: not added. "
        "If the customer is here, give the stamp again.",
        "Queued offline at %(when)s, more than %(hours)s hours ago: not added. "
        "If the customer is here, give the stamp again.",
        hours,
    ) % {"when": when, "hours": hours}


def _card_stamps(member, program) -> int:
    return member.cards.filter(program=program).values_list("stamps", flat=True).first() or 0


def _json_answer(result: str, message: str, *, stamps: int | None = None, status: int = 200, code: str = ""):
    """What the offline queue reads: the same outcome and status code as the panel's answer."""
    return JsonResponse({"result": result, "message": message, "stamps": stamps, "code": code}, status=status)


def _stamp_json(request, member, program, action):
    """A queued stamp's answer: accepted (with the card's new count), refused with its reason, or
    already done (the key was used: nothing added twice). A stamp an offline counter queued is
    recorded as found offline: nobody could check the card against the server then."""
    method = found_method(request.POST.get("found"), member.public_id)
    if not method and request.POST.get("queued_at"):
        method = FoundBy.OFFLINE
    try:
        with found_by(method):
            result = action()
    except LoyaltyError as error:
        done = "already_done" if error.code in ALREADY_DONE else "refused"
        stamps = _card_stamps(member, program)
        return _json_answer(done, error.message, stamps=stamps, status=REFUSED, code=error.code)
    if result.replayed:
        message = _("Already recorded, nothing added twice.")
        return _json_answer("already_done", message, stamps=_card_stamps(member, program))
    cards = [entry.card for entry in result.entries if entry.card_id and entry.card.program_id == program.pk]
    stamps = cards[-1].stamps if cards else _card_stamps(member, program)
    parts = [
        ngettext("+%(count)s stamp added", "+%(count)s stamps added", result.stamps) % {"count": result.stamps},
        *(
            _("Voucher issued: %(title)s (%(code)s)") % {"title": voucher.title, "code": voucher.code}
            for voucher in result.vouchers_issued
        ),
        *result.notes,
    ]
    return _json_answer("accepted", " · ".join(str(part) for part in parts), stamps=stamps)


def _posted_items(request) -> list | None:
    """The menu items ticked on the form; None when one is not on the shop's menu (a stale panel)."""
    ids = [uuid_or_none(value) for value in request.POST.getlist("item")]
    if any(item_id is None for item_id in ids):
        return None
    return menu.items_for(request.shop, ids)


@shop_view("counter.use")
@require_POST
def counter_note(request, member_id):
    """What staff keep in mind for the member ("oat milk"), saved from the panel."""
    member = shop_member_or_404(request, member_id)
    form = CounterNoteForm(request.POST)
    if not form.is_valid():
        return _unreadable(request, member, _("A note is at most 100 characters."))
    try:
        menu.counter_note_set(member=member, note=form.cleaned_data["note"], staff=request.user)
    except LoyaltyError as error:
        return _unreadable(request, member, error.message)
    if not request.htmx:
        return redirect("rewards:counter_member", shop_slug=request.shop.slug, member_id=member.public_id)
    context = {**_member_context(request, member, found_method(request.POST.get("found"), member.public_id) or ""),
               "usual": menu.usual_order(member), "saved": True}  # fmt: skip
    return render(request, "rewards/counter.html#usual", context)


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
            voucher=voucher,
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
        return _unreadable(request, member, _("Nothing to undo."))
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
def counter_plan_sell(request, member_id):
    """Sell one of the shop's plans on sale to the member, paid at the till. Staff may: it is the
    counter's work; refunds stay with managers, on the member page."""
    member = shop_member_or_404(request, member_id)
    renews = None
    if "renews" in request.POST:
        # "Renew" on a membership the member holds: the same plan, continued from its end.
        renews = (
            Membership.objects.for_shop(request.shop)
            .filter(member=member, public_id=uuid_or_none(request.POST["renews"]))
            .first()
        )
        if renews is None:
            raise Http404
    plan_id = uuid_or_none(request.POST.get("plan"))
    plan = shop_rewards(request.shop).plan_on_sale(plan_id)
    if plan is None:
        if plan_id is None:
            return _unreadable(request, member, _("Choose a plan to sell."))
        # Paused or retired since the panel was opened: the service refuses it in its own words.
        plan = MembershipPlan.objects.for_shop(request.shop).filter(public_id=plan_id).first()
        if plan is None:
            raise Http404
    return _act(
        request,
        member,
        lambda: services.plan_sell(
            member=member,
            plan=plan,
            staff=request.user,
            payment_method=request.POST.get("payment_method") or Membership.PaymentMethod.CASH,
            receipt=request.POST.get("receipt", "")[:40],
            renews=renews,
            idempotency_key=_key(request),
        ),
    )


@shop_view("counter.use")
@require_POST
def counter_plan_use(request, member_id, membership_id):
    """Use one prepaid item of the member's bundle: spent like a voucher, so staff who did not scan
    the customer's own QR code check the person first."""
    member = shop_member_or_404(request, member_id)
    held = Membership.objects.for_shop(request.shop).filter(member=member, public_id=membership_id).first()
    if held is None:
        raise Http404
    return _act(
        request,
        member,
        spends=True,
        action=lambda: services.bundle_redeem(
            member=member, membership=held, staff=request.user, idempotency_key=_key(request)
        ),
    )


@shop_view("counter.use")
@require_POST
def counter_purchase(request, member_id):
    member = shop_member_or_404(request, member_id)
    form = PurchaseForm(request.POST, currency=request.shop.currency)
    reward = _posted_reward(request, required=False)
    if not form.is_valid():
        error = "; ".join(f"{form.fields[name].label}: {errors[0]}" for name, errors in form.errors.items())
        return _unreadable(request, member, error)
    items = _posted_items(request)
    if items is None:
        return _unreadable(request, member, _("An item chosen is not on the menu any more. Open the member again."))
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
            items=items,
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


@shop_view("counter.use")
@require_GET
def counter_history(request, member_id):
    """The member's recent activity, when staff open it below the panel."""
    member = shop_member_or_404(request, member_id)
    history = member.ledger.select_related("staff", "voucher", "card__program", "purchase", "api_key")[:10]
    return render(request, "rewards/_history.html", {"history": history})


def _enrol_prefill(shop, query: str) -> dict:
    """What staff typed in the scan field before choosing "New member", in the field it belongs to."""
    query = query.strip()
    if not query:
        return {}
    if "@" in query:
        return {"email": query}
    if normalise_phone(query, region=shop_region(shop)):
        return {"phone": query}
    return {"name": query}


@shop_view("counter.use")
@require_http_methods(["GET", "POST"])
def counter_enrol(request):
    """Enrol the customer at the counter (consent asked aloud) and, in the same tap, give the visit's
    stamp. Joining twice never makes a second member: staff get the existing member's panel."""
    shop = request.shop
    programs = shop_rewards(shop).active_programs
    if request.method == "GET":
        form = EnrolForm(shop=shop, initial=_enrol_prefill(shop, request.GET.get("q", "")))
        return _render(request, enrol=form, enrol_program=programs[0] if programs else None)
    form = EnrolForm(request.POST, shop=shop)
    if not form.is_valid():
        return _render(request, enrol=form, enrol_program=programs[0] if programs else None, status=UNREADABLE)
    data = form.cleaned_data
    member, created = member_join(
        shop=shop, name=data["name"], email=data["email"], phone=data["phone"], birthday=None,
        marketing_consent=data["marketing_consent"], language=data["language"], enrolled_by=request.user,
    )  # fmt: skip
    if not created:
        same_email = data["email"] and member.email_canonical == canonical_email(data["email"])
        method = FoundBy.EMAIL if same_email else FoundBy.PHONE
        notice = _("Already a member: %(name)s (%(contact)s). Nothing was changed.") % {
            "name": member.name, "contact": masked_contact(member),
        }  # fmt: skip
        return _render(request, member=member, method=method, outcome={"notice": notice})
    if member.email:
        notice = _("Welcome, %(name)s! Their card link is on its way to %(contact)s.")
    else:
        notice = _("Welcome, %(name)s! Show them their card's QR code to open the card on their phone.")
    outcome = {"notice": notice % {"name": member.name, "contact": masked_contact(member)}}
    program = next((p for p in programs if str(p.public_id) == request.POST.get("stamp")), None)
    if program is not None:
        try:
            with found_by(FoundBy.ENROLLED):
                outcome["result"] = services.stamp_add(
                    member=member, program=program, count=1, staff=request.user, idempotency_key=_key(request)
                )
        except LoyaltyError as error:
            outcome.update(error=error.message, code=error.code)
        member.refresh_from_db()
    return _render(request, member=member, method=FoundBy.ENROLLED, outcome=outcome, qr=_card_qr(member))


def _card_qr(member):
    url = django_settings.SITE_URL + reverse("rewards:card", args=[card_token(member)])
    return mark_safe(qr_svg(url))  # noqa: S308 - SVG made by qrcode from our own URL


@shop_view("counter.use")
@require_GET
def counter_card_qr(request, member_id):
    """The member's own card link as a QR code, shown on the counter's screen for the customer to
    scan with their phone: their card opens there, to keep."""
    member = shop_member_or_404(request, member_id)
    return render(request, "rewards/counter.html#card_qr", {"member": member, "qr": _card_qr(member)})
