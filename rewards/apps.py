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
        self.first_day()

    def first_day(self):
        """The owner's first steps that are this app's (members.onboarding)."""
        from django.utils.translation import gettext_lazy as _

        from members import onboarding

        from .models import LedgerEntry

        # Saving the card (its reward, its size) marks it: the card a new shop gets is a placeholder.
        onboarding.register(onboarding.Step("card", _("Set up your stamp card"), "rewards:program_list", order=10))
        onboarding.register(
            onboarding.Step(
                "stamp",
                _("Give the first stamp at the counter"),
                "rewards:counter",
                order=40,
                done=lambda shop: LedgerEntry.objects.filter(shop=shop, reason=LedgerEntry.Reason.VISIT).exists(),
            )
        )
