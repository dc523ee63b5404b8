from django import forms
from django.contrib.auth import password_validation
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .images import reencode_image
from .models import Invitation, Shop, StaffMember, time_zone_choices
from .phones import normalise_phone, shop_region
from .roles import Role
from .tokens import referrer_from_token
from .two_factor import has_two_factor
from .webhooks import EVENTS, address_problem


class ColourInput(forms.TextInput):
    """A colour picker: it always holds a colour, so neither ``required`` nor ``maxlength`` applies
    (HTML forbids both on it; the model field still checks the value)."""

    input_type = "color"

    def use_required_attribute(self, initial):
        return False

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].pop("maxlength", None)
        return context


RETENTION_RANGE = _("Enter a number of months from 6 to 120, or leave it empty to keep members until they leave.")


class ShopForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices, initial="Asia/Taipei")
    logo = forms.FileField(
        label=_("Logo"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
        help_text=_("PNG, JPEG, GIF or WebP, at most 2 MB. We resize it to fit 512 × 512 pixels."),
    )
    # Shown in the page's own Privacy section (the template renders it apart from the others).
    retention_months = forms.IntegerField(
        label=capfirst(Shop._meta.get_field("retention_months").verbose_name),
        required=False,
        min_value=6,
        max_value=120,
        help_text=Shop._meta.get_field("retention_months").help_text,
        error_messages={"min_value": RETENTION_RANGE, "max_value": RETENTION_RANGE},
    )

    class Meta:
        model = Shop
        fields = [
            "name",
            "slug",
            "logo",
            "brand_colour",
            "currency",
            "time_zone",
            "language",
            "poster_second_language",
            "join_asks_first",
            "retention_months",
            "require_mfa",
        ]
        widgets = {
            "brand_colour": ColourInput(),
            "slug": forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The owner saving the form: requiring two-factor sign-in needs theirs first.
        self.user = user

    def clean_slug(self):
        return self.cleaned_data["slug"].lower()

    def clean_require_mfa(self):
        required = self.cleaned_data.get("require_mfa", False)
        if required and not (self.user is not None and has_two_factor(self.user)):
            # Otherwise the owner would be sent away from their own shop's pages at once.
            raise forms.ValidationError(
                _(
                    "Set up two-factor sign-in for your own account first (in your account menu), so that you are "
                    "not locked out of your shop."
                ),
                code="owner_without_mfa",
            )
        return required

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if isinstance(logo, UploadedFile):
            return reencode_image(logo)
        return logo


class ShopCreateForm(ShopForm):
    """A new shop: what it is called and how it looks; how its join page asks and what its poster
    prints are for its settings.
    The web address may be left empty: it is made from the name (or made up, for a name in Chinese)."""

    # Keeping members until they leave is the default; a shop chooses otherwise in its settings.
    retention_months = None

    class Meta(ShopForm.Meta):
        fields = [f for f in ShopForm.Meta.fields if f not in ("join_asks_first", "poster_second_language",
                                                               "retention_months", "require_mfa")]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text = _(
            "Lower-case letters, numbers and hyphens; used in your shop's links. Leave it empty and we make one "
            "from the name."
        )
        # shop-create.js writes the suggestion in as the name is typed.
        self.fields["name"].widget.attrs["data-slug-source"] = "id_slug"

    def clean_slug(self):
        return (self.cleaned_data.get("slug") or "").lower()

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("slug") and cleaned.get("name") and "slug" not in self.errors:
            cleaned["slug"] = suggest_slug(cleaned["name"])
            self.instance.slug = cleaned["slug"]
        return cleaned


def suggest_slug(name: str) -> str:
    """A free web address from a shop's name: "Morning Brew" -> "morning-brew" (then "morning-brew-2"
    ...); a name with no Latin letters (晨光咖啡) gets a short random one, "shop-k3m9qz"."""
    import secrets

    from django.utils.text import slugify

    base = slugify(name)[:32].strip("-")
    if len(base) < 3:
        alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
        base = "shop-" + "".join(secrets.choice(alphabet) for _ in range(6))
    slug, n = base, 2
    while Shop.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.STAFF)


class RoleForm(forms.ModelForm):
    class Meta:
        model = StaffMember
        fields = ["role"]


class AcceptInvitationSignupForm(forms.Form):
    """Create an account from an invitation: the link proved the e-mail address."""

    name = forms.CharField(label=_("Your name"), max_length=150)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password (again)"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, invitation: Invitation, **kwargs):
        self.invitation = invitation
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords do not match."))
        elif p1:
            try:
                password_validation.validate_password(p1)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class MemberSearchForm(forms.Form):
    q = forms.CharField(label=_("Search members"), required=False, max_length=100)


class JoinForm(forms.Form):
    """What a customer types on the join page: little, and nothing ticked for them."""

    name = forms.CharField(label=_("Your name"), max_length=80, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(
        label=_("E-mail"), required=False, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    phone = forms.CharField(
        label=_("Mobile phone"),
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    birthday = forms.DateField(
        label=_("Birthday (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        help_text=_("For a birthday treat."),
    )
    marketing_consent = forms.BooleanField(required=False, initial=False)
    no_contact = _("Enter an e-mail address or a mobile number, so we can find your card again.")
    # The signed referral token from a member's share link, carried through the form.
    ref = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def __init__(self, *args, shop, **kwargs):
        self.shop = shop
        super().__init__(*args, **kwargs)
        self.fields["marketing_consent"].label = _(
            "Yes, send me news and offers from %(shop)s. I can unsubscribe at any time."
        ) % {"shop": shop.name}
        # The shop's choice first; the other is optional once one is given.
        if shop.join_asks_first == Shop.JoinFirst.PHONE:
            self.order_fields(["name", "phone", "email"])
            self.fields["email"].label = _("E-mail (optional)")
            self.fields["email"].help_text = _("We e-mail you the link to your card, to open it on any device.")
        else:
            self.fields["phone"].label = _("Mobile phone (optional)")
            self.fields["phone"].help_text = _("Give it instead of an e-mail if you prefer: staff find you by it.")

    def clean_ref(self):
        """The member who shared the link, or None: a broken or foreign link never stops a join."""
        return referrer_from_token(self.shop, self.cleaned_data.get("ref", ""))

    def clean_phone(self):
        raw = self.cleaned_data["phone"].strip()
        if not raw:
            return ""
        phone = normalise_phone(raw, region=shop_region(self.shop))
        if phone is None:
            raise forms.ValidationError(_("Enter a valid mobile number, e.g. 0912 345 678."), code="bad_phone")
        return phone

    def clean_birthday(self):
        birthday = self.cleaned_data["birthday"]
        if birthday and not (birthday.year >= 1900 and birthday <= timezone.localdate()):
            raise forms.ValidationError(_("Enter your real birthday."), code="bad_birthday")
        return birthday

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("email") and not cleaned.get("phone") and not self.errors.get("phone"):
            raise forms.ValidationError(self.no_contact, code="no_contact")
        return cleaned


class EnrolForm(JoinForm):
    """What staff type to enrol a customer at the counter: a name and a phone or an e-mail, the
    customer's language, and whether they said yes to news and offers when asked aloud."""

    language = forms.ChoiceField(label=_("Their language"), choices=Shop.Language.choices)
    no_contact = _("Enter their e-mail address or mobile number, so they can find their card again.")

    def __init__(self, *args, shop, **kwargs):
        super().__init__(*args, shop=shop, **kwargs)
        del self.fields["birthday"], self.fields["ref"]
        self.fields["name"].label = _("Name")
        self.fields["email"].label, self.fields["phone"].label = _("E-mail"), _("Mobile phone")
        self.fields["email"].help_text = self.fields["phone"].help_text = ""
        self.fields["name"].widget.attrs["autocomplete"] = "off"
        self.fields["email"].widget.attrs["autocomplete"] = "off"
        self.fields["phone"].widget.attrs["autocomplete"] = "off"
        self.fields["language"].initial = shop.language
        self.fields["marketing_consent"].label = _(
            "Asked aloud: “May %(shop)s send you news and offers? You can stop them at any time.” They said yes."
        ) % {"shop": shop.name}


class EraseForm(forms.Form):
    """Erasing a member's personal data cannot be undone: the owner says the member asked."""

    confirm = forms.BooleanField(
        label=_("The member asked for their personal data to be erased"),
        error_messages={"required": _("Tick the box to confirm that the member asked for this.")},
    )
    note = forms.CharField(
        label=_("Note for the audit trail (optional)"),
        required=False,
        max_length=200,
        help_text=_("How the member asked, for example at the counter or by e-mail. Do not write their name."),
    )


class LostCardForm(forms.Form):
    """A member who lost the link to their card gives the e-mail address they joined with."""

    email = forms.EmailField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class ProfileForm(forms.Form):
    """What a customer changes in their own account: their name and language everywhere, and a
    birthday once (only offered while a shop they joined does not know it)."""

    name = forms.CharField(label=_("Your name"), max_length=80, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    language = forms.ChoiceField(label=_("Language"), choices=Shop.Language.choices)
    birthday = forms.DateField(
        label=_("Birthday (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        help_text=_("For a birthday treat. Once given, only the shop can change it."),
    )

    def __init__(self, *args, birthday_open: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not birthday_open:
            del self.fields["birthday"]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Enter your name."))
        return name

    def clean_birthday(self):
        birthday = self.cleaned_data.get("birthday")
        if birthday and not (timezone.localdate().year - 120 <= birthday.year and birthday <= timezone.localdate()):
            raise forms.ValidationError(_("Enter your real date of birth."))
        return birthday


class LineChannelForm(forms.Form):
    """A shop's LINE official account, from the LINE Developers console's Messaging API channel."""

    channel_id = forms.RegexField(
        label=_("Channel ID"), regex=r"^\d{5,20}$", max_length=20, error_messages={"invalid": _("Enter the number.")}
    )
    channel_secret = forms.RegexField(
        label=_("Channel secret"),
        regex=r"^[0-9a-fA-F]{16,64}$",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        error_messages={"invalid": _("Copy the channel secret exactly as LINE shows it.")},
    )
    access_token = forms.CharField(
        label=_("Channel access token"),
        min_length=20,
        max_length=500,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=_("A long-lived channel access token, issued on the channel's Messaging API tab."),
    )


class WebhookEndpointForm(forms.Form):
    """An endpoint of the shop's own systems and the events it is sent."""

    url = forms.URLField(
        label=_("Endpoint URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_("An https:// address of your own system that accepts POST requests."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"), choices=list(EVENTS.items()), widget=forms.CheckboxSelectMultiple
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    active = forms.BooleanField(label=_("Send events to this endpoint"), required=False, initial=True)

    def clean_url(self):
        url = self.cleaned_data["url"]
        # Checked again at every attempt: what a name resolves to can change.
        if problem := address_problem(url):
            raise forms.ValidationError(problem)
        return url
