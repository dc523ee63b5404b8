from django.apps import AppConfig


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = "Rewards"

    def ready(self):
        from members.signals import shop_created

        from . import config
        from .services import setup

        config.watch_settings()

        shop_created.connect(setup.on_shop_created, dispatch_uid="rewards.first_card")
