from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self):
        from members.config import watch
        from members.signals import member_erasing, member_joined
        from rewards import signals

        from . import receivers
        from .models import Campaign, Event, FeedbackSetup

        watch(Campaign)
        watch(FeedbackSetup)
        watch(Event)
        self.first_day()
        self.offers()

        member_joined.connect(receivers.on_member_joined, dispatch_uid="campaigns.welcome")
        member_erasing.connect(receivers.on_member_erasing, dispatch_uid="campaigns.forget")
        signals.visit_recorded.connect(receivers.on_visit, dispatch_uid="campaigns.referral")
        signals.boost_wanted.connect(receivers.on_boost_wanted, dispatch_uid="campaigns.boost")
        signals.extras_wanted.connect(receivers.on_extras_wanted, dispatch_uid="campaigns.extras")
        signals.extras_wanted.connect(receivers.on_feedback_wanted, dispatch_uid="campaigns.feedback")
        signals.extras_wanted.connect(receivers.on_events_wanted, dispatch_uid="campaigns.events")
        signals.members_merged.connect(receivers.on_members_merged, dispatch_uid="campaigns.merge")
        signals.merge_undoing.connect(receivers.on_merge_undoing, dispatch_uid="campaigns.unmerge")
        signals.members_merged.connect(receivers.on_feedback_merged, dispatch_uid="campaigns.feedback_merge")
        signals.merge_undoing.connect(receivers.on_feedback_unmerging, dispatch_uid="campaigns.feedback_unmerge")

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

    def offers(self):
        """A running welcome campaign's gift, for the join poster and page (members.offers)."""
        from django.utils import timezone
        from django.utils.translation import gettext as _
        from django.utils.translation import ngettext

        from members import offers
        from members.config import shop_cached
        from members.models import Member
        from rewards.config import shop_rewards

        from .audience import in_audience
        from .models import Campaign

        def load(shop) -> tuple[Campaign, ...]:
            found = Campaign.objects.filter(shop=shop, kind=Campaign.Kind.WELCOME, is_active=True)
            return tuple(found.order_by("created_at").select_related("shop"))

        def gift(campaign: Campaign, shop) -> str:
            """What the campaign gives, as a customer reads it; "" when it would give nothing."""
            Gift = Campaign.Gift
            if campaign.gift == Gift.STAMPS and campaign.gift_stamps:
                # As the gift itself does (rewards.services.gifts): on its card, else the first active one.
                programs = shop_rewards(shop).active_programs
                if campaign.gift_program_id is None:
                    lands = bool(programs)
                else:
                    lands = any(program.pk == campaign.gift_program_id for program in programs)
                if not lands:
                    return ""
                count = campaign.gift_stamps
                return ngettext("+%(count)s stamp", "+%(count)s stamps", count) % {"count": count}
            if campaign.gift == Gift.POINTS and campaign.gift_points:
                count = campaign.gift_points
                return ngettext("+%(count)s point", "+%(count)s points", count) % {"count": count}
            if campaign.gift == Gift.VOUCHER:
                return campaign.voucher_title or campaign.name
            return ""

        def welcome_gifts(shop) -> list[str]:
            now = timezone.now()
            joining = Member(shop=shop, joined_at=now)
            lines = []
            for campaign in shop_cached(shop, "welcome", load):
                # Only a gift everyone who joins now gets is promised: not one held back from some
                # for comparison, nor one for a tier or for those who joined on other dates.
                if not campaign.is_running(now) or campaign.holdout_percent or not in_audience(campaign, joining):
                    continue
                if text := gift(campaign, shop):
                    lines.append(_("A welcome gift when you join: %(gift)s") % {"gift": text})
            return lines

        offers.register(offers.Source("campaigns", welcome_gifts, order=20))
