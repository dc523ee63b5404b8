from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import Feedback, FeedbackSetup
from .services import RATINGS

RATING_ERROR = _("Choose a rating from 1 to 5.")
LONG_ERROR = _("Please keep it to %(limit_value)d characters (this is %(show_value)d).")


class AnswerForm(forms.Form):
    """The card's question: a rating (one of five buttons) and an optional comment."""

    rating = forms.TypedChoiceField(
        choices=[(str(n), str(n)) for n in RATINGS],
        coerce=int,
        error_messages={"required": RATING_ERROR, "invalid_choice": RATING_ERROR},
    )
    comment = forms.CharField(
        label=_("Anything to add? (optional)"),
        required=False,
        max_length=Feedback.COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": LONG_ERROR},
    )


class ReplyForm(forms.Form):
    reply = forms.CharField(
        label=_("Your reply"),
        max_length=Feedback.REPLY_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Write the reply first."), "max_length": LONG_ERROR},
    )


class SetupForm(forms.ModelForm):
    class Meta:
        model = FeedbackSetup
        fields = ["is_active", "question", "flag_at"]
