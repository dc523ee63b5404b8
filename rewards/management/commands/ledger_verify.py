from django.core.management.base import BaseCommand, CommandError

from rewards.ledger import drift as ledger_drift
from rewards.models import Cause, MemberCard, Membership


class Command(BaseCommand):
    help = (
        "Recompute every balance (stamps, points, prepaid items, causes' match) from the ledger and report drift "
        "(exit status 1 on drift)."
    )

    def handle(self, *args, **options):
        drift = ledger_drift()
        for balance, cached, ledger in drift:
            if isinstance(balance, MemberCard):
                what = f"stamps of member {balance.member.public_id} on card {balance.program.public_id}"
            elif isinstance(balance, Cause):
                what = f"match so far of cause {balance.public_id}"
            elif isinstance(balance, Membership):
                what = f"prepaid items of membership {balance.public_id}"
            else:
                what = f"points of member {balance.public_id}"
            self.stderr.write(f"drift: {what}: cached {cached}, ledger {ledger}")
        if drift:
            raise CommandError(f"{len(drift)} balance(s) drift from the ledger.")
        self.stdout.write(self.style.SUCCESS("No drift: every balance equals its ledger."))
