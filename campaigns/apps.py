from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self):
        from members.config import watch
        from members.signals import member_joined
        from rewards import signals

        from . import receivers
        from .models import Campaign

        watch(Campaign)
        self.first_day()

        member_joined.connect(receivers.on_member_joined, dispatch_uid="campaigns.welcome")
        signals.visit_recorded.connect(receivers.on_visit, dispatch_uid="campaigns.referral")
        signals.boost_wanted.connect(receivers.on_boost_wanted, dispatch_uid="campaigns.boost")
        signals.extras_wanted.connect(receivers.on_extras_wanted, dispatch_uid="campaigns.extras")

    def first_day(self):
        from django.utils.translation import gettext_lazy as _

        from members import onboarding

        from .models import Campaign

        onboarding.register(
            onboarding.Step(
                "campaign",
                _("Start your first campaign"),
                "campaigns:campaign_list",
                order=50,
                done=lambda shop: Campaign.objects.filter(shop=shop).exists(),
            )
        )
