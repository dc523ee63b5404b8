from django.apps import AppConfig


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = "Rewards"

    def ready(self):
        from members.signals import member_erasing, shop_created

        from . import config
        from .services import closing, setup

        config.watch_settings()

        shop_created.connect(setup.on_shop_created, dispatch_uid="rewards.first_card")
        member_erasing.connect(closing.on_member_erasing, dispatch_uid="rewards.close_balances")
        self.first_day()
        self.offers()

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

    def offers(self):
        """What a customer gets from this app, for the join poster and page (members.offers)."""
        from django.utils.translation import ngettext

        from members import offers
        from members.currency import format_money

        from .config import shop_rewards

        def cards_and_points(shop) -> list[str]:
            rewards = shop_rewards(shop)
            lines = [
                ngettext("%(count)s stamp → %(reward)s", "%(count)s stamps → %(reward)s", program.stamps_needed)
                % {"count": program.stamps_needed, "reward": program.reward}
                for program in rewards.active_programs
            ]
            if rule := rewards.active_rule:
                lines.append(
                    ngettext(
                        "%(points)s point for every %(amount)s",
                        "%(points)s points for every %(amount)s",
                        rule.points_per_step,
                    )
                    % {"points": rule.points_per_step, "amount": format_money(rule.step_amount, shop.currency)}
                )
            return lines

        def causes(shop) -> list[str]:
            """A cause the shop chose to print, with its progress when the poster is made."""
            from django.utils.translation import gettext as _

            from .services import giving

            chosen = [cause for cause in shop_rewards(shop).causes if cause.on_poster]
            lines = []
            for progress in giving.progress(shop, chosen):
                values = {
                    "cause": progress.cause.name, "units": progress.units, "goal": progress.cause.goal,
                    "unit": progress.cause.unit,
                }  # fmt: skip
                if progress.cause.basis == progress.cause.Basis.VISIT:
                    lines.append(_("Every visit helps %(cause)s: %(units)s of %(goal)s %(unit)s") % values)
                else:
                    lines.append(_("%(cause)s: %(units)s of %(goal)s %(unit)s so far") % values)
            return lines

        offers.register(offers.Source("rewards", cards_and_points, order=10))
        offers.register(offers.Source("causes", causes, order=90))
