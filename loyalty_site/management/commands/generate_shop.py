"""Make a shop at scale for benchmarks: see loyalty_site/generate.py."""

import sys
import time

from django.core.management.base import BaseCommand

from loyalty_site.generate import generate
from rewards.ledger import drift


class Command(BaseCommand):
    help = (
        "Create a shop of N members (default 1,000,000) with two years of history, about twenty ledger rows each, "
        "and a 1,000-member shop beside it for comparison. Deterministic with --seed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=1_000_000)
        parser.add_argument("--slug", default="bench")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--no-small", action="store_true", help="Skip the 1,000-member comparison shop.")
        parser.add_argument("--no-verify", action="store_true", help="Skip checking balances against the ledger.")

    def handle(self, *args, members, slug, seed, no_small, no_verify, **options):
        shops = [(slug, members)] + ([] if no_small else [(f"{slug}-1k", 1_000)])
        for shop_slug, size in shops:
            started = time.monotonic()

            def progress(done, total, started=started, shop_slug=shop_slug):
                rate = done / max(time.monotonic() - started, 0.001)
                sys.stderr.write(f"\r{shop_slug}: {done:,}/{total:,} members ({rate:,.0f}/s)  ")
                sys.stderr.flush()

            shop = generate(slug=shop_slug, members=size, seed=seed, progress=progress)
            sys.stderr.write("\n")
            rows = shop.ledger.count()
            self.stdout.write(
                f"{shop.name} (/s/{shop.slug}/): {size:,} members, {rows:,} ledger rows "
                f"in {time.monotonic() - started:,.0f} s"
            )
        if not no_verify:
            if found := drift():
                self.stderr.write(f"{len(found)} balance(s) differ from the ledger")
                sys.exit(1)
            self.stdout.write("No drift: every balance equals its ledger.")
