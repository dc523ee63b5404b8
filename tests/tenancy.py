"""Make the cross-tenant check cheap: one line per shop-scoped URL.

``SHOP_URLS`` lists every URL under /s/<shop_slug>/ with how to call it;
``tests/members/test_tenancy.py`` walks the URL configuration and fails when
a pattern is missing here, then runs the negative checks on every entry.
Add a line here with every new shop-scoped view.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from members.models import Shop
from members.roles import Role

from .factories import (
    CampaignFactory,
    CatalogueRewardFactory,
    InvitationFactory,
    MemberFactory,
    MessageFactory,
    StaffFactory,
    StampProgramFactory,
    TierFactory,
    VoucherFactory,
)


def walk_urls(patterns=None, prefix="", namespace=""):
    """Every URL pattern of the URL configuration: (route, namespaced name, pattern)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk_urls(pattern.url_patterns, route, ns)
        elif isinstance(pattern, URLPattern):
            yield route, f"{namespace}{pattern.name}", pattern


@dataclass
class ShopUrl:
    method: str = "get"
    # Builds the URL's other arguments from objects of the given shop.
    objects: Callable[[Shop], dict] = lambda shop: {}
    data: dict = field(default_factory=dict)


def _staff(shop: Shop) -> dict:
    return {"staff_id": StaffFactory(shop=shop, role=Role.STAFF).public_id}


def _invitation(shop: Shop) -> dict:
    from datetime import timedelta

    from django.utils import timezone

    invitation = InvitationFactory(
        shop=shop, email=f"new-{shop.slug}@example.com", expires_at=timezone.now() + timedelta(days=1)
    )
    return {"invitation_id": invitation.id}


def _with_member(shop: Shop) -> dict:
    MemberFactory(shop=shop)
    return {}


def _member(shop: Shop) -> dict:
    return {"member_id": MemberFactory(shop=shop).public_id}


def _program(shop: Shop):
    from rewards.models import StampProgram

    return StampProgram.objects.for_shop(shop).first() or StampProgramFactory(shop=shop, name="Card", reward="Gift")


def _adjust_data(shop: Shop) -> dict:
    return {"program": str(_program(shop).public_id), "stamps": "2", "note": "paper card", "key": "a-" + shop.slug}


def _stamp_data(shop: Shop) -> dict:
    return {"program": str(_program(shop).public_id), "count": "1", "key": "k-" + shop.slug}


def _voucher(shop: Shop) -> dict:

    member = MemberFactory(shop=shop)
    voucher = VoucherFactory(shop=shop, member=member, title="Free latte")
    return {
        "member_id": member.public_id,
        "_data": {"voucher": str(voucher.public_id), "key": "r-" + shop.slug, "confirmed": "1"},
    }


def _stamped(shop: Shop) -> dict:
    from rewards import services

    member = MemberFactory(shop=shop)
    owner = shop.staff.order_by("pk").first().user
    result = services.stamp_add(
        member=member, program=_program(shop), count=1, staff=owner, idempotency_key="s-" + shop.slug
    )
    return {"member_id": member.public_id, "_data": {"group": str(result.group), "key": "u-" + shop.slug}}


def _merge_pair(shop: Shop) -> dict:
    return {"keep_id": MemberFactory(shop=shop).public_id, "member_id": MemberFactory(shop=shop).public_id}


def _merged(shop: Shop) -> dict:
    from rewards.services.merge import member_merge

    keep, merge = MemberFactory(shop=shop), MemberFactory(shop=shop)
    owner = shop.staff.order_by("pk").first().user
    member_merge(shop=shop, keep=keep, merge=merge, by=owner)
    return {"member_id": merge.public_id}


def _points_rule(shop: Shop):
    from rewards.models import PointsRule

    return PointsRule.objects.get_or_create(shop=shop, defaults={"is_active": True, "step_amount": 10})[0]


def _purchase_data(shop: Shop) -> dict:
    _points_rule(shop)
    return {"amount": "120", "key": "p-" + shop.slug}


def _purchase(shop: Shop) -> dict:
    from decimal import Decimal

    from rewards import services

    _points_rule(shop)
    member = MemberFactory(shop=shop)
    owner = shop.staff.order_by("pk").first().user
    purchase = services.purchase_record(
        member=member, amount=Decimal(100), staff=owner, idempotency_key="b-" + shop.slug
    ).purchase
    return {
        "member_id": member.public_id,
        "purchase_id": purchase.public_id,
        "_data": {"amount": "50", "key": "f-" + shop.slug},
    }


def _tier(shop: Shop):

    return TierFactory(shop=shop, name="Gold", threshold=10)


def _reward(shop: Shop):

    return CatalogueRewardFactory(shop=shop, name="Cookie", cost_points=1)


def _reward_redeem(shop: Shop) -> dict:
    data = _purchase(shop)  # a member with 10 points
    return {
        "member_id": data["member_id"],
        "_data": {"reward": str(_reward(shop).public_id), "key": "w-" + shop.slug, "confirmed": "1"},
    }


def _api_key(shop: Shop) -> dict:
    from rewards.api.keys import api_key_create

    owner = shop.staff.filter(role=Role.OWNER).first() or StaffFactory(shop=shop, role=Role.OWNER)
    key, _secret = api_key_create(shop=shop, name="Till", scope="counter", by=owner.user)
    return {"key_id": key.public_id}


def _campaign(shop: Shop) -> dict:
    from campaigns.models import Campaign

    campaign = CampaignFactory(
        shop=shop, kind=Campaign.Kind.ANNOUNCEMENT, name="News", subject="New cakes", body="Come and try them."
    )
    return {"campaign_id": campaign.public_id}


def _failed_message(shop: Shop) -> dict:
    from members.models import Message

    member = MemberFactory(shop=shop, email=f"m-{shop.slug}@example.com")
    message = MessageFactory(
        shop=shop, member=member, campaign="news", occasion="1", kind=Message.Kind.MARKETING,
        template="campaigns/email/campaign", to_email=member.email, status=Message.Status.FAILED, attempts=5,
    )  # fmt: skip
    return {"message_id": message.public_id}


def _export(shop: Shop) -> dict:
    """A ready export of the shop's members, its file written."""
    from rewards import export

    owner = shop.staff.order_by("pk").first().user
    item = export.export_request(shop=shop, user=owner, kind="members", format="csv")
    export.prepare_due()
    return {"export_id": item.public_id}


def _import(shop: Shop) -> dict:
    """An uploaded members file waiting for its columns."""
    from rewards import imports

    owner = shop.staff.order_by("pk").first().user
    data = f"Name,Phone\nMia,0912 000 {shop.pk:03d}\nNo Phone,\n".encode()
    return {"import_id": imports.upload(shop=shop, user=owner, data=data, filename="m.csv", encoding="auto").public_id}


def _imported(shop: Shop) -> dict:
    """A members file imported, one row rejected (its file of rejected rows written)."""
    from rewards import imports

    found = _import(shop)
    imp = shop.imports.get(public_id=found["import_id"])
    imports.queue(imp, imp.mapping)
    imports.run(imp.pk)
    return found


def _plan(shop: Shop, **fields):
    from decimal import Decimal

    from rewards.models import MembershipPlan

    values = {"name": "10 lattes", "kind": "bundle", "price": Decimal(800), "items": 10, "item_name": "latte"}
    return MembershipPlan.objects.create(shop=shop, **{**values, **fields})


def _price_change(shop: Shop) -> dict:
    """A club plan with a new price scheduled ten days on."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from rewards.models import PlanPriceChange

    plan = _plan(shop, name="Club", kind="period", period_months=1, items=None, item_name="")
    change = PlanPriceChange.objects.create(
        shop=shop,
        plan=plan,
        old_price=plan.price,
        new_price=Decimal(900),
        starts_at=timezone.now() + timedelta(days=10),
    )
    return {"plan_id": plan.public_id, "change_id": change.public_id}


def _price_form(shop: Shop) -> dict:
    """A plan, and its new price from ten days on."""
    from datetime import timedelta

    from django.utils import timezone

    day = timezone.localdate(timezone=shop.tz) + timedelta(days=10)
    return {"plan_id": _plan(shop).public_id, "_data": {"new_price": "900", "from_day": day.isoformat()}}


def _cause(shop: Shop):
    from .factories import CauseFactory

    return CauseFactory(shop=shop, point_value=1)


def _menu_item(shop: Shop):
    from rewards.models import MenuItem

    return MenuItem.objects.create(shop=shop, name="Flat white", tag="coffee")


def _challenge(shop: Shop):
    from rewards.models import Challenge

    return Challenge.objects.create(shop=shop, name="Three visits", target=3)


def _with_challenge(shop: Shop) -> dict:
    _challenge(shop)
    return {}


CHALLENGE_FORM = {
    "name": "Two visits", "kind": "visits", "window": "week", "target": "2", "gift": "none",
    "voucher_valid_days": "14", "status": "active",
}  # fmt: skip


def _partner_offer(shop: Shop, *, given_here: bool, accepted: bool = True):
    """An offer between ``shop`` and a third shop (never the other shop of the tests' world): for
    the third shop's members at ``shop``'s counter (``given_here``), or for ``shop``'s members there;
    proposed by the third shop, accepted by ``shop`` unless ``accepted`` is False."""
    from rewards.services import partners

    from .factories import ShopFactory

    third = ShopFactory()
    offer = partners.offer_propose(
        shop=third, partner=shop, ours=given_here, title="10% off", terms="", period="week", ends_on=None, by=None
    )
    if accepted:
        partners.offer_answer(offer=offer, shop=shop, accept=True, by=None)
    return offer


def _partner_pass(shop: Shop) -> dict:
    """A third shop's member at ``shop``'s counter, with the pass the look-up gives."""
    from rewards.services import partners

    offer = _partner_offer(shop, given_here=True)
    member = MemberFactory(shop=offer.members_shop)
    return {"offer_id": offer.public_id, "_data": {"pass": partners.partner_view(shop, member).token}}


def _partner_redemption(shop: Shop) -> dict:
    from rewards.services import partners

    offer = _partner_offer(shop, given_here=True)
    member = MemberFactory(shop=offer.members_shop)
    redemption = partners.redeem(offer=offer, member=member, shop=shop, staff=None)
    return {"redemption_id": redemption.public_id}


def _partner_to_propose(shop: Shop) -> dict:
    from .factories import ShopFactory

    return {"_data": {"partner": ShopFactory().slug, "direction": "ours", "title": "A free cookie", "period": "week"}}


def _with_cause(shop: Shop) -> dict:
    _cause(shop)
    return {}


def _donation(shop: Shop) -> dict:
    """A member's gift of ten points (bought with a purchase) to one of the shop's causes."""
    from decimal import Decimal

    from rewards import services
    from rewards.services import giving

    from .factories import PointsRuleFactory

    PointsRuleFactory(shop=shop, points_per_step=1, step_amount=1)
    member = MemberFactory(shop=shop)
    staff = StaffFactory(shop=shop, role=Role.STAFF).user
    services.purchase_record(member=member, amount=Decimal(50), staff=staff, idempotency_key="d-" + shop.slug)
    cause = _cause(shop)
    giving.points_donate(member=member, cause=cause, points=10, idempotency_key="g-" + shop.slug)
    gift = cause.contributions.get(kind="donation")
    return {"member_id": member.public_id, "contribution_id": gift.public_id, "_data": {"reason": "asked"}}


def _plan_sale(shop: Shop) -> dict:
    plan = _plan(shop)
    return {**_member(shop), "_data": {"plan": str(plan.public_id), "payment_method": "cash", "key": "ps-" + shop.slug}}


def _bundle_held(shop: Shop) -> dict:
    """A member holding a bundle of ten, none used; the form data uses one."""
    from rewards import services

    member = MemberFactory(shop=shop)
    owner = shop.staff.order_by("pk").first().user
    held = services.plan_sell(
        member=member, plan=_plan(shop), staff=owner, payment_method="cash", idempotency_key="pb-" + shop.slug
    ).membership
    return {
        "member_id": member.public_id,
        "membership_id": held.public_id,
        "_data": {"key": "pu-" + shop.slug, "confirmed": "1"},
    }


def _with_plan(shop: Shop) -> dict:
    _plan(shop)
    return {}


def _feedback(shop: Shop) -> dict:
    """A low rating from a member with an e-mail address, waiting for a reply."""
    from campaigns.models import Feedback

    member = MemberFactory(shop=shop, email=f"f-{shop.slug}@example.com")
    feedback = Feedback.objects.create(shop=shop, member=member, rating=1, day="2027-03-10", flagged=True)
    return {"feedback_id": feedback.public_id}


def _event(shop: Shop, *, starts_in_minutes: int = 24 * 60) -> dict:
    """A members' event (tomorrow, or about to start), invited, with a member who said yes."""
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.models import Event, Rsvp

    starts = timezone.now() + timedelta(minutes=starts_in_minutes)
    event = Event.objects.create(
        shop=shop, title="Cupping", capacity=10, starts_at=starts, ends_at=starts + timedelta(hours=2),
        invited_at=timezone.now(),
    )  # fmt: skip
    member = MemberFactory(shop=shop)
    Rsvp.objects.create(shop=shop, event=event, member=member, status=Rsvp.Status.YES)
    return {"event_id": event.public_id, "_data": {"q": member.code}}


def _webhook(shop: Shop) -> dict:
    from members.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(shop=shop, url=f"https://hooks.example.com/{shop.slug}", events=["visit"])
    return {"endpoint_id": endpoint.public_id}


def _with_webhook(shop: Shop) -> dict:
    _webhook(shop)
    return {}


def _webhook_delivery(shop: Shop) -> dict:
    import uuid

    from members.models import WebhookDelivery, WebhookEndpoint

    kwargs = _webhook(shop)
    endpoint = WebhookEndpoint.objects.get(public_id=kwargs["endpoint_id"])
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=uuid.uuid4(), event="ping", status=WebhookDelivery.Status.SENT
    )
    return {**kwargs, "delivery_id": delivery.public_id}


SHOP_URLS: dict[str, ShopUrl] = {
    "members:shop_home": ShopUrl(),
    "members:shop_settings": ShopUrl(),
    "members:shop_delete": ShopUrl(),
    "members:line_settings": ShopUrl("post", data={"disconnect": "1"}),
    "members:webhook_list": ShopUrl(objects=_with_webhook),
    "members:webhook_add": ShopUrl(),
    "members:webhook_detail": ShopUrl(objects=_webhook),
    "members:webhook_delete": ShopUrl("post", objects=_webhook),
    "members:webhook_secret_roll": ShopUrl("post", objects=_webhook),
    "members:webhook_ping": ShopUrl("post", objects=_webhook),
    "members:webhook_replay": ShopUrl("post", objects=_webhook_delivery),
    "members:member_list": ShopUrl(objects=_with_member),
    "members:staff_list": ShopUrl(),
    "members:audit_list": ShopUrl(),
    "members:staff_invite": ShopUrl("post", data={"email": "new@example.com", "role": "staff"}),
    "members:staff_role": ShopUrl("post", objects=_staff, data={"role": "manager"}),
    "members:staff_remove": ShopUrl("post", objects=_staff),
    "members:invitation_revoke": ShopUrl("post", objects=_invitation),
    "members:invitation_confirm": ShopUrl("post", objects=_invitation),
    "rewards:counter": ShopUrl(data={"q": "Mia"}),
    "rewards:member_detail": ShopUrl(objects=_member),
    "rewards:member_erase": ShopUrl("post", objects=lambda shop: {**_member(shop), "_data": {"confirm": "on"}}),
    "rewards:member_adjust": ShopUrl("post", objects=lambda shop: {**_member(shop), "_data": {**_adjust_data(shop)}}),
    "rewards:member_duplicates": ShopUrl(objects=_with_member),
    "rewards:member_merge": ShopUrl("post", objects=_merge_pair),
    "rewards:merge_undo": ShopUrl("post", objects=_merged),
    "rewards:import_start": ShopUrl(),
    "rewards:import_detail": ShopUrl(objects=_import),
    "rewards:import_rejected": ShopUrl(objects=_imported),
    "rewards:export_list": ShopUrl("post", data={"kind": "members", "format": "csv"}),
    "rewards:api_keys": ShopUrl("post", data={"name": "Till 2", "scope": "read"}),
    "rewards:api_key_revoke": ShopUrl("post", objects=_api_key),
    "rewards:export_download": ShopUrl(objects=_export),
    "rewards:program_list": ShopUrl(),
    "members:poster": ShopUrl(objects=lambda shop: {"layout": "tent", "fmt": "png"}),
    "rewards:program_create": ShopUrl(
        "post",
        data={
            "name": "Pastry card",
            "stamps_needed": "8",
            "reward": "Free croissant",
            "max_stamps_per_visit": "2",
            "min_minutes_between_visits": "0",
        },
    ),
    "rewards:program_edit": ShopUrl(objects=lambda shop: {"program_id": _program(shop).public_id}),
    "rewards:counter_member": ShopUrl(objects=_member),
    "rewards:counter_card_qr": ShopUrl(objects=_member),
    "rewards:counter_enrol": ShopUrl("post", data={"name": "Walk In", "phone": "0912 000 777", "language": "en"}),
    "rewards:counter_manifest": ShopUrl(),
    "rewards:counter_service_worker": ShopUrl(),
    "rewards:counter_history": ShopUrl(objects=_member),
    "rewards:counter_stamp": ShopUrl("post", objects=lambda shop: {**_member(shop), "_data": _stamp_data(shop)}),
    "rewards:counter_redeem": ShopUrl("post", objects=_voucher),
    "rewards:counter_undo": ShopUrl("post", objects=_stamped),
    "rewards:counter_purchase": ShopUrl("post", objects=lambda shop: {**_member(shop), "_data": _purchase_data(shop)}),
    "rewards:purchase_refund": ShopUrl("post", objects=_purchase),
    "rewards:points_settings": ShopUrl(),
    "rewards:catalogue_list": ShopUrl(),
    "rewards:member_tier_trial": ShopUrl(
        "post", objects=lambda shop: {**_member(shop), "_data": {"tier": str(_tier(shop).public_id), "days": "7"}}
    ),
    "rewards:tier_settings": ShopUrl(
        "post",
        data={"policy-basis": "visits", "policy-window_months": "12", "policy-grace_days": "30", "save_policy": "1"},
    ),
    "rewards:tier_edit": ShopUrl(objects=lambda shop: {"tier_id": _tier(shop).public_id}),
    "rewards:catalogue_create": ShopUrl("post", data={"name": "Cookie", "kind": "free_item", "cost_points": "10"}),
    "rewards:catalogue_edit": ShopUrl(objects=lambda shop: {"reward_id": _reward(shop).public_id}),
    "rewards:counter_reward": ShopUrl("post", objects=_reward_redeem),
    "rewards:plan_list": ShopUrl(objects=_with_plan),
    "rewards:cause_list": ShopUrl(objects=_with_cause),
    "rewards:menu_list": ShopUrl(
        "post", data={"name": "Oat latte", "tag": "coffee", "position": "1", "is_active": "on"}
    ),
    "rewards:menu_edit": ShopUrl(objects=lambda shop: {"item_id": _menu_item(shop).public_id}),
    "rewards:counter_note": ShopUrl("post", objects=_member, data={"note": "oat milk"}),
    "rewards:cause_create": ShopUrl(
        "post",
        data={
            "name": "Trees",
            "partner": "Green",
            "unit": "trees",
            "unit_cost": "100",
            "goal": "500",
            "basis": "visit",
            "amount_per": "10",
            "point_value": "0",
            "match_limit": "0",
            "status": "active",
        },
    ),
    "rewards:cause_edit": ShopUrl(objects=lambda shop: {"cause_id": _cause(shop).public_id}),
    "rewards:cause_report": ShopUrl(objects=lambda shop: {"cause_id": _cause(shop).public_id}),
    "rewards:challenge_list": ShopUrl(objects=_with_challenge),
    "rewards:challenge_create": ShopUrl("post", data=CHALLENGE_FORM),
    "rewards:challenge_edit": ShopUrl(objects=lambda shop: {"challenge_id": _challenge(shop).public_id}),
    "rewards:donation_reverse": ShopUrl("post", objects=_donation),
    "rewards:partner_list": ShopUrl(objects=lambda shop: _partner_offer(shop, given_here=False) and {}),
    "rewards:partner_propose": ShopUrl("post", objects=_partner_to_propose),
    "rewards:partner_answer": ShopUrl(
        "post",
        objects=lambda shop: {
            "offer_id": _partner_offer(shop, given_here=False, accepted=False).public_id,
            "_data": {"accept": "1"},
        },
    ),
    "rewards:partner_end": ShopUrl(
        "post", objects=lambda shop: {"offer_id": _partner_offer(shop, given_here=False).public_id}
    ),
    "rewards:counter_partner_redeem": ShopUrl("post", objects=_partner_pass),
    "rewards:counter_partner_undo": ShopUrl("post", objects=_partner_redemption),
    "rewards:plan_create": ShopUrl(
        "post",
        data={"kind": "period", "name": "Coffee club", "price": "300", "period_months": "1", "refund_rule": "pro_rata"},
    ),
    "rewards:plan_edit": ShopUrl(objects=lambda shop: {"plan_id": _plan(shop).public_id}),
    "rewards:plan_status": ShopUrl(
        "post", objects=lambda shop: {"plan_id": _plan(shop).public_id}, data={"status": "paused"}
    ),
    "rewards:plan_price": ShopUrl("post", objects=_price_form),
    "rewards:plan_price_change": ShopUrl(objects=_price_change),
    "rewards:plan_price_cancel": ShopUrl("post", objects=_price_change),
    "rewards:counter_plan_sell": ShopUrl("post", objects=_plan_sale),
    "rewards:counter_plan_use": ShopUrl("post", objects=_bundle_held),
    "rewards:membership_refund": ShopUrl("post", objects=_bundle_held),
    "campaigns:campaign_list": ShopUrl(),
    "campaigns:campaign_create": ShopUrl(
        "post",
        objects=lambda shop: {"kind": "welcome"},
        data={
            "name": "Hello",
            "is_active": "on",
            "audience": "all",
            "gift": "points",
            "gift_points": "5",
            "holdout_percent": "0",
            "voucher_valid_days": "14",
        },
    ),
    "campaigns:campaign_edit": ShopUrl(objects=_campaign),
    "campaigns:campaign_send": ShopUrl("post", objects=_campaign),
    "campaigns:message_list": ShopUrl(),
    "campaigns:message_retry": ShopUrl("post", objects=_failed_message),
    "campaigns:insights": ShopUrl(),
    "campaigns:insights_customers": ShopUrl(),
    "campaigns:insights_segment": ShopUrl(objects=lambda shop: {"segment": "regular"}),
    "campaigns:insights_programme": ShopUrl(),
    "campaigns:insights_staff": ShopUrl(),
    "campaigns:insights_rows": ShopUrl(data={"kind": "stamps"}),
    "campaigns:feedback": ShopUrl(),
    "campaigns:feedback_reply": ShopUrl("post", objects=_feedback, data={"reply": "Sorry, we will do better."}),
    "campaigns:feedback_settings": ShopUrl("post", data={"is_active": "on", "question": "", "flag_at": "2"}),
    "campaigns:event_list": ShopUrl(),
    "campaigns:event_create": ShopUrl(),
    "campaigns:event_detail": ShopUrl(objects=_event),
    "campaigns:event_edit": ShopUrl(objects=_event),
    "campaigns:event_invite": ShopUrl("post", objects=_event),
    "campaigns:event_cancel": ShopUrl("post", objects=_event),
    "campaigns:event_repeat": ShopUrl("post", objects=_event, data={"rule": "weekly", "count": "1"}),
    "campaigns:event_check_in": ShopUrl("post", objects=lambda shop: _event(shop, starts_in_minutes=30)),
}
