from django import forms
from django.utils.translation import gettext_lazy as _

from .models import StampProgram


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
