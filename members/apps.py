from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Shops and members"

    def ready(self):
        from allauth.mfa.signals import authenticator_added
        from django.utils.translation import gettext_lazy as _

        from . import config, onboarding, two_factor
        from .models import LineChannel, WebhookEndpoint

        # Whether a shop has connected LINE is held with its settings (members.line.has_line).
        config.watch(LineChannel)
        # Which webhook endpoints a shop has, too (members.webhooks.emit).
        config.watch(WebhookEndpoint)

        # Someone a shop sent to set up two-factor sign-in is offered the way back once they have.
        authenticator_added.connect(two_factor.offer_way_back, dispatch_uid="members.two_factor.offer_way_back")

        # The first day's steps of this app; rewards and campaigns register theirs.
        onboarding.register(onboarding.Step("poster", _("Print the join poster"), "members:shop_home", order=20))
        onboarding.register(
            onboarding.Step(
                "staff",
                _("Invite your staff"),
                "members:staff_list",
                order=30,
                done=lambda shop: shop.staff.count() > 1 or shop.invitations.exists(),
            )
        )
