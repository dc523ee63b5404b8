"""Numbers on the insights pages, each the way its kind reads: counts grouped by thousands, rates as
percentages, money in the shop's currency, changes with their sign."""

from django import template
from django.template.defaultfilters import floatformat
from django.utils.translation import gettext as _

from members.currency import format_money

register = template.Library()


@register.simple_tag
def figure(value, kind: str, currency: str = "") -> str:
    if value is None:
        return "–"
    if kind == "rate":
        return f"{floatformat(100 * float(value), 0)}%"
    if kind == "money":
        return format_money(value, currency)
    if kind == "decimal":
        return floatformat(value, 1)
    return floatformat(value, "0g")


@register.filter
def share(value) -> str:
    """A fraction as a whole percentage; nothing to show as a dash."""
    return "–" if value is None else f"{floatformat(100 * float(value), 0)}%"


@register.filter
def heat_level(value) -> int:
    """A share (0 to 1) as one of six shades for a table cell."""
    return 0 if not value else 1 + min(4, int(5 * float(value)))


@register.simple_tag
def change(figure) -> str:
    """+12% against the period before, or +3.5 points for a rate."""
    moved = figure.change
    if moved is None:
        return ""
    sign = "+" if moved > 0 else ("−" if moved < 0 else "±")
    if figure.kind == "rate":
        return _("%(sign)s%(points)s pts") % {"sign": sign, "points": floatformat(abs(moved), 1)}
    return f"{sign}{floatformat(abs(moved), '0g')}%"
