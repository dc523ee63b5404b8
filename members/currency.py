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
