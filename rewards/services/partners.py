"""Partner offers between two shops of one installation: proposed by one owner, accepted by the
other, shown on the members' cards, redeemed at the partner's counter once per member and period.

What crosses between the shops is the offer and its redemptions: the partner's counter learns that
a fresh QR code belongs to a member of the other shop and whether the offer is used this period,
never who the member is; each side counts uses, and only the members' own shop can tell whose.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from members.config import config_changed
from members.emails import send_branded_email
from members.errors import Code, LoyaltyError
from members.models import Member, Shop, StaffMember
from members.outbox import enqueue
from members.roles import Role
from members.tokens import member_code_from_qr

from ..config import shop_rewards
from ..models import PartnerOffer, PartnerRedemption

Period = PartnerOffer.Period
Status = PartnerOffer.Status
# "Once only" has one window for the offer's whole life.
ONCE_WINDOW = date(2000, 1, 1)
NEWS_TASK = "rewards.tasks.partner_offer_news"
PASS_SALT = "rewards.partner-pass"  # noqa: S105 - a signing salt, not a secret
# A pass rendered on the partner's counter is good for as long as a counter panel is.
PASS_MAX_AGE = 15 * 60
# A shop's address as owners paste it: its join link (/j/<slug>/...) or the short name alone.
JOIN_LINK = re.compile(r"/j/(?P<slug>[-a-zA-Z0-9_]+)")


def window_start(period: str, day: date) -> date:
    if period == Period.DAY:
        return day
    if period == Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period == Period.MONTH:
        return day.replace(day=1)
    return ONCE_WINDOW


def next_window(period: str, start: date) -> date | None:
    """The first day the offer may be used again after a use in the window starting ``start``."""
    if period == Period.DAY:
        return start + timedelta(days=1)
    if period == Period.WEEK:
        return start + timedelta(days=7)
    if period == Period.MONTH:
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return None


def partner_day(offer: PartnerOffer, now=None) -> date:
    """Today in the partner's calendar: its counter is where the offer is used."""
    return timezone.localtime(now or timezone.now(), offer.partner_shop.tz).date()


def shop_from_address(text: str) -> Shop | None:
    """The shop an owner means by its join link or its short name."""
    text = text.strip()
    found = JOIN_LINK.search(text)
    slug = found["slug"] if found else text.strip("/")
    if not slug or len(slug) > 50:
        return None
    return Shop.objects.filter(slug__iexact=slug).first()


# Owners' side: propose, answer, end.


def offer_propose(*, shop: Shop, partner: Shop, ours: bool, title: str, terms: str, period: str, ends_on, by):
    """Propose an offer to ``partner``: for our members at their counter (``ours``), or for their
    members at ours. Nothing runs until the partner's owner accepts."""
    if partner.pk == shop.pk:
        raise LoyaltyError(_("A partner offer is made with another shop."), code=Code.WRONG_SHOP)
    if ends_on is not None and ends_on < timezone.localtime(timezone.now(), shop.tz).date():
        raise LoyaltyError(_("The last day has already passed."), code=Code.BAD_DATE)
    members_shop, partner_shop = (shop, partner) if ours else (partner, shop)
    with transaction.atomic():
        open_same = PartnerOffer.objects.filter(
            members_shop=members_shop, partner_shop=partner_shop, title__iexact=title.strip(),
            status__in=[Status.PROPOSED, Status.ACTIVE],
        )  # fmt: skip
        if open_same.exists():
            raise LoyaltyError(_("This offer is already proposed or running between your shops."), code=Code.TAKEN)
        offer = PartnerOffer.objects.create(
            members_shop=members_shop, partner_shop=partner_shop, proposed_by_shop=shop, proposed_by=by,
            title=title.strip(), terms=terms.strip(), period=period, ends_on=ends_on,
        )  # fmt: skip
        enqueue(NEWS_TASK, offer.pk, "proposed")
    return offer


def _locked(offer: PartnerOffer) -> PartnerOffer:
    return PartnerOffer.objects.select_for_update().select_related("members_shop", "partner_shop").get(pk=offer.pk)


def offer_answer(*, offer: PartnerOffer, shop: Shop, accept: bool, by) -> PartnerOffer:
    """The other owner accepts or declines a proposal; the proposer's owners hear of it."""
    with transaction.atomic():
        offer = _locked(offer)
        if shop.pk == offer.proposed_by_shop_id or shop.pk not in (offer.members_shop_id, offer.partner_shop_id):
            raise LoyaltyError(_("Only the other shop's owner can answer this proposal."), code=Code.NOT_ALLOWED)
        if offer.status != Status.PROPOSED:
            raise LoyaltyError(
                _("This offer is %(status)s: there is nothing to answer.") % {"status": offer.get_status_display()},
                code=Code.NOT_AVAILABLE,
            )
        offer.status = Status.ACTIVE if accept else Status.DECLINED
        offer.answered_at = timezone.now()
        offer.answered_by = by
        offer.save(update_fields=["status", "answered_at", "answered_by"])
        if accept:
            config_changed(offer.members_shop_id)  # its members' cards show the offer from now
        enqueue(NEWS_TASK, offer.pk, "accepted" if accept else "declined")
    return offer


def offer_end(*, offer: PartnerOffer, shop: Shop, by) -> PartnerOffer:
    """Either owner ends a running offer; the proposer withdraws one not yet answered. The cards
    stop showing it and the partner's counter refuses it from this moment."""
    with transaction.atomic():
        offer = _locked(offer)
        if shop.pk not in (offer.members_shop_id, offer.partner_shop_id):
            raise LoyaltyError(_("This offer is not one of your shop's."), code=Code.WRONG_SHOP)
        if offer.status == Status.PROPOSED and shop.pk == offer.proposed_by_shop_id:
            offer.status = Status.WITHDRAWN
        elif offer.status == Status.ACTIVE:
            offer.status = Status.ENDED
        else:
            raise LoyaltyError(
                _("This offer is %(status)s: there is nothing to end.") % {"status": offer.get_status_display()},
                code=Code.NOT_AVAILABLE,
            )
        offer.ended_at = timezone.now()
        offer.ended_by_shop = shop
        offer.save(update_fields=["status", "ended_at", "ended_by_shop"])
        config_changed(offer.members_shop_id)
        if offer.status == Status.ENDED:
            enqueue(NEWS_TASK, offer.pk, "ended")
    return offer


def offers_of(shop: Shop) -> list[PartnerOffer]:
    return list(
        PartnerOffer.objects.filter(Q(members_shop=shop) | Q(partner_shop=shop))
        .select_related("members_shop", "partner_shop", "proposed_by_shop")
        .order_by("-proposed_at", "-id")
    )


@dataclass
class Figures:
    uses: int = 0
    people: int = 0
    this_month: int = 0


def figures(shop: Shop, offers: list[PartnerOffer]) -> dict[int, Figures]:
    """How many times each offer was used and by how many different members (one query). Both sides
    see the same counts; neither sees more."""
    today = timezone.localtime(timezone.now(), shop.tz)
    month = today.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rows = (
        PartnerRedemption.objects.filter(offer__in=offers, undone_at__isnull=True)
        .values("offer")
        .annotate(
            uses=Count("id"), people=Count("member", distinct=True),
            this_month=Count("id", filter=Q(redeemed_at__gte=month)),
        )
    )  # fmt: skip
    found = {row["offer"]: Figures(row["uses"], row["people"], row["this_month"]) for row in rows}
    return {offer.pk: found.get(offer.pk, Figures()) for offer in offers}


# Members' side: the card, and the partner's counter.


@dataclass
class OfferState:
    offer: PartnerOffer
    used_at: object = None  # this window's redemption time, or None
    again_on: date | None = None  # when it may be used again after that

    @property
    def available(self) -> bool:
        return self.used_at is None


def states(member: Member, offers: list[PartnerOffer], now=None) -> list[OfferState]:
    """Each running offer's state for one member: free to use, or used this period (one query)."""
    now = now or timezone.now()
    running = [offer for offer in offers if offer.runs_on(partner_day(offer, now))]
    if not running:
        return []
    windows = {offer.pk: window_start(offer.period, partner_day(offer, now)) for offer in running}
    used = {
        row.offer_id: row
        for row in PartnerRedemption.objects.filter(member=member, offer__in=running, undone_at__isnull=True)
        if windows[row.offer_id] == row.window_start
    }
    return [
        OfferState(
            offer,
            used_at=used[offer.pk].redeemed_at if offer.pk in used else None,
            again_on=next_window(offer.period, windows[offer.pk]) if offer.pk in used else None,
        )
        for offer in running
    ]


def card_offers(member: Member, now=None) -> list[OfferState]:
    """What a member's card shows: the running offers of their shop's partners (two queries; none
    in a shop without any, as its settings say)."""
    if not shop_rewards(member.shop).has_partner_offers:
        return []
    offers = list(
        PartnerOffer.objects.filter(members_shop_id=member.shop_id, status=Status.ACTIVE)
        .select_related("partner_shop")
        .order_by("proposed_at", "id")
    )
    return states(member, offers, now)


@dataclass
class PartnerFind:
    """A fresh QR code of a partner's member, as the counter sees it: which shop, which offers,
    and a pass to redeem them with. Never the member's name, code or balances."""

    home: Shop
    offers: list[OfferState]
    token: str


def partner_find(shop: Shop, payload: str) -> PartnerFind | None:
    """The member of a partner shop whose fresh QR code was scanned at ``shop``'s counter, with the
    offers ``shop`` gives them; None when the code is no partner's (the counter then says what it
    says of any code that is not the shop's). An expired code raises QRCodeExpired."""
    offers = _given_at(shop)
    for home in {offer.members_shop_id: offer.members_shop for offer in offers}.values():
        code = member_code_from_qr(home, payload)  # raises QRCodeExpired for the right shop only
        if code is None:
            continue
        member = home.members.filter(code=code).first()
        return None if member is None else partner_view(shop, member, offers)
    return None


def _given_at(shop: Shop) -> list[PartnerOffer]:
    return list(
        PartnerOffer.objects.filter(partner_shop=shop, status=Status.ACTIVE).select_related(
            "members_shop", "partner_shop"
        )
    )


def partner_view(shop: Shop, member: Member, offers: list[PartnerOffer] | None = None) -> PartnerFind | None:
    """What ``shop``'s counter shows of a partner's member: the offers it gives them, and a pass to
    redeem them with (good for a counter panel's minutes)."""
    offers = _given_at(shop) if offers is None else offers
    found = states(member, [offer for offer in offers if offer.members_shop_id == member.shop_id])
    if not found:
        return None
    token = signing.dumps([str(member.public_id), member.shop_id], salt=PASS_SALT, compress=True)
    return PartnerFind(home=found[0].offer.members_shop, offers=found, token=token)


def pass_member(token: str, offer: PartnerOffer) -> Member | None:
    """The member a counter's pass stands for, if it is fresh, unaltered and for this offer's shop."""
    try:
        public_id, home_id = signing.loads(token or "", salt=PASS_SALT, max_age=PASS_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if home_id != offer.members_shop_id:
        return None
    return Member.objects.filter(shop_id=home_id, public_id=public_id).first()


def redeem(*, offer: PartnerOffer, member: Member, shop: Shop, staff, now=None) -> PartnerRedemption:
    """The partner's counter gives the offer: once per member and window, even from two tills."""
    now = now or timezone.now()
    if offer.partner_shop_id != shop.pk or member.shop_id != offer.members_shop_id:
        raise LoyaltyError(_("This offer is not given at this shop."), code=Code.WRONG_SHOP)
    with transaction.atomic():
        offer = _locked(offer)  # waits for an owner ending it at this moment
        day = partner_day(offer, now)
        if not offer.runs_on(day):
            raise LoyaltyError(_("This partner offer has ended."), code=Code.NOT_AVAILABLE)
        start = window_start(offer.period, day)
        try:
            with transaction.atomic():
                return PartnerRedemption.objects.create(
                    offer=offer, member=member, window_start=start, redeemed_at=now, staff=staff
                )
        except IntegrityError:
            raise LoyaltyError(already_used(offer, start), code=Code.REDEEMED) from None


def already_used(offer: PartnerOffer, start: date) -> str:
    again = next_window(offer.period, start)
    if again is None:
        return _("This member has already used this offer; it is once only.")
    return _("This member has already used this offer %(period)s; it can be used again from %(day)s.") % {
        "period": offer.get_period_display(), "day": again.isoformat(),
    }  # fmt: skip


def redemption_undo(*, redemption: PartnerRedemption, shop: Shop, now=None) -> PartnerRedemption:
    """A slip at the partner's counter, undone within the counter's undo minutes."""
    now = now or timezone.now()
    with transaction.atomic():
        redemption = PartnerRedemption.objects.select_for_update().select_related("offer").get(pk=redemption.pk)
        if redemption.offer.partner_shop_id != shop.pk:
            raise LoyaltyError(_("This offer is not given at this shop."), code=Code.WRONG_SHOP)
        if redemption.undone_at is not None:
            raise LoyaltyError(_("This was already undone."), code=Code.ALREADY_UNDONE)
        if now - redemption.redeemed_at > timedelta(minutes=settings.COUNTER_UNDO_MINUTES):
            raise LoyaltyError(
                _("Undo works for %(minutes)d minutes; after that the use stands.")
                % {"minutes": settings.COUNTER_UNDO_MINUTES},
                code=Code.TOO_LATE,
            )
        redemption.undone_at = now
        redemption.save(update_fields=["undone_at"])
    return redemption


def owners_of(shop: Shop) -> list:
    return [staff.user for staff in StaffMember.objects.filter(shop=shop, role=Role.OWNER).select_related("user")]


def offer_news(offer_id: int, event: str) -> int:
    """E-mail the owners of the shop that did not act: a proposal goes to the partner, an answer to
    the proposer, an end to the other side. Each in their shop's language, under their shop's name."""
    offer = (
        PartnerOffer.objects.select_related("members_shop", "partner_shop", "proposed_by_shop", "ended_by_shop")
        .filter(pk=offer_id)
        .first()
    )
    if offer is None:
        return 0
    actor = {"proposed": offer.proposed_by_shop, "ended": offer.ended_by_shop}.get(event)
    if event in ("accepted", "declined"):
        actor = offer.other_shop(offer.proposed_by_shop)
    if actor is None:
        return 0
    told = offer.other_shop(actor)
    url = settings.SITE_URL + reverse("rewards:partner_list", args=[told.slug])
    context = {"shop": told, "other": actor, "offer": offer, "event": event, "url": url,
               "for_ours": offer.members_shop_id == told.pk}  # fmt: skip
    sent = 0
    for owner in owners_of(told):
        send_branded_email("rewards/email/partner_offer", context, to=owner.email, language=told.language)
        sent += 1
    return sent
