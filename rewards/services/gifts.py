"""Gifts that campaigns give: stamps, points, a voucher or a free trial of a membership plan, each with
a ledger row naming the campaign.

Campaigns call this under the member lock, in the transaction that records the campaign's reach,
which is what makes each gift happen once."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.utils import timezone

from members.models import Member

from ..ledger import Reason, card_for, post
from ..models import Membership, StampProgram, Voucher
from . import tiers
from .plans import plan_trial_start_locked
from .stamps import complete_cards


@dataclass
class Gift:
    stamps: int = 0
    points: int = 0
    voucher: Voucher | None = None
    program: StampProgram | None = None
    vouchers_completed: list[Voucher] = field(default_factory=list)
    trial: Membership | None = None


def gift_grant_locked(*, member: Member, campaign, now, group=None, staff=None, voucher_expires=None) -> Gift:
    """Give a campaign's gift. The caller holds the member lock and has recorded the campaign's reach
    in the same transaction."""
    group = group or uuid.uuid4()
    note = campaign.name[:200]
    gift = Gift()
    kind = campaign.gift
    if kind == "stamps" and campaign.gift_stamps:
        program = campaign.gift_program or StampProgram.objects.filter(shop_id=member.shop_id, is_active=True).first()
        if program is None or not program.is_active:
            return gift
        card = card_for(member, program)
        post(
            member, Reason.CAMPAIGN, card=card, stamps=campaign.gift_stamps, group=group, staff=staff, note=note,
            now=now,
        )  # fmt: skip
        gift.stamps, gift.program = campaign.gift_stamps, program
        gift.vouchers_completed = complete_cards(
            member=member, card=card, program=program, group=group, staff=staff, now=now
        )
    elif kind == "points" and campaign.gift_points:
        post(member, Reason.CAMPAIGN, points=campaign.gift_points, group=group, staff=staff, note=note, now=now)
        gift.points = campaign.gift_points
        tiers.tier_refresh(member=member, now=now)
    elif kind == "voucher":
        if voucher_expires is None:
            # Valid to the end of the shop's day, N days on: what "valid for 14 days" means to a customer.
            last_day = timezone.localtime(now, campaign.shop.tz).date() + timedelta(days=campaign.voucher_valid_days)
            voucher_expires = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=campaign.shop.tz)
        gift.voucher = Voucher.objects.create(
            shop_id=member.shop_id, member=member, title=campaign.voucher_title or campaign.name, issued_at=now,
            expires_at=voucher_expires,
        )  # fmt: skip
        post(member, Reason.CAMPAIGN, voucher=gift.voucher, group=group, staff=staff, note=note, now=now)
    elif kind == "plan_trial" and campaign.gift_plan_id and campaign.gift_plan_days:
        if campaign.gift_plan.shop_id != member.shop_id:
            return gift
        # None for a member who holds the plan or had a trial of it: the message still goes.
        gift.trial = plan_trial_start_locked(
            member=member, plan=campaign.gift_plan, days=campaign.gift_plan_days, now=now, group=group, note=note
        )
    return gift
