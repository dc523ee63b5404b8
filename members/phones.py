import phonenumbers

# Where a number typed without a country code is assumed to be, by shop currency.
REGION_BY_CURRENCY = {
    "TWD": "TW",
    "HKD": "HK",
    "CNY": "CN",
    "JPY": "JP",
    "USD": "US",
    "GBP": "GB",
    "SGD": "SG",
    "MYR": "MY",
}


def normalise_phone(raw: str, *, region: str = "TW") -> str | None:
    """E.164 form ('+886912345678') of a valid number, or None. '0912 345 678' in Taiwan is accepted."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def shop_region(shop) -> str:
    return REGION_BY_CURRENCY.get(shop.currency, "TW")
