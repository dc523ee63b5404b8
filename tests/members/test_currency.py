from decimal import Decimal

import pytest
from django.utils import translation

from members.currency import Currency, format_money, minor_digits, quantize


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (120, "TWD", "NT$120"),
        (Decimal("1200.4"), "TWD", "NT$1,200"),
        (Decimal("1200.5"), "TWD", "NT$1,201"),
        (1500, "JPY", "¥1,500"),
        (Decimal("12.5"), "USD", "US$12.50"),
        (Decimal("0.005"), "EUR", "€0.01"),
        (Decimal("-3"), "HKD", "-HK$3.00"),
        (Decimal("88.8"), "CNY", "CN¥88.80"),
    ],
)
def test_amounts_are_written_per_currency(amount, currency, expected):
    with translation.override("en"):
        assert format_money(amount, currency) == expected


def test_every_currency_has_a_format():
    for currency in Currency.values:
        assert format_money(1, currency)
        assert minor_digits(currency) in (0, 2)


def test_quantize_drops_what_the_currency_cannot_express():
    assert quantize(Decimal("99.99"), "TWD") == Decimal("100")
    assert quantize(Decimal("99.994"), "USD") == Decimal("99.99")
