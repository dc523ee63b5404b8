"""What a member is given besides a visit's own stamps and a purchase's points: a full card's voucher,
and the stamps, points or voucher a campaign, an event or a challenge gives.

Below every journey that gives (stamps, gifts, challenges), so each of them can give without
importing the others: a visit completes a challenge (stamps -> challenges), and a campaign's gift
may be a membership trial (gifts -> plans -> stamps). The caller holds the member lock and the
transaction."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.utils import timezone

from members.models import Member

from ..ledger import Reason, card_for, post
from ..models import MemberCard, Membership, StampProgram, Voucher
from . import tiers


@dataclass
class Gift:
    stamps: int = 0
    points: int = 0
    voucher: Voucher | None = None
    program: StampProgram | None = None
    vouchers_completed: list[Voucher] = field(default_factory=list)
    trial: Membership | None = None


def complete_cards(
    *, member: Member, card: MemberCard, program: StampProgram, group, staff, now, entries: list | None = None
) -> list[Voucher]:
    """Turn every full card into a voucher, in the caller's transaction, under the member lock; the
    rows written are added to ``entries`` when given."""
    vouchers = []
    while card.stamps >= program.stamps_needed:
        expires = now + timedelta(days=program.voucher_valid_days) if program.voucher_valid_days else None
        voucher = Voucher.objects.create(
            shop_id=program.shop_id, member_id=card.member_id, program=program, title=program.reward, issued_at=now,
            expires_at=expires,
        )  # fmt: skip
        entry = post(
            member, Reason.CARD_COMPLETE, card=card, stamps=-program.stamps_needed, voucher=voucher, group=group,
            staff=staff, now=now,
        )  # fmt: skip
        if entries is not None:
            entries.append(entry)
        vouchers.append(voucher)
    return vouchers


def voucher_end(now: datetime, tz, days: int) -> datetime:
    """Valid to the end of the shop's day, N days on: what "valid for 14 days" means to a customer."""
    last_day = timezone.localtime(now, tz).date() + timedelta(days=days)
    return datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=tz)


def grant_locked(
    *, member: Member, giver, now, group=None, staff=None, voucher_expires=None, voucher_title=None,
    reason: str = Reason.CAMPAIGN,
) -> Gift:  # fmt: skip
    """Give the stamps, points or voucher that ``giver`` names in a campaign's fields (``gift``,
    ``gift_stamps``, ``gift_program``, ``gift_points``, ``voucher_title``, ``voucher_valid_days``,
    ``name``), as ledger rows of ``reason`` noting the giver's name. ``voucher_title``: this
    voucher's own title, instead of the giver's."""
    group = group or uuid.uuid4()
    note = giver.name[:200]
    gift = Gift()
    kind = giver.gift
    if kind == "stamps" and giver.gift_stamps:
        program = giver.gift_program or StampProgram.objects.filter(shop_id=member.shop_id, is_active=True).first()
        if program is None or not program.is_active:
            return gift
        card = card_for(member, program)
        post(member, reason, card=card, stamps=giver.gift_stamps, group=group, staff=staff, note=note, now=now)
        gift.stamps, gift.program = giver.gift_stamps, program
        gift.vouchers_completed = complete_cards(
            member=member, card=card, program=program, group=group, staff=staff, now=now
        )
    elif kind == "points" and giver.gift_points:
        post(member, reason, points=giver.gift_points, group=group, staff=staff, note=note, now=now)
        gift.points = giver.gift_points
        tiers.tier_refresh(member=member, now=now)
    elif kind == "voucher":
        if voucher_expires is None:
            voucher_expires = voucher_end(now, giver.shop.tz, giver.voucher_valid_days)
        gift.voucher = Voucher.objects.create(
            shop_id=member.shop_id, member=member, title=voucher_title or giver.voucher_title or giver.name,
            issued_at=now, expires_at=voucher_expires,
        )  # fmt: skip
        post(member, reason, voucher=gift.voucher, group=group, staff=staff, note=note, now=now)
    return gift
