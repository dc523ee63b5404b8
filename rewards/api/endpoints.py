"""The API's endpoints, under /api/v1/shops/<shop_slug>/. Each looks up through the key's shop,
calls the service the counter calls, and answers what it did; writes go through ``perform``
(Idempotency-Key, the key on the ledger rows, refusals as 409)."""

import uuid

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from ninja import Query, Router

from members.forms import EnrolForm
from members.models import Member, Shop
from members.services import member_join

from .. import services
from ..config import shop_rewards
from ..forms import PurchaseForm, RefundForm
from ..lookup import counter_lookup
from ..models import CatalogueReward, LedgerEntry
from ..models import Purchase as PurchaseRow
from ..reads import masked_contact, stamps_by_program, usable_vouchers
from . import schemas
from .auth import ADMIN, COUNTER, READ, ApiError, acting, not_found
from .idempotency import perform

router = Router(tags=["members"])

# The statuses every endpoint may answer besides its success, all with the Error body.
REFUSALS = {400: schemas.Error, 401: schemas.Error, 404: schemas.Error, 422: schemas.Error, 429: schemas.Error}
WRITES = {**REFUSALS, 403: schemas.Error, 409: schemas.Error}
HISTORY_PAGE = 50
SHOP = "/shops/{shop_slug}"
MEMBER = SHOP + "/members/{member_id}"


def _member(shop: Shop, member_id: uuid.UUID) -> Member:
    member = shop.members.select_related("tier", "shop").filter(public_id=member_id).first()
    if member is None:
        raise not_found()
    return member


def _voucher(voucher) -> dict:
    return {
        "code": voucher.code, "title": voucher.title, "status": voucher.status, "issued_at": voucher.issued_at,
        "expires_at": voucher.expires_at,
    }  # fmt: skip


def _summary(member: Member) -> dict:
    return {"id": member.public_id, "code": member.code, "name": member.name, "contact": masked_contact(member)}


def _card(program, stamps: int) -> dict:
    return {
        "program_id": program.public_id, "program": program.name, "stamps": stamps,
        "stamps_needed": program.stamps_needed, "reward": program.reward,
    }  # fmt: skip


def member_out(member: Member) -> dict:
    """The member's balances: points, stamps on each of the shop's cards, usable vouchers, tier (two
    queries; the shop's cards are held with its settings)."""
    stamps = stamps_by_program(member)
    tier = member.tier if member.tier_id else None
    return {
        **_summary(member),
        "points": member.points,
        "tier": {"id": tier.public_id, "name": tier.name} if tier else None,
        "cards": [_card(program, stamps.get(program.pk, 0)) for program in shop_rewards(member.shop).active_programs],
        "vouchers": [_voucher(v) for v in usable_vouchers(member)],
        "last_visit_at": member.last_visit_at,
        "joined_at": member.joined_at,
    }


def actor(entry: LedgerEntry) -> str:
    """Who a ledger row names as its actor, as the owner's history shows it."""
    if entry.api_key_id:
        return _("API: %(name)s") % {"name": entry.api_key.name}
    if entry.staff_id:
        return entry.staff.get_full_name() or entry.staff.email
    return pgettext("history row made by no staff member", "Automatic")


def _entry(entry: LedgerEntry) -> dict:
    return {
        "reason": entry.reason, "reason_label": str(entry.get_reason_display()), "stamps": entry.stamps,
        "points": entry.points, "money_amount": entry.money_amount,
        "program": entry.card.program.name if entry.card_id else None,
        "voucher": entry.voucher.title if entry.voucher_id else None, "note": entry.note, "by": actor(entry),
        "group": entry.group, "created_at": entry.created_at,
    }  # fmt: skip


def _purchase(purchase) -> dict | None:
    if purchase is None:
        return None
    return {
        "id": purchase.public_id, "amount": purchase.amount, "receipt": purchase.receipt,
        "points_earned": purchase.points_earned, "points_spent": purchase.points_spent,
        "refunded_amount": purchase.refunded_amount,
    }  # fmt: skip


def _json(schema, data: dict) -> dict:
    """The body as JSON types (decimals and times as strings), as the schema says."""
    return schema.model_validate(data).model_dump(mode="json")


def _action(member: Member, result, status: int = 200) -> tuple[int, dict]:
    """What an action did and the member's balances after it (read again: the action moved them)."""
    entries = LedgerEntry.objects.filter(shop_id=member.shop_id, group=result.group).select_related(
        "staff", "voucher", "card__program", "api_key"
    )
    member.refresh_from_db(fields=["points", "tier", "last_visit_at"])
    body = {
        "group": result.group,
        "replayed": result.replayed,
        "entries": [_entry(e) for e in entries.order_by("id")],
        "vouchers_issued": [_voucher(v) for v in result.vouchers_issued],
        "voucher_redeemed": _voucher(result.voucher_redeemed) if result.voucher_redeemed else None,
        "purchase": _purchase(result.purchase),
        "notes": [str(note) for note in result.notes],
        "member": member_out(member),
    }
    return status, _json(schemas.Action, body)


def _invalid(form) -> ApiError:
    errors = [{"field": name, "message": str(messages[0])} for name, messages in form.errors.items()]
    message = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
    return ApiError(422, "invalid", message, errors=errors)


@router.get(SHOP + "/lookup", response={200: schemas.LookupResult, **REFUSALS, 403: schemas.Error}, auth=READ,
            url_name="lookup", operation_id="lookup", summary="Find a member")  # fmt: skip
def lookup(request, shop_slug: str, q: str = Query(..., max_length=200, description="QR payload, code, phone, e-mail")):
    """Find members as the counter does, from what the till scanned or typed: a member's QR
    payload, a member or voucher code, a phone number (or its last four digits), an e-mail or a
    name. At most ten members."""
    with acting(request.auth) as shop:
        found = counter_lookup(shop, q)
        message = found.error
        if found.partner is not None:
            message = _("This is a partner shop's card: use the counter for partner offers.")
        return {
            "method": found.method if found.partner is None else "",
            "members": [] if found.partner is not None else [_summary(m) for m in found.members],
            "voucher": _voucher(found.voucher) if found.voucher else None,
            "message": str(message),
        }


@router.post(SHOP + "/members", response={200: schemas.Joined, 201: schemas.Joined, **WRITES}, auth=COUNTER,
             url_name="member_create", operation_id="member_create", summary="Enrol a member")  # fmt: skip
def member_create(request, shop_slug: str, body: schemas.MemberIn):
    """Enrol a customer, as staff do at the counter: a name and an e-mail or a phone number.
    Enrolling someone who is a member already changes nothing and answers 200 with that member."""

    def action(service_key):
        shop = request.auth.shop
        data = body.model_dump()
        data["language"] = data["language"] or shop.language
        form = EnrolForm(data, shop=shop)
        if not form.is_valid():
            raise _invalid(form)
        clean = form.cleaned_data
        member, created = member_join(
            shop=shop, name=clean["name"], email=clean["email"], phone=clean["phone"], birthday=None,
            marketing_consent=clean["marketing_consent"], language=clean["language"], joined_from="api",
        )  # fmt: skip
        member = _member(shop, member.public_id)
        return (201 if created else 200), _json(schemas.Joined, {"created": created, "member": member_out(member)})

    return perform(request, action)


@router.get(MEMBER, response={200: schemas.Member, **REFUSALS, 403: schemas.Error}, auth=READ,
            url_name="member_get", operation_id="member_get", summary="A member's balances")  # fmt: skip
def member_get(request, shop_slug: str, member_id: uuid.UUID):
    """Points, stamps on each of the shop's cards, the vouchers usable now and the tier."""
    with acting(request.auth) as shop:
        return member_out(_member(shop, member_id))


@router.get(MEMBER + "/history", response={200: schemas.History, **REFUSALS, 403: schemas.Error}, auth=READ,
            url_name="member_history", operation_id="member_history", summary="A member's history")  # fmt: skip
def member_history(request, shop_slug: str, member_id: uuid.UUID, page: int = Query(1, ge=1, le=10_000)):
    """Every change of the member's stamps and points, newest first, 50 to a page."""
    with acting(request.auth) as shop:
        member = _member(shop, member_id)
        start = (page - 1) * HISTORY_PAGE
        rows = list(
            member.ledger.select_related("staff", "voucher", "card__program", "api_key")[
                start : start + HISTORY_PAGE + 1
            ]
        )
        more = len(rows) > HISTORY_PAGE
        return {
            "items": [_entry(e) for e in rows[:HISTORY_PAGE]],
            "page": page,
            "next_page": page + 1 if more else None,
        }


@router.post(MEMBER + "/visits", response={200: schemas.Action, **WRITES}, auth=COUNTER,
             url_name="visit_record", operation_id="visit_record", summary="Record a visit")  # fmt: skip
def visit_record(request, shop_slug: str, member_id: uuid.UUID, body: schemas.VisitIn):
    """A stamp (or ``count`` stamps) on a card, with the counter's limits; a full card issues its voucher."""

    def action(service_key):
        shop = request.auth.shop
        member = _member(shop, member_id)
        settings = shop_rewards(shop)
        program = settings.program(body.program_id) if body.program_id else next(iter(settings.active_programs), None)
        if program is None:
            raise not_found()
        result = services.stamp_add(
            member=member, program=program, count=body.count, staff=None, idempotency_key=service_key
        )
        return _action(member, result)

    return perform(request, action)


@router.post(MEMBER + "/purchases", response={200: schemas.Action, **WRITES}, auth=COUNTER,
             url_name="purchase_record", operation_id="purchase_record", summary="Record a purchase")  # fmt: skip
def purchase_record(request, shop_slug: str, member_id: uuid.UUID, body: schemas.PurchaseIn):
    """Points for a purchase (and its stamp, if the shop counts purchases as visits), with the
    counter's limits: an amount above the shop's largest purchase is refused (409 ``too_large``).
    The receipt id is the purchase's idempotency key: sent again, nothing is recorded twice."""

    def action(service_key):
        shop = request.auth.shop
        member = _member(shop, member_id)
        data = {"amount": str(body.amount), "receipt": body.receipt_id, "pay_points": body.pay_points}
        form = PurchaseForm(data, currency=shop.currency)
        if not form.is_valid():
            raise _invalid(form)
        result = services.purchase_record(
            member=member, amount=form.cleaned_data["amount"], receipt=body.receipt_id,
            pay_points=form.cleaned_data["pay_points"] or 0, staff=None, idempotency_key=f"pos-{body.receipt_id}",
        )  # fmt: skip
        return _action(member, result)

    return perform(request, action)


@router.post(MEMBER + "/vouchers/{code}/redeem", response={200: schemas.Action, **WRITES}, auth=COUNTER,
             url_name="voucher_redeem", operation_id="voucher_redeem", summary="Redeem a voucher")  # fmt: skip
def voucher_redeem(request, shop_slug: str, member_id: uuid.UUID, code: str):
    """Redeem one of the member's vouchers by its code; a voucher redeemed already is refused (409
    ``redeemed``). Check the person first unless they showed their own QR code."""

    def action(service_key):
        shop = request.auth.shop
        member = _member(shop, member_id)
        voucher = shop.vouchers.filter(member=member, code=code.upper().replace("-", "").replace(" ", "")[:12]).first()
        if voucher is None:
            raise not_found()
        result = services.voucher_redeem(
            shop=shop, voucher_id=voucher.pk, voucher=voucher, staff=None, idempotency_key=service_key
        )
        return _action(member, result)

    return perform(request, action)


@router.post(MEMBER + "/rewards/{reward_id}/redeem", response={200: schemas.Action, **WRITES}, auth=COUNTER,
             url_name="reward_redeem", operation_id="reward_redeem", summary="Redeem a catalogue reward")  # fmt: skip
def reward_redeem(request, shop_slug: str, member_id: uuid.UUID, reward_id: uuid.UUID):
    """Spend the member's points or stamps on a reward of the catalogue (409 ``not_enough_points``
    when they are short). Money-off rewards come off a purchase, at the counter."""

    def action(service_key):
        shop = request.auth.shop
        member = _member(shop, member_id)
        reward = CatalogueReward.objects.for_shop(shop).filter(public_id=reward_id).first()
        if reward is None:
            raise not_found()
        result = services.reward_redeem(member=member, reward_id=reward.pk, staff=None, idempotency_key=service_key)
        return _action(member, result)

    return perform(request, action)


@router.post(MEMBER + "/refunds", response={200: schemas.Action, **WRITES}, auth=ADMIN,
             url_name="refund", operation_id="refund", summary="Refund a purchase")  # fmt: skip
def refund(request, shop_slug: str, member_id: uuid.UUID, body: schemas.RefundIn):
    """Refund all or part of a purchase, as a manager does on the member page: the points it earned
    are taken back in proportion, points that paid for it given back. Needs the admin scope."""

    def action(service_key):
        shop = request.auth.shop
        member = _member(shop, member_id)
        if (body.purchase_id is None) == (body.receipt_id is None):
            raise ApiError(422, "invalid", _("Name the purchase: purchase_id or receipt_id, one of them."))
        purchases = PurchaseRow.objects.for_shop(shop).filter(member=member)
        which = Q(public_id=body.purchase_id) if body.purchase_id else Q(receipt=body.receipt_id)
        purchase = purchases.filter(which).order_by("-created_at").first()
        if purchase is None:
            raise not_found()
        form = RefundForm({"amount": str(body.amount)}, currency=shop.currency)
        if not form.is_valid():
            raise _invalid(form)
        result = services.purchase_refund(
            shop=shop, purchase_id=purchase.pk, amount=form.cleaned_data["amount"], staff=None,
            idempotency_key=service_key,
        )  # fmt: skip
        return _action(member, result)

    return perform(request, action)
