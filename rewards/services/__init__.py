"""Every change of rewards state, one module per journey; each writes through ``rewards.ledger``.

stamps     a stamp for a visit, a voucher for a full card, redeeming it, a manager's correction
purchases  points on a purchase, paying with points or a catalogue discount, refunds
catalogue  spending points or stamps on a reward
undo       taking back a counter action within minutes
gifts      what campaigns give
grants     the stamps, points or voucher a campaign or a challenge gives; a full card's voucher
challenges a member's progress in a window, completed with the visit that completes it, undone with it
tiers      moving up at once, down after grace, trials
expiry     points that expire, first earned first
setup      cards, points rule, catalogue, tiers and membership plans as the owner configures them
plans      memberships and prepaid bundles sold and renewed at the counter, their items used, refunds,
           monthly vouchers, trials, ends and reminders, a plan's scheduled new price
"""

from .catalogue import reward_redeem
from .expiry import points_expire
from .gifts import Gift, gift_grant_locked
from .plans import (
    bundle_redeem,
    early_renewals,
    membership_refund,
    memberships_run,
    plan_sell,
    plan_trial_start_locked,
    price_change_cancel,
    price_change_invite,
    price_change_schedule,
)
from .purchases import purchase_record, purchase_refund
from .setup import (
    plan_save,
    plan_set_status,
    points_rule_save,
    program_create_default,
    program_save,
    reward_save,
    tier_settings_save,
)
from .stamps import stamp_add, stamps_adjust, voucher_redeem, vouchers_expire
from .tiers import tier_trial_start, tiers_review, trial_reminders
from .undo import action_undo

__all__ = [
    "Gift",
    "action_undo",
    "bundle_redeem",
    "early_renewals",
    "gift_grant_locked",
    "membership_refund",
    "memberships_run",
    "plan_save",
    "plan_sell",
    "plan_set_status",
    "plan_trial_start_locked",
    "points_expire",
    "points_rule_save",
    "price_change_cancel",
    "price_change_invite",
    "price_change_schedule",
    "program_create_default",
    "program_save",
    "purchase_record",
    "purchase_refund",
    "reward_redeem",
    "reward_save",
    "stamp_add",
    "stamps_adjust",
    "tier_settings_save",
    "tier_trial_start",
    "tiers_review",
    "trial_reminders",
    "voucher_redeem",
    "vouchers_expire",
]
