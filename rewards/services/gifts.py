"""Gifts that campaigns give: stamps, points, a voucher or a free trial of a membership plan, each with
a ledger row naming the campaign.

Campaigns call this under the member lock, in the transaction that records the campaign's reach,
which is what makes each gift happen once. Stamps, points and vouchers are given by
``grants.grant_locked``, which challenges use too."""

import uuid

from members.models import Member

from .grants import Gift, grant_locked
from .plans import plan_trial_start_locked

__all__ = ["Gift", "gift_grant_locked"]


def gift_grant_locked(
    *, member: Member, campaign, now, group=None, staff=None, voucher_expires=None, voucher_title=None
) -> Gift:
    """Give a campaign's gift. The caller holds the member lock and has recorded the campaign's reach
    in the same transaction. ``voucher_title``: the voucher's own title (a birthday's "their usual")."""
    if campaign.gift == "plan_trial" and campaign.gift_plan_id and campaign.gift_plan_days:
        gift = Gift()
        if campaign.gift_plan.shop_id != member.shop_id:
            return gift
        # None for a member who holds the plan or had a trial of it: the message still goes.
        gift.trial = plan_trial_start_locked(
            member=member, plan=campaign.gift_plan, days=campaign.gift_plan_days, now=now,
            group=group or uuid.uuid4(), note=campaign.name[:200],
        )  # fmt: skip
        return gift
    return grant_locked(
        member=member,
        giver=campaign,
        now=now,
        group=group,
        staff=staff,
        voucher_expires=voucher_expires,
        voucher_title=voucher_title,
    )
