from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.errors import LoyaltyError
from rewards.models import MembershipPlan, StampProgram, Tier

from ..models import Event, EventSeries
from . import dates
from .services import REPEAT_MOST, check_start

Audience = Event.Audience
Gift = Event.Gift


class EventForm(forms.ModelForm):
    """An event as the owner sees it: a day and wall-clock times in the shop's time zone (an end before
    the start is the next morning's), made into ``starts_at`` and ``ends_at``."""

    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    start = forms.TimeField(label=_("From"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end = forms.TimeField(
        label=_("Until"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("An end before the start is the next morning's."),
    )

    class Meta:
        model = Event
        fields = [
            "title", "description", "place", "capacity", "audience", "audience_tier", "audience_plan",
            "audience_segment", "gift", "gift_stamps", "gift_program", "gift_points", "voucher_title",
            "voucher_valid_days",
        ]  # fmt: skip
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        event = self.instance
        shop = event.shop
        self.now = now or timezone.now()
        self.order_fields(["title", "description", "day", "start", "end", "place", "capacity"])
        if event.starts_at:
            starts, ends = dates.local(event.starts_at, shop.tz), dates.local(event.ends_at, shop.tz)
            self.initial.update(day=starts.date(), start=starts.time(), end=ends.time())
        self.fields["capacity"].widget.attrs.update(min=1, max=Event.CAPACITY_MAX)
        self.fields["audience_tier"].queryset = Tier.objects.for_shop(shop)
        plans = MembershipPlan.objects.for_shop(shop)
        self.fields["audience_plan"].queryset = plans.filter(
            Q(status=MembershipPlan.Status.ACTIVE) | Q(pk=event.audience_plan_id)
        )
        self.fields["gift_program"].queryset = StampProgram.objects.for_shop(shop).filter(is_active=True)
        self.fields["gift_program"].empty_label = _("The first stamp card")
        self.fields["gift"].help_text = _("Given once, when staff check the member in.")

    def clean(self):
        cleaned = super().clean()
        day, start, end = cleaned.get("day"), cleaned.get("start"), cleaned.get("end")
        if day and start and end:
            if start == end:
                self.add_error("end", _("The end must come after the start."))
            else:
                starts, ends = dates.span(day, start, end, self.instance.shop.tz)
                moved = self.instance.pk is None or starts != self.instance.starts_at
                try:
                    if moved:
                        check_start(starts, self.now)
                except LoyaltyError as error:
                    self.add_error("day", error.message)
                self.instance.starts_at, self.instance.ends_at = starts, ends
        audience = cleaned.get("audience")
        if audience == Audience.TIER and not cleaned.get("audience_tier"):
            self.add_error("audience_tier", _("Choose the tier."))
        if audience == Audience.PLAN and not cleaned.get("audience_plan"):
            self.add_error("audience_plan", _("Choose the plan."))
        if audience == Audience.SEGMENT and not cleaned.get("audience_segment"):
            self.add_error("audience_segment", _("Choose the group of customers."))
        gift = cleaned.get("gift")
        if gift == Gift.STAMPS and not cleaned.get("gift_stamps"):
            self.add_error("gift_stamps", _("Say how many stamps."))
        if gift == Gift.POINTS and not cleaned.get("gift_points"):
            self.add_error("gift_points", _("Say how many points."))
        if gift == Gift.VOUCHER and not cleaned.get("voucher_title"):
            self.add_error("voucher_title", _("Say what the voucher is for."))
        cards = StampProgram.objects.for_shop(self.instance.shop).filter(is_active=True)
        if gift == Gift.STAMPS and not cleaned.get("gift_program") and not cards.exists():
            self.add_error("gift", _("This shop has no active stamp card to put stamps on."))
        return cleaned


class RepeatForm(forms.Form):
    """The next dates of a recurring event: how it repeats (asked the first time only) and how many."""

    rule = forms.ChoiceField(label=_("Repeats"), choices=EventSeries.Rule.choices, widget=forms.RadioSelect)
    count = forms.TypedChoiceField(
        label=_("Dates to add"),
        coerce=int,
        choices=[(n, str(n)) for n in range(1, REPEAT_MOST + 1)],
        initial=3,
    )

    def __init__(self, *args, event: Event, **kwargs):
        super().__init__(*args, **kwargs)
        if event.series_id is not None:
            del self.fields["rule"]  # a series keeps its rule
        else:
            self.fields["rule"].choices = dates.rule_choices(dates.local(event.starts_at, event.shop.tz).date())
            self.fields["rule"].initial = EventSeries.Rule.MONTHLY_WEEKDAY
