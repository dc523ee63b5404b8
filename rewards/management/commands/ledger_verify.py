from django.core.management.base import BaseCommand, CommandError

from rewards.services import ledger_drift


class Command(BaseCommand):
    help = "Recompute every card's stamps from the ledger and report drift (exit status 1 on drift)."

    def handle(self, *args, **options):
        drift = ledger_drift()
        for card, cached, ledger in drift:
            self.stderr.write(
                f"drift: member {card.member.public_id} program {card.program.public_id}: "
                f"cached {cached}, ledger {ledger}"
            )
        if drift:
            raise CommandError(f"{len(drift)} card(s) drift from the ledger.")
        self.stdout.write(self.style.SUCCESS("No drift: every balance equals its ledger."))
