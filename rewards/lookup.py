"""Finding a member at the counter, and how they were found, carried from the look-up to the
ledger rows it leads to.

The look-up signs (member, method) into the panel it renders, so a form cannot claim a fresh QR
scan it never had; every ledger row written while ``found_by`` is active records the method.
"""

import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db.models import F
from django.utils.translation import gettext as _

from members import ratelimit
from members.emails import canonical_email
from members.models import CODE_ALPHABET, AuditEntry, Member, Shop
from members.phones import normalise_phone, shop_region
from members.tokens import QRCodeExpired, member_code_from_qr

from .models import FOUND_BY, FoundBy, Voucher
from .services import partners, wallet
from .services.partners import PartnerFind

logger = logging.getLogger(__name__)
SALT = "counter-found-by"
# A panel older than this no longer vouches for how the member was found.
MAX_AGE = 15 * 60


def found_token(member_public_id, method: str) -> str:
    return signing.dumps([str(member_public_id), method], salt=SALT, compress=True)


def found_method(token: str | None, member_public_id) -> str:
    """The method a panel's token vouches for, or "" if it is missing, stale, forged or another member's."""
    try:
        member_id, method = signing.loads(token or "", salt=SALT, max_age=MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return ""
    return method if member_id == str(member_public_id) and method in FoundBy.values else ""


@contextmanager
def found_by(method: str):
    token = FOUND_BY.set(method)
    try:
        yield
    finally:
        FOUND_BY.reset(token)


@dataclass
class Lookup:
    members: list[Member] = field(default_factory=list)
    voucher: Voucher | None = None
    error: str = ""
    # How the member was found (rewards.models.FoundBy): only a fresh QR proves the person is here.
    method: str = ""
    # A partner shop's member, who may use that partner's offers here (rewards.services.partners).
    partner: PartnerFind | None = None


LAST_DIGITS = re.compile(r"[0-9]{4}")


def lookup_allowed(shop: Shop, user) -> int:
    """Count one look-up by ``user`` at ``shop``'s counter: 0 when it may go ahead, otherwise the
    seconds to wait. A burst past the limit (someone paging through the members) is slowed, and
    written once per minute in the shop's audit trail with who did it."""
    limit = settings.COUNTER_LOOKUPS_PER_MINUTE
    if ratelimit.allow(f"lookup:{shop.pk}:{user.pk}", limit=limit, period=60):
        return 0
    if cache.add(f"lookup-burst:{shop.pk}:{user.pk}:{int(time.time() // 60)}", 1, timeout=70):
        AuditEntry.objects.create(shop=shop, actor=user, action=AuditEntry.Action.LOOKUP_BURST, note=f"{limit}/min")
        logger.warning("Counter look-ups past %s a minute by user %s", limit, user.pk)
    return ratelimit.seconds_left(60)


def counter_lookup(shop: Shop, query: str) -> Lookup:
    """A scanned member QR, a member or voucher code, an e-mail, a phone number or its last four
    digits, or a name."""
    query = query.strip()
    if not query:
        return Lookup()
    if query.startswith(wallet.PREFIX):
        # A wallet pass: long-lived, so it proves the card, not that its holder is here.
        found = wallet.member_for_barcode(shop, query)
        if found is None:
            return Lookup(error=_("This wallet pass is not valid here: it was replaced or revoked. Ask for the card."))
        return Lookup([found[0]], method=FoundBy.WALLET)
    if query.count(":") == 2:
        try:
            code = member_code_from_qr(shop, query)
        except QRCodeExpired:
            return Lookup(
                error=_("This QR code has expired. Ask the customer to open their card again, or type the member code.")
            )
        if code is None:
            try:
                partner = partners.partner_find(shop, query)
            except QRCodeExpired:
                # A partner's card is taken only from a fresh QR code: the customer opens it again.
                error = _("This partner card's QR code has expired. Ask the customer to open their card again.")
                return Lookup(error=error)
            if partner is not None:
                return Lookup(partner=partner, method=FoundBy.QR)
            return Lookup(error=_("This QR code is not one of this shop's member codes."))
        return Lookup(list(shop.members.filter(code=code)), method=FoundBy.QR)
    compact = query.upper().replace(" ", "").replace("-", "")
    if 6 <= len(compact) <= 12 and set(compact) <= set(CODE_ALPHABET):
        if found := list(shop.members.filter(code=compact)):
            return Lookup(found, method=FoundBy.CODE)
        voucher = shop.vouchers.select_related("member").filter(code=compact, member__erased_at__isnull=True).first()
        if voucher:
            return Lookup([voucher.member], voucher=voucher, method=FoundBy.VOUCHER)
    if LAST_DIGITS.fullmatch(digits := query.replace(" ", "")):
        # The last four digits of a phone: a short list to pick from, latest visitors first.
        found = shop.members.filter(phone__endswith=digits).order_by(*LATEST_FIRST)[:10]
        return Lookup(list(found), method=FoundBy.PHONE)
    if "@" in query:
        return Lookup(list(shop.members.filter(email_canonical=canonical_email(query))[:10]), method=FoundBy.EMAIL)
    if phone := normalise_phone(query, region=shop_region(shop)):
        return Lookup(list(shop.members.filter(phone=phone)[:10]), method=FoundBy.PHONE)
    return Lookup(by_name(shop, query), method=FoundBy.NAME)


# A name is looked for first among this many of the shop's latest visitors (the customer at the
# counter is most likely one of them), then, if fewer than ten match there, among all members.
RECENT = 2_000
LATEST_FIRST = (F("last_visit_at").desc(nulls_last=True), "name")


def by_name(shop: Shop, part: str, limit: int = 10) -> list[Member]:
    """Members whose name contains ``part``, latest visitors first. Ten matches among the latest
    visitors are the ten latest matches of all: a big shop finds them by reading the names of its
    latest visitors (one index scan), not every member whose name matches (a twelfth of a million
    for a common surname)."""
    latest = shop.members.order_by(*LATEST_FIRST).values_list("pk", "name")[:RECENT]
    wanted = part.upper()
    picked = [pk for pk, name in latest if wanted in name.upper()][:limit]
    if len(picked) == limit:
        found = shop.members.in_bulk(picked)
        return [found[pk] for pk in picked]
    return list(shop.members.filter(name__icontains=part).order_by(*LATEST_FIRST)[:limit])
