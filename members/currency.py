"""Currencies a shop can use and how their amounts are written."""

from decimal import ROUND_HALF_UP, Decimal

from django.db import models
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _


class Currency(models.TextChoices):
    TWD = "TWD", _("New Taiwan dollar (NT$)")
    HKD = "HKD", _("Hong Kong dollar (HK$)")
    CNY = "CNY", _("Chinese yuan (CN¥)")
    JPY = "JPY", _("Japanese yen (¥)")
    USD = "USD", _("US dollar (US$)")
    EUR = "EUR", _("Euro (€)")
    GBP = "GBP", _("Pound sterling (£)")
    SGD = "SGD", _("Singapore dollar (S$)")
    MYR = "MYR", _("Malaysian ringgit (RM)")


# symbol, digits after the decimal point. TWD is written without cents in
# daily use, although ISO 4217 lists two minor digits.
FORMATS: dict[str, tuple[str, int]] = {
    "TWD": ("NT$", 0),
    "HKD": ("HK$", 2),
    "CNY": ("CN¥", 2),
    "JPY": ("¥", 0),
    "USD": ("US$", 2),
    "EUR": ("€", 2),
    "GBP": ("£", 2),
    "SGD": ("S$", 2),
    "MYR": ("RM", 2),
}


def minor_digits(currency: str) -> int:
    return FORMATS[currency][1]


def quantize(amount: Decimal | int | str, currency: str) -> Decimal:
    """Round an amount to what the currency can express (NT$120.4 -> 120)."""
    exponent = Decimal(1).scaleb(-minor_digits(currency))
    return Decimal(amount).quantize(exponent, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | int | str, currency: str) -> str:
    """'NT$1,200', 'US$12.50', '€3.00', '-¥500' in the active locale's separators."""
    symbol, digits = FORMATS[currency]
    value = quantize(amount, currency)
    sign = "-" if value < 0 else ""
    number = number_format(abs(value), decimal_pos=digits, use_l10n=True, force_grouping=True)
    return f"{sign}{symbol}{number}"


class MoneyValidator:
    """An amount the currency can hold: whole for NT$ and yen, at most cents for the others."""

    def __init__(self, currency: str):
        self.currency = currency

    def __call__(self, value):
        from django.core.exceptions import ValidationError

        if not value.is_finite():
            raise ValidationError(_("Enter a number."), code="invalid")
        digits = minor_digits(self.currency)
        try:
            exact = value == value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
        except ArithmeticError:
            exact = True  # too many digits to be an amount at all: the field's own digit check says so
        if not exact:
            if digits == 0:
                message = _("Enter a whole amount: %(symbol)s has no cents.") % {"symbol": FORMATS[self.currency][0]}
            else:
                message = _("Enter at most two digits after the decimal point.")
            raise ValidationError(message, code="max_decimal_places")

    def __eq__(self, other):
        return isinstance(other, MoneyValidator) and other.currency == self.currency


def money_widget(currency: str, attrs: dict | None = None):
    """A number input for an amount of ``currency``: its symbol before it (not "(TWD)" after the
    label), whole steps for NT$ and yen, and values written as the currency writes them (100, not 100.00)."""
    from django import forms
    from django.utils.html import format_html

    symbol, digits = FORMATS[currency]

    class MoneyInput(forms.NumberInput):
        def format_value(self, value):
            if value in (None, ""):
                return None
            try:
                return str(quantize(value, currency))
            except ArithmeticError:
                return super().format_value(value)

        def render(self, name, value, attrs=None, renderer=None):
            field = super().render(name, value, attrs, renderer)
            return format_html('<span class="money-input"><span class="money-symbol">{}</span>{}</span>', symbol, field)

    step = "1" if digits == 0 else "0.01"
    return MoneyInput(attrs={"inputmode": "numeric" if digits == 0 else "decimal", "step": step, **(attrs or {})})


def money_fields(form, currency: str, *names: str) -> None:
    """Make a form's decimal fields amounts of the shop's currency (see ``money_widget``)."""
    for name in names:
        field = form.fields[name]
        # The field's own validator still limits the digits; this one speaks of the currency's cents.
        field.decimal_places = minor_digits(currency)
        field.validators.append(MoneyValidator(currency))
        attrs = {k: v for k, v in field.widget.attrs.items() if k not in ("step", "inputmode")}
        widget = money_widget(currency, attrs)
        widget.attrs.update(field.widget_attrs(widget))  # min and max, and the step of the currency
        widget.is_required = field.required
        field.widget = widget
