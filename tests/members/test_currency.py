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


@pytest.mark.parametrize("language", ["en", "zh-hant", "zh-hans"])
def test_amounts_are_grouped_by_thousands_in_every_language(language):
    with translation.override(language):
        assert format_money(125000, "TWD") == "NT$125,000"
        assert format_money(Decimal("1234.5"), "USD") == "US$1,234.50"


@pytest.mark.parametrize(("language", "date"), [("en", "29 Nov 2026"), ("zh-hant", "2026年11月29日")])
def test_dates_are_unambiguous_in_every_language(language, date):
    from datetime import date as day

    from django.utils.formats import date_format

    with translation.override(language):
        assert date_format(day(2026, 11, 29), "SHORT_DATE_FORMAT") == date


def test_a_money_input_shows_the_symbol_and_the_currencys_steps(world, alice_client):
    from django.urls import reverse

    from rewards.models import PointsRule

    PointsRule.objects.create(shop=world.shop, is_active=True, step_amount=100, max_purchase=Decimal("10000"))
    body = alice_client.get(reverse("rewards:points_settings", args=[world.shop.slug])).content.decode()
    assert (
        '<span class="money-input"><span class="money-symbol">NT$</span><input type="number" name="step_amount"' in body
    )
    step = body[body.index('name="step_amount"') :][:300]
    assert 'value="100"' in step and 'step="1"' in step and 'inputmode="numeric"' in step
    assert "(TWD)" not in body


@pytest.mark.parametrize(
    ("currency", "amount", "accepted"),
    [("TWD", "120.5", False), ("TWD", "120", True), ("USD", "12.50", True), ("USD", "12.505", False)],
)
def test_an_amount_the_currency_cannot_hold_is_refused_at_the_counter(world, currency, amount, accepted):
    from django.urls import reverse

    from rewards.models import LedgerEntry, PointsRule

    from ..factories import MemberFactory

    world.shop.currency = currency
    world.shop.save()
    PointsRule.objects.create(shop=world.shop, is_active=True, step_amount=1)
    member = MemberFactory(shop=world.shop)
    url = reverse("rewards:counter_purchase", args=[world.shop.slug, member.public_id])
    response = world.client(world.carol).post(url, {"amount": amount, "key": "k1"}, headers={"HX-Request": "true"})
    assert (response.status_code == 200) == accepted
    assert LedgerEntry.objects.filter(member=member).exists() == accepted
    if currency == "TWD" and not accepted:
        assert "Enter a whole amount: NT$ has no cents." in response.content.decode()
