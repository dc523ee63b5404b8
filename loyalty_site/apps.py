from django.apps import AppConfig


class LoyaltySiteConfig(AppConfig):
    name = "loyalty_site"
    verbose_name = "Loyalty portal"

    def ready(self):
        # The status page's heartbeat listens to the worker's tasks.
        from . import health  # noqa: F401
