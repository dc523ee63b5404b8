"""Roles inside a shop and what each may do.

The permission table below is the single source of truth: the tenancy
decorator checks it, the staff page shows it, and docs/roles.md repeats it.
A higher role can do everything a lower one can.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    STAFF = "staff", _("Staff")


RANK = {Role.STAFF: 1, Role.MANAGER: 2, Role.OWNER: 3}

# permission name -> (lowest role that has it, what it means)
PERMISSIONS: dict[str, tuple[Role, str]] = {
    "shop.view": (Role.STAFF, _("See the shop's home page")),
    "counter.use": (Role.STAFF, _("Use the counter: find members, add stamps, redeem")),
    "counter.override": (Role.MANAGER, _("Override the visit limits at the counter")),
    "members.view": (Role.MANAGER, _("See and search members and their history")),
    "balances.adjust": (Role.MANAGER, _("Correct a member's balance, with a reason")),
    "purchases.refund": (Role.MANAGER, _("Refund a purchase and take back its points")),
    "tiers.grant": (Role.MANAGER, _("Give a member a tier trial")),
    "programs.edit": (Role.MANAGER, _("Set up stamp cards, points, rewards and campaigns")),
    "insights.view": (Role.MANAGER, _("See visits, the counter's work by staff, and flags to look at")),
    "insights.full": (Role.OWNER, _("See all insights: members, money, customer lists, the programme; export")),
    "members.merge": (Role.MANAGER, _("Merge two records of one member, and undo it within a day")),
    "members.import": (Role.OWNER, _("Import members and their balances from a spreadsheet")),
    "members.export": (Role.OWNER, _("Export members and the ledger as a spreadsheet")),
    "donations.reverse": (Role.MANAGER, _("Reverse a member's donation to a cause, with a reason")),
    "feedback.view": (Role.MANAGER, _("Read customers' feedback after their visits and reply to it")),
    "causes.report": (Role.OWNER, _("See and export what the shop owes the partners of its causes")),
    "partners.manage": (Role.OWNER, _("Propose, accept and end offers with partner shops, and see their use")),
    "plans.price": (Role.OWNER, _("Schedule a plan's new price and invite members to renew before it")),
    "members.erase": (Role.OWNER, _("Erase a member's personal data when they ask")),
    "audit.view": (Role.OWNER, _("See the audit trail of what owners did")),
    "shop.edit": (Role.OWNER, _("Change the shop's name, logo, colour, currency and language")),
    "webhooks.manage": (Role.OWNER, _("Send the shop's events to its own systems (webhooks) and see their log")),
    "staff.manage": (Role.OWNER, _("Invite staff, change roles and remove staff")),
    "api.manage": (Role.OWNER, _("Create and revoke the shop's API keys for points of sale and tools")),
    "shop.delete": (Role.OWNER, _("Delete the shop")),
}


def role_has(role: str, permission: str) -> bool:
    lowest, _label = PERMISSIONS[permission]
    return RANK[Role(role)] >= RANK[lowest]


def permission_table() -> list[dict]:
    """Rows for the 'who can do what' table on the staff page."""
    roles = [Role.STAFF, Role.MANAGER, Role.OWNER]
    return [
        {"label": label, "allowed": [role_has(role, name) for role in roles]}
        for name, (_lowest, label) in PERMISSIONS.items()
    ]
