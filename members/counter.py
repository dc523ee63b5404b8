"""Reads for the counter: find a member from whatever staff typed or scanned,
and everything the member panel shows, in a fixed number of queries."""

from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.boosts import boosts_for
from rewards.catalogue import catalogue_for
from rewards.expiry import next_expiry
from rewards.models import FoundBy, PointsRule, StampProgram, Voucher
from rewards.tiers import standing

from .emails import canonical_email
from .models import CODE_ALPHABET, Member, Shop
from .phones import normalise_phone, shop_region
from .tokens import QRCodeExpired, member_code_from_qr


@dataclass
class Lookup:
    members: list[Member] = field(default_factory=list)
    voucher: Voucher | None = None
    error: str = ""
    # How the member was found (rewards.models.FoundBy): only a fresh QR proves the person is here.
    method: str = ""


def counter_lookup(shop: Shop, query: str) -> Lookup:
    """A scanned member QR, a member or voucher code, an e-mail, a phone number or a name."""
    query = query.strip()
    if not query:
        return Lookup()
    if query.count(":") == 2:
        try:
            code = member_code_from_qr(shop, query)
        except QRCodeExpired:
            return Lookup(
                error=_("This QR code has expired. Ask the customer to open their card again, or type the member code.")
            )
        if code is None:
            return Lookup(error=_("This QR code is not one of this shop's member codes."))
        return Lookup(list(shop.members.filter(code=code)), method=FoundBy.QR)
    compact = query.upper().replace(" ", "").replace("-", "")
    if 6 <= len(compact) <= 12 and set(compact) <= set(CODE_ALPHABET):
        if found := list(shop.members.filter(code=compact)):
            return Lookup(found, method=FoundBy.CODE)
        voucher = shop.vouchers.select_related("member").filter(code=compact).first()
        if voucher:
            return Lookup([voucher.member], voucher=voucher, method=FoundBy.VOUCHER)
    if "@" in query:
        return Lookup(list(shop.members.filter(email_canonical=canonical_email(query))[:10]), method=FoundBy.EMAIL)
    if phone := normalise_phone(query, region=shop_region(shop)):
        return Lookup(list(shop.members.filter(phone=phone)[:10]), method=FoundBy.PHONE)
    found = shop.members.filter(name__icontains=query).order_by("-last_visit_at", "name")[:10]
    return Lookup(list(found), method=FoundBy.NAME)


@dataclass
class CardView:
    program: StampProgram
    stamps: int

    @property
    def slots(self) -> list[bool]:
        needed = self.program.stamps_needed
        return [i < self.stamps for i in range(max(needed, self.stamps))]

    @property
    def extra_counts(self) -> list[int]:
        """Buttons for +2, +3 … up to the per-visit limit (five at most, to stay one tap)."""
        return list(range(2, min(self.program.max_stamps_per_visit, 5) + 1))

    @property
    def to_go(self) -> int:
        return max(self.program.stamps_needed - self.stamps, 0)


def usable_vouchers(member: Member):
    now = timezone.now()
    return member.vouchers.filter(status=Voucher.Status.ISSUED).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def masked_contact(member: Member) -> str:
    """Enough of the phone (or e-mail) to check with the customer, not enough to learn it: ••• 678."""
    if member.phone:
        return f"••• {member.phone[-3:]}"
    if member.email:
        local, _at, domain = member.email.partition("@")
        return f"{local[:1]}•••@{domain}"
    return ""


def member_panel(shop: Shop, member: Member) -> dict:
    """Cards, points, tier, rewards, vouchers and recent history of one member: a fixed number of queries."""
    stamps = dict(member.cards.values_list("program_id", "stamps"))
    cards = [CardView(p, stamps.get(p.pk, 0)) for p in shop.stamp_programs.filter(is_active=True)]
    rule = PointsRule.objects.filter(shop=shop, is_active=True).first()
    return {
        "member": member,
        "points_rule": rule,
        "catalogue": catalogue_for(member, stamps),
        "standing": standing(member),
        "boosts": boosts_for(member, timezone.now()),
        "expiring": next_expiry(member, rule, shop.tz),
        "cards": cards,
        "vouchers": list(usable_vouchers(member).order_by("expires_at", "issued_at")),
        "history": list(member.ledger.select_related("staff", "voucher", "card__program", "purchase")[:10]),
    }
