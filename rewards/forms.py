from datetime import datetime, time
from decimal import Decimal

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.currency import money_fields
from members.images import reencode_image
from members.models import ShopExport

from .imports import ENCODINGS
from .models import (
    ApiKey,
    CatalogueReward,
    Cause,
    Challenge,
    MembershipPlan,
    MenuItem,
    OverrideReason,
    PartnerOffer,
    PointsRule,
    StampProgram,
    Tier,
    TierPolicy,
)
from .services import partners


class StampProgramForm(forms.ModelForm):
    class Meta:
        model = StampProgram
        fields = [
            "name",
            "stamps_needed",
            "reward",
            "max_stamps_per_visit",
            "min_minutes_between_visits",
            "voucher_valid_days",
            "is_active",
        ]


class AdjustForm(forms.Form):
    program = forms.ModelChoiceField(label=_("Card"), queryset=StampProgram.objects.none(), to_field_name="public_id")
    stamps = forms.IntegerField(
        label=_("Stamps to add or remove"),
        min_value=-100,
        max_value=100,
        help_text=_("A negative number removes stamps."),
    )
    note = forms.CharField(label=_("Reason"), max_length=200, help_text=_("Required; shown in the member's history."))

    def __init__(self, *args, shop, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = StampProgram.objects.for_shop(shop)


class PointsRuleForm(forms.ModelForm):
    expiry_from = forms.DateField(
        label=_("New expiry terms apply to points earned from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty for today. Points already earned always keep the terms they were earned under."),
    )

    class Meta:
        model = PointsRule
        fields = [
            "is_active",
            "points_per_step",
            "step_amount",
            "rounding",
            "min_purchase",
            "purchase_stamps",
            "bill_points",
            "bill_value",
            "bill_max_percent",
            "max_purchase",
            "expiry",
            "expiry_months",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        money_fields(self, self.instance.shop.currency, "step_amount", "min_purchase", "bill_value", "max_purchase")
        self.fields["purchase_stamps"].queryset = StampProgram.objects.for_shop(self.instance.shop)
        self.fields["purchase_stamps"].empty_label = _("No stamp for a purchase")

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("bill_points")) != bool(cleaned.get("bill_value")):
            raise forms.ValidationError(
                _("To let members pay with points, fill in both the points and what they are worth."),
                code="bill_incomplete",
            )
        if cleaned.get("expiry") not in (None, PointsRule.Expiry.NEVER) and not cleaned.get("expiry_months"):
            self.add_error("expiry_months", _("Say after how many months points expire."))
        start = cleaned.get("expiry_from")
        if start and start < timezone.localdate(timezone=self.instance.shop.tz):
            self.add_error(
                "expiry_from", _("Expiry terms cannot start in the past: that would change points already earned.")
            )
        return cleaned

    def expiry_start(self):
        """The moment the changed terms begin: the start of the chosen day in the shop, or now."""
        day = self.cleaned_data.get("expiry_from")
        if not day or day == timezone.localdate(timezone=self.instance.shop.tz):
            return None
        return datetime.combine(day, time.min, tzinfo=self.instance.shop.tz)


class PurchaseForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount"), min_value=Decimal("0.01"), max_digits=12, decimal_places=2,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any", "autocomplete": "off"}),
    )  # fmt: skip
    receipt = forms.CharField(label=_("Receipt number (optional)"), max_length=40, required=False)
    pay_points = forms.IntegerField(label=_("Pay with points"), min_value=0, required=False)
    # A manager's override of the limits (the service checks the role and asks for a reason).
    override = forms.BooleanField(required=False)
    override_reason = forms.ChoiceField(choices=[("", ""), *OverrideReason.choices], required=False)
    override_note = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        money_fields(self, currency, "amount")


class RefundForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount to refund"), min_value=Decimal("0.01"), max_digits=12, decimal_places=2)

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        money_fields(self, currency, "amount")


class PlainNumberInput(forms.NumberInput):
    """A number without the zeros a DecimalField pads it with: 30 rather than 30.00."""

    def format_value(self, value):
        if isinstance(value, Decimal) and value.is_finite():
            value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
        return super().format_value(value)


class CatalogueRewardForm(forms.ModelForm):
    image = forms.FileField(
        label=_("Picture"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
        help_text=_("PNG, JPEG, GIF or WebP, at most 2 MB."),
    )

    class Meta:
        model = CatalogueReward
        fields = [
            "name",
            "kind",
            "value",
            "cost_points",
            "cost_stamps",
            "stamp_program",
            "stock",
            "per_member_limit",
            "starts_at",
            "ends_at",
            "image",
            "min_tier",
            "is_active",
        ]
        widgets = {
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stamp_program"].queryset = StampProgram.objects.for_shop(self.instance.shop)
        self.fields["min_tier"].queryset = Tier.objects.for_shop(self.instance.shop)
        self.fields["min_tier"].empty_label = _("Every member")
        # An amount or a percentage: written as people write it (30, not 30.00; 12.5 stays).
        self.fields["value"].widget = PlainNumberInput(attrs={"inputmode": "decimal", "step": "any"})

    def clean_image(self):
        image = self.cleaned_data.get("image")
        if isinstance(image, UploadedFile):
            return reencode_image(image)
        return image

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("cost_points") and not cleaned.get("cost_stamps"):
            raise forms.ValidationError(_("Give the reward a cost in points, in stamps, or both."), code="no_cost")
        if cleaned.get("cost_stamps") and not cleaned.get("stamp_program"):
            self.add_error("stamp_program", _("Choose the card whose stamps pay for it."))
        kind, value = cleaned.get("kind"), cleaned.get("value")
        if kind in (CatalogueReward.Kind.AMOUNT_OFF, CatalogueReward.Kind.PERCENT_OFF) and not value:
            self.add_error("value", _("Say how much is taken off."))
        if kind == CatalogueReward.Kind.PERCENT_OFF and value and value > 100:
            self.add_error("value", _("A discount cannot be more than 100%."))
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The end must come after the start."))
        return cleaned


class MembershipPlanForm(forms.ModelForm):
    """One plain form for both kinds: the kind comes first, and each field says which kind it is for;
    the model's rules (``MembershipPlan.clean``) say what is missing or out of place."""

    class Meta:
        model = MembershipPlan
        fields = [
            "kind",
            "name",
            "price",
            "period_months",
            "items",
            "item_name",
            "valid_days",
            "refund_rule",
            "tier",
            "discount_percent",
            "points_multiplier",
            "allowance_title",
            "vip_after_months",
            "vip_tier",
            "benefits",
        ]
        widgets = {
            "kind": forms.RadioSelect,
            "refund_rule": forms.RadioSelect,
            "benefits": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "kind": _("Choose this first: each field below says which kind it is for."),
            "name": _("As staff and customers see it, e.g. Coffee club or 10 lattes for the price of 8."),
            "period_months": _("Membership for a period only: how long one sale runs. Empty for a prepaid bundle."),
            "items": _("Prepaid bundle only: how many the customer pays for now, e.g. 10. Empty for a membership."),
            "item_name": _("Prepaid bundle only: what each one is, e.g. latte."),
            "valid_days": _(
                "Prepaid bundle only: days after the sale to use them; empty for a bundle that never expires."
            ),
            "refund_rule": _("The unused part is the items left of a bundle, or the days left of a membership."),
            "tier": _("Membership only, optional: members hold this tier for as long as their membership runs."),
            "discount_percent": _("Optional: taken off what members on this plan buy at the counter."),
            "points_multiplier": _(
                "Membership only, optional: e.g. 2 for double points on purchases while it runs (a tier's "
                "multiplier does not add to it; the higher applies)."
            ),
            "allowance_title": _(
                "Membership only, optional: a voucher issued at the start of each month of the membership, e.g. "
                "a free drink."
            ),
            "vip_after_months": _(
                "Membership only: members who renew without a break are VIP after this many months, for as long as "
                "they stay. Empty for no VIP status."
            ),
            "vip_tier": _("Membership only, optional: the tier VIP members hold while they stay."),
            "benefits": _("Optional: anything else the plan gives, shown to staff and customers."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        shop = self.instance.shop
        money_fields(self, shop.currency, "price")
        self.fields["period_months"].choices = [("", _("None (a prepaid bundle)")), *MembershipPlan.Period.choices]
        for name in ("tier", "vip_tier"):
            self.fields[name].queryset = Tier.objects.for_shop(shop)
            self.fields[name].empty_label = _("No tier")
        if self.instance.pk and self.instance.memberships.exists():
            # What was sold keeps its kind; a plan that changed kind would read as another plan.
            self.fields["kind"].disabled = True
            self.fields["kind"].help_text = _("Sold already, so its kind stays; make a new plan for the other kind.")
        # A multiplier is written as people write it: 2, not 2.00; 1.5 stays.
        self.fields["points_multiplier"].widget = PlainNumberInput(attrs={"inputmode": "decimal", "step": "any"})


class PlanStatusForm(forms.Form):
    status = forms.ChoiceField(choices=MembershipPlan.Status.choices)


class TierPolicyForm(forms.ModelForm):
    class Meta:
        model = TierPolicy
        fields = ["basis", "window_months", "grace_days"]


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = ["name", "threshold", "multiplier", "benefits"]
        widgets = {"benefits": forms.Textarea(attrs={"rows": 3})}

    def clean_threshold(self):
        threshold = self.cleaned_data["threshold"]
        taken = Tier.objects.for_shop(self.instance.shop).filter(threshold=threshold).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(_("Another tier already starts at this number."), code="taken")
        return threshold


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Spreadsheet"),
        help_text=_("CSV or Excel (.xlsx), one member per row, their column names in the first row."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx,text/csv"}),
    )
    encoding = forms.ChoiceField(
        label=_("Characters (CSV only)"),
        choices=list(ENCODINGS.items()),
        initial="auto",
        help_text=_("Excel in Taiwan saves CSV as Big5, in mainland China as GB18030, elsewhere often as UTF-8."),
    )


class ImportMappingForm(forms.Form):
    """One choice per field: which column of the file holds it, or none."""

    def __init__(self, *args, fields: list, header: list[str], samples: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        columns = [("", _("— not in the file —"))] + [
            (str(i), f"{name} ({sample})" if sample else name)
            for i, (name, sample) in enumerate(zip(header, samples, strict=False))
        ]
        for item in fields:
            self.fields[item.key] = forms.ChoiceField(label=item.label, choices=columns, required=False)

    def clean(self):
        data = super().clean()
        chosen = [value for value in data.values() if value != ""]
        if len(chosen) != len(set(chosen)):
            raise forms.ValidationError(_("A column can go to one field only."))
        return data

    def mapping(self) -> dict[str, int]:
        return {key: int(value) for key, value in self.cleaned_data.items() if value != ""}


class ExportForm(forms.Form):
    """What the owner exports; the period's rules are the service's (rewards.export.export_request)."""

    kind = forms.ChoiceField(
        label=_("What"), choices=ShopExport.Kind.choices, initial=ShopExport.Kind.MEMBERS, widget=forms.RadioSelect
    )
    format = forms.ChoiceField(
        label=_("File"),
        choices=ShopExport.Format.choices,
        initial=ShopExport.Format.XLSX,
        widget=forms.RadioSelect,
        help_text=_(
            "An Excel sheet holds about a million rows: a longer ledger goes on over more sheets. A CSV file of a "
            "very large ledger is prepared much sooner."
        ),
    )
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Members who joined, or ledger rows written, from this day on. Empty: from the start."),
    )
    date_to = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("This day included, in the shop's time zone. Empty: up to now."),
    )


class PlanPriceForm(forms.Form):
    """A plan's new price from a day on; whether that day and price may be is the service's to say
    (``services.price_change_schedule``)."""

    new_price = forms.DecimalField(label=_("New price"), min_value=0, max_digits=12, decimal_places=2)
    from_day = forms.DateField(
        label=_("New price from"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("From the start of this day in the shop's time zone: tomorrow at the earliest."),
    )

    def __init__(self, *args, currency: str, tomorrow, **kwargs):
        super().__init__(*args, **kwargs)
        money_fields(self, currency, "new_price")
        self.fields["from_day"].widget.attrs["min"] = tomorrow.isoformat()


class CauseForm(forms.ModelForm):
    # An address typed without its scheme is read as https, as browsers do (Django 6's default).
    partner_url = forms.URLField(label=_("Partner's website"), required=False, max_length=200, assume_scheme="https")

    class Meta:
        model = Cause
        fields = [
            "name",
            "description",
            "picture",
            "partner",
            "partner_url",
            "unit",
            "unit_cost",
            "goal",
            "basis",
            "amount_per",
            "point_value",
            "match_limit",
            "on_poster",
            "status",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "basis": forms.RadioSelect,
            "status": forms.RadioSelect,
            "picture": forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
        }
        help_texts = {
            "name": _("As members see it, e.g. A tree for every ten coffees."),
            "on_poster": _("A line on the join poster with the cause and its progress when the poster is made."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        money_fields(self, self.instance.shop.currency, "unit_cost", "amount_per", "match_limit")
        # A point's value may be a fraction of the smallest coin (NT$0.5 a point).
        self.fields["point_value"].widget = PlainNumberInput(attrs={"inputmode": "decimal", "step": "any"})

    def clean_picture(self):
        picture = self.cleaned_data.get("picture")
        if isinstance(picture, UploadedFile):
            return reencode_image(picture, max_side=1200)
        return picture

    def clean(self):
        cleaned = super().clean()
        basis, amount = cleaned.get("basis"), cleaned.get("amount_per")
        if basis and basis != Cause.Basis.NONE and amount is not None and amount <= 0:
            self.add_error("amount_per", _("Enter what the shop gives each time, or choose that it gives nothing."))
        return cleaned


class DonateForm(forms.Form):
    points = forms.IntegerField(label=_("Points to give"), min_value=1, max_value=1_000_000)


class DonationReverseForm(forms.Form):
    reason = forms.CharField(label=_("Why"), max_length=200)


class CauseReportForm(forms.Form):
    # An ISO date, as a date input holds it, whatever the language's date format.
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end comes before the start."), code="order")
            if (end - start).days > 366:
                raise forms.ValidationError(_("Choose at most a year."), code="too_long")
        return cleaned


class MenuItemForm(forms.ModelForm):
    class Meta:
        model = MenuItem
        fields = ["name", "tag", "price", "position", "is_active"]
        help_texts = {"name": _("As staff tap it at the counter, e.g. Oat latte.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        money_fields(self, self.instance.shop.currency, "price")

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        taken = MenuItem.objects.for_shop(self.instance.shop).filter(name__iexact=name).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(_("The menu already has an item of this name."), code="taken")
        return name

    def clean_tag(self):
        return self.cleaned_data["tag"].lower()


class CounterNoteForm(forms.Form):
    note = forms.CharField(label=_("Note for the counter"), max_length=100, required=False)


class ChallengeForm(forms.ModelForm):
    class Meta:
        model = Challenge
        fields = [
            "name",
            "description",
            "kind",
            "window",
            "target",
            "amount",
            "tag",
            "gift",
            "gift_stamps",
            "gift_program",
            "gift_points",
            "voucher_title",
            "voucher_valid_days",
            "badge_emoji",
            "badge_name",
            "badge_picture",
            "leaderboard",
            "starts_at",
            "ends_at",
            "status",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "kind": forms.RadioSelect,
            "window": forms.RadioSelect,
            "gift": forms.RadioSelect,
            "status": forms.RadioSelect,
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "badge_picture": forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        money_fields(self, self.instance.shop.currency, "amount")
        self.fields["gift_program"].queryset = StampProgram.objects.for_shop(self.instance.shop)

    def clean_badge_picture(self):
        picture = self.cleaned_data.get("badge_picture")
        if isinstance(picture, UploadedFile):
            return reencode_image(picture, max_side=256)
        return picture

    def clean_tag(self):
        return self.cleaned_data["tag"].lower()


class NicknameForm(forms.Form):
    nickname = forms.CharField(label=_("Your nickname on the board"), max_length=20)


class PartnerOfferForm(forms.Form):
    """An owner's proposal of a partner offer to another shop of this installation."""

    partner = forms.CharField(
        label=_("Partner shop"), max_length=200,
        help_text=_("Its join link, or its short name in the portal's addresses (e.g. crumb-bakery)."),
    )  # fmt: skip
    direction = forms.TypedChoiceField(
        label=_("Who gets the offer"), coerce=lambda value: value == "ours", initial="ours", widget=forms.RadioSelect,
        choices=[
            ("ours", _("Our members, at the partner's counter")),
            ("theirs", _("The partner's members, at our counter")),
        ],
    )  # fmt: skip
    title = forms.CharField(
        label=_("Offer"), max_length=80, help_text=_("What the member gets, e.g. a free cookie with any coffee.")
    )
    terms = forms.CharField(
        label=_("Terms"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Anything the counter should know, e.g. not with other offers."),
    )  # fmt: skip
    period = forms.ChoiceField(
        label=_("How often"), choices=PartnerOffer.Period.choices, initial=PartnerOffer.Period.WEEK
    )
    ends_on = forms.DateField(
        label=_("Last day"), required=False, help_text=_("Empty to run until one of you ends it."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )  # fmt: skip

    def __init__(self, *args, shop, **kwargs):
        super().__init__(*args, **kwargs)
        self.shop = shop

    def clean_partner(self):
        partner = partners.shop_from_address(self.cleaned_data["partner"])
        if partner is None:
            raise forms.ValidationError(_("No shop of this portal has that address."), code="unknown")
        if partner.pk == self.shop.pk:
            raise forms.ValidationError(_("That is your own shop: choose another."), code="own")
        return partner


class ApiKeyForm(forms.Form):
    """A new API key: what it is for, and what it may do."""

    name = forms.CharField(label=_("Name"), max_length=60, help_text=_("Where it is used, e.g. “Till 1”."))
    scope = forms.ChoiceField(
        label=_("It may"), choices=ApiKey.Scope.choices, initial=ApiKey.Scope.COUNTER, widget=forms.RadioSelect
    )
