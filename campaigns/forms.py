from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from rewards.models import MembershipPlan, StampProgram, Tier

from .models import Campaign

Kind = Campaign.Kind
Gift = Campaign.Gift

WEEKDAYS = [
    ("0", _("Monday")),
    ("1", _("Tuesday")),
    ("2", _("Wednesday")),
    ("3", _("Thursday")),
    ("4", _("Friday")),
    ("5", _("Saturday")),
    ("6", _("Sunday")),
]

COMMON = [
    "name", "is_active", "starts_at", "ends_at", "audience", "audience_tier", "audience_segment", "audience_from",
    "audience_to",
]  # fmt: skip
GIFT = ["gift", "gift_stamps", "gift_program", "gift_points", "voucher_title", "voucher_valid_days"]
# A free trial of a plan is for chosen members, so only announcements (whose owner picks the audience) give it.
PLAN_TRIAL = ["gift_plan", "gift_plan_days"]
MESSAGE = ["subject", "body"]
# The fields each kind of campaign asks for, in the order the form shows them.
FIELDS = {
    Kind.WELCOME: [*COMMON, "holdout_percent", *GIFT],
    Kind.BIRTHDAY: [*COMMON, "holdout_percent", *GIFT[:-1], "voucher_usual", "days_before", *MESSAGE],
    Kind.BOOST: [*COMMON, "multiplier", "multiplies", "weekdays", "on_date", "hours_from", "hours_to"],
    Kind.WINBACK: [*COMMON, "holdout_percent", "days_away", *GIFT, *MESSAGE],
    Kind.REFERRAL: [*COMMON, *GIFT, "referral_limit", *MESSAGE],
    Kind.ANNOUNCEMENT: [*COMMON, "holdout_percent", *MESSAGE, "send_at", *GIFT, *PLAN_TRIAL],
    Kind.ANNIVERSARY: [*COMMON, "holdout_percent", *GIFT, *MESSAGE],
}
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class CampaignForm(forms.ModelForm):
    weekdays = forms.MultipleChoiceField(
        label=_("On weekdays"),
        choices=WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked for every day."),
    )

    class Meta:
        model = Campaign
        fields = sorted({name for names in FIELDS.values() for name in names})
        widgets = {
            "starts_at": DATETIME,
            "ends_at": DATETIME,
            "send_at": DATETIME,
            "audience_from": DATE,
            "audience_to": DATE,
            "on_date": DATE,
            "hours_from": TIME,
            "hours_to": TIME,
            "body": forms.Textarea(attrs={"rows": 5}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        campaign = self.instance
        shop = campaign.shop
        wanted = FIELDS[campaign.kind]
        for name in list(self.fields):
            if name not in wanted:
                del self.fields[name]
        self.order_fields(wanted)
        if "audience_tier" in self.fields:
            self.fields["audience_tier"].queryset = Tier.objects.for_shop(shop)
        if "gift_program" in self.fields:
            self.fields["gift_program"].queryset = StampProgram.objects.for_shop(shop).filter(is_active=True)
            self.fields["gift_program"].empty_label = _("The first stamp card")
        if campaign.kind != Kind.ANNOUNCEMENT and "gift" in self.fields:
            self.fields["gift"].choices = [(value, label) for value, label in Gift.choices if value != Gift.PLAN_TRIAL]
        if "gift_plan" in self.fields:
            self._plan_field(shop)
            self.fields["gift_plan_days"].widget.attrs.update(min=1, max=365)
        if "weekdays" in self.fields:
            self.initial.setdefault("weekdays", list(campaign.weekdays))
        if campaign.kind == Kind.BIRTHDAY and "voucher_title" in self.fields:
            self.fields["voucher_title"].help_text = _(
                "Valid from the day it is sent until a week after the birthday (or as long after as it came before)."
            )
        if campaign.kind == Kind.ANNIVERSARY:
            for name in ("gift_stamps", "gift_points"):
                self.fields[name].help_text = _(
                    "For each year the member has been with you, up to ten: 20 points give 20 after a year, 60 "
                    "after three."
                )
        if campaign.kind == Kind.ANNOUNCEMENT:
            self.fields["subject"].required = True
            self.fields["body"].required = True
            self.fields["gift"].help_text = _("Optional: something to go with the news.")

    def _plan_field(self, shop):
        """Any plan of this shop is accepted here so that a bundle or a paused plan gets an error in
        words (clean_gift_plan); the list offers only plans that can be tried, and the one chosen."""
        field = self.fields["gift_plan"]
        field.queryset = MembershipPlan.objects.for_shop(shop)
        field.empty_label = _("Choose a plan")
        offered = MembershipPlan.objects.for_shop(shop).filter(
            Q(kind=MembershipPlan.Kind.PERIOD, status=MembershipPlan.Status.ACTIVE) | Q(pk=self.instance.gift_plan_id)
        )
        field.widget.choices = [("", field.empty_label), *((plan.pk, plan.name) for plan in offered)]

    def clean_gift_plan(self):
        plan = self.cleaned_data.get("gift_plan")
        if plan is None:
            return plan
        if plan.kind != MembershipPlan.Kind.PERIOD:
            raise forms.ValidationError(_("A prepaid bundle cannot be tried; choose a membership for a period."))
        # A campaign sent already keeps the plan it offered, on sale or not; a new offer must be on sale.
        if not plan.on_sale and (self.instance.sent_at is None or plan.pk != self.instance.gift_plan_id):
            raise forms.ValidationError(_("This plan is not on sale; put it on sale first or choose another."))
        return plan

    def clean_weekdays(self):
        return "".join(sorted(self.cleaned_data.get("weekdays") or []))

    def clean(self):
        cleaned = super().clean()
        gift = cleaned.get("gift")
        if gift == Gift.STAMPS and not cleaned.get("gift_stamps"):
            self.add_error("gift_stamps", _("Say how many stamps."))
        if gift == Gift.POINTS and not cleaned.get("gift_points"):
            self.add_error("gift_points", _("Say how many points."))
        if gift == Gift.VOUCHER and not cleaned.get("voucher_title"):
            self.add_error("voucher_title", _("Say what the voucher is for."))
        if gift == Gift.PLAN_TRIAL:
            if not cleaned.get("gift_plan") and "gift_plan" not in self.errors:
                self.add_error("gift_plan", _("Choose the plan to offer."))
            # 0 is left to the field's own check (at least 1), which says so.
            if cleaned.get("gift_plan_days") is None and "gift_plan_days" not in self.errors:
                self.add_error("gift_plan_days", _("Say for how many days the trial runs."))
        cards = StampProgram.objects.for_shop(self.instance.shop).filter(is_active=True)
        needs_card = gift == Gift.STAMPS and "gift_program" in self.fields and not cleaned.get("gift_program")
        if needs_card and not cards.exists():
            self.add_error("gift", _("This shop has no active stamp card to put stamps on."))
        audience = cleaned.get("audience")
        if audience == Campaign.Audience.TIER and not cleaned.get("audience_tier"):
            self.add_error("audience_tier", _("Choose the tier."))
        if audience == Campaign.Audience.SEGMENT and not cleaned.get("audience_segment"):
            self.add_error("audience_segment", _("Choose the group of customers."))
        if audience in (Campaign.Audience.JOINED, Campaign.Audience.SEEN):
            first, last = cleaned.get("audience_from"), cleaned.get("audience_to")
            if not first and not last:
                self.add_error("audience_from", _("Give at least one of the two dates."))
            elif first and last and last < first:
                self.add_error("audience_to", _("The second date must not come before the first."))
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The end must come after the start."))
        kind = self.instance.kind
        if kind == Kind.BOOST and not cleaned.get("multiplier"):
            self.add_error("multiplier", _("Give the multiplier, e.g. 2 for double stamps."))
        if kind == Kind.BOOST and cleaned.get("hours_from") and cleaned.get("hours_from") == cleaned.get("hours_to"):
            self.add_error("hours_to", _("The hours must not start and end at the same time."))
        if kind == Kind.WINBACK and not cleaned.get("days_away"):
            self.add_error("days_away", _("Say after how many days away a member counts as lapsed."))
        if kind in (Kind.WELCOME, Kind.REFERRAL, Kind.BIRTHDAY, Kind.WINBACK, Kind.ANNIVERSARY) and gift == Gift.NONE:
            self.add_error("gift", _("Choose what this campaign gives."))
        return cleaned
