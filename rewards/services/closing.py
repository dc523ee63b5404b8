"""A member who leaves: their balances closed by ledger rows of their own, their vouchers voided.

Called by ``members.services.member_erase`` through ``members.signals.member_erasing``, inside its
transaction and under its lock on the member's row, before their personal data goes."""

import uuid

from django.utils.translation import gettext as _

from members.models import AuditEntry

from ..ledger import Reason, post_all
from ..models import LeaderboardSeat, MemberCard, Membership, TierTrial, Voucher, WalletPass
from ..wallet_sync import pass_voided


def on_member_erasing(sender, *, member, now, by, action="", **kwargs) -> None:
    rows = [
        {"reason": Reason.CLOSED, "card": card, "stamps": -card.stamps, "staff": by}
        for card in MemberCard.objects.filter(member=member).exclude(stamps=0).order_by("pk")
    ]
    if member.points:
        rows.append({"reason": Reason.CLOSED, "points": -member.points, "staff": by})
    # Prepaid items not used are closed like stamps; the memberships end.
    held = Membership.objects.filter(member=member, status=Membership.Status.ACTIVE)
    rows += [
        {"reason": Reason.CLOSED, "membership": membership, "items": -membership.items_left, "staff": by}
        for membership in held.filter(items_left__gt=0).order_by("pk")
    ]
    if rows:
        note = (
            _("Removed after a long time without a visit (the shop's retention rule)")
            if action == AuditEntry.Action.MEMBER_RETIRED
            else _("Personal data erased at the member's request")
        )
        post_all(member, [{**row, "note": note} for row in rows],
                 group=uuid.uuid4(), now=now)  # fmt: skip
    held.update(status=Membership.Status.ENDED, next_allowance_at=None)
    Voucher.objects.filter(member=member, status=Voucher.Status.ISSUED).update(status=Voucher.Status.VOIDED)
    # A trial running ends here: no reminder goes out, and the nightly review leaves the row alone.
    TierTrial.objects.filter(member=member, ended_at__isnull=True).update(ended_at=now)
    # A nickname on a challenge's public board is theirs: it goes with them.
    LeaderboardSeat.objects.filter(member=member).delete()
    # Passes in their phone's wallet stop working: the phones are told to fetch them, void.
    live = list(WalletPass.objects.filter(member=member, revoked_at__isnull=True))
    WalletPass.objects.filter(pk__in=[held.pk for held in live]).update(revoked_at=now, updated_at=now)
    for held in live:
        pass_voided(held)
