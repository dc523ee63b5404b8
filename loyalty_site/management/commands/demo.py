"""Create the demo café (idempotent): see loyalty_site/demo.py and the README's list of its members."""

from django.core.management.base import BaseCommand

from loyalty_site.demo import DEMO_PASSWORD, DEMO_USERS, build_demo
from loyalty_site.demo_bakery import BAKER, SLUG
from members.roles import Role


class Command(BaseCommand):
    help = "Create the demo café (idempotent): staff logins, every feature on and six months of history."

    def handle(self, *args, **options):
        shop = build_demo()
        self.stdout.write(self.style.SUCCESS(f"Demo shop ready: {shop.name} (/s/{shop.slug}/)"))
        self.stdout.write(f"  Counter:   /s/{shop.slug}/counter/   Join page: /j/{shop.slug}/")
        for email, _first, _last, role in DEMO_USERS:
            self.stdout.write(f"  {role.label:<8} {email} / {DEMO_PASSWORD}")
        self.stdout.write(f"Its neighbour and partner: Crumb Bakery (/s/{SLUG}/)")
        self.stdout.write(f"  {Role.OWNER.label:<8} {BAKER[0]} / {DEMO_PASSWORD}")
