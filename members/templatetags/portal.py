import uuid

from django import template
from django.utils import timezone

from ..currency import FORMATS, format_money
from ..roles import role_has

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """{{ amount|money:shop.currency }} -> NT$1,200"""
    return format_money(amount, currency)


@register.filter
def can(membership, permission: str) -> bool:
    """{% if membership|can:"staff.manage" %} ... {% endif %}"""
    return membership is not None and role_has(membership.role, permission)


@register.simple_tag
def idempotency_key() -> str:
    """A fresh key per form: a resent form repeats it, a new action gets its own."""
    return uuid.uuid4().hex


@register.filter
def subtract(value, other):
    """{{ amount|subtract:paid }} for the part of a bill still to pay."""
    return value - other


@register.filter
def iso(moment) -> str:
    """A moment for a <time datetime>: ISO 8601 in the current time zone, to the second (HTML allows
    at most three digits of a second's fraction)."""
    if not moment:
        return ""
    return timezone.localtime(moment).isoformat(timespec="seconds")


@register.filter
def currency_symbol(currency: str) -> str:
    """NT$, US$, €: written before an amount input instead of "(TWD)" after its label."""
    return FORMATS[currency][0]


@register.filter
def amount_inputmode(currency: str) -> str:
    """The phone keyboard for an amount: digits only where the currency has no cents."""
    return "numeric" if FORMATS[currency][1] == 0 else "decimal"
