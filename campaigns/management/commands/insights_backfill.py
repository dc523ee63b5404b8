"""Count every past day of one shop or of all of them into the insights roll-ups: after an upgrade
that adds a figure, or to rebuild them. Safe to run again: each day is counted from scratch."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from members.models import Shop

from ...insights import rollup


class Command(BaseCommand):
    help = "Count past days into the insights roll-ups (all shops, or those named)."

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", help="shops by web address; all shops when none is given")
        parser.add_argument("--days", type=int, help="only the last N days (default: since the first member)")

    def handle(self, *args, slugs=(), days=None, verbosity=1, **options):
        shops = Shop.objects.filter(slug__in=slugs) if slugs else Shop.objects.all()
        if slugs and len(shops) != len(set(slugs)):
            missing = set(slugs) - {shop.slug for shop in shops}
            raise CommandError(f"No shop with the web address: {', '.join(sorted(missing))}")
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        for shop in shops.order_by("pk").iterator():
            first = None
            if days:
                first = rollup.local_day(shop, timezone.now()) - timedelta(days=days)
            counted = rollup.backfill(shop, first)
            if verbosity:
                self.stdout.write(f"{shop.slug}: {counted} days")
