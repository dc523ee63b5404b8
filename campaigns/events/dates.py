"""Times of events in the shop's time zone, and the dates a recurring event comes back on."""

import calendar
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from ..models import EventSeries

Rule = EventSeries.Rule
# "The second Tuesday": a date in the last days of its month is "the last Tuesday".
NTH = [_("first"), _("second"), _("third"), _("fourth"), _("last")]


def local(moment: datetime, tz) -> datetime:
    return timezone.localtime(moment, tz)


def at_local(day: date, clock: time, tz) -> datetime:
    """The moment a wall clock in the shop shows ``clock`` on ``day``."""
    return datetime.combine(day, clock, tzinfo=tz)


def span(day: date, start: time, end: time, tz) -> tuple[datetime, datetime]:
    """An event's start and end from its day and wall-clock times; an end before the start is the next
    morning's (an evening from 20:00 to 01:00). The same start and end is no event: refused by the
    form."""
    starts = at_local(day, start, tz)
    ends = at_local(day + timedelta(days=1) if end <= start else day, end, tz)
    return starts, ends


def week_of_month(day: date) -> int:
    """0 for the first seven days of a month, 1 for the next seven ... 4 for the 29th to the 31st."""
    return (day.day - 1) // 7


def occurrence_day(rule: str, first: date, n: int) -> date:
    """The n-th date of a series from its first date (n = 0): counted from the first date each time,
    so a monthly date on the 31st is the 30th in April and the 31st again in May."""
    if rule == Rule.WEEKLY:
        return first + timedelta(weeks=n)
    months = first.month - 1 + n
    year, month = first.year + months // 12, months % 12 + 1
    days_in_month = calendar.monthrange(year, month)[1]
    if rule == Rule.MONTHLY_DAY:
        return date(year, month, min(first.day, days_in_month))
    if rule == Rule.MONTHLY_WEEKDAY:
        week = week_of_month(first)
        if week == 4:  # the last of its weekday in the month
            last = date(year, month, days_in_month)
            return last - timedelta(days=(last.weekday() - first.weekday()) % 7)
        first_of_month = date(year, month, 1)
        return first_of_month + timedelta(days=(first.weekday() - first_of_month.weekday()) % 7 + 7 * week)
    raise ValueError(f"Unknown rule {rule!r}")


def rule_choices(day: date) -> list[tuple[str, str]]:
    """The rules in the owner's words for an event on ``day``: "every month on the 2nd Tuesday"."""
    weekday = _weekday(day)
    return [
        (Rule.WEEKLY, _("Every week, on %(weekday)s") % {"weekday": weekday}),
        (Rule.MONTHLY_DAY, _("Every month on day %(day)s (the last day in shorter months)") % {"day": day.day}),
        (
            Rule.MONTHLY_WEEKDAY,
            _("Every month on the %(nth)s %(weekday)s") % {"nth": NTH[week_of_month(day)], "weekday": weekday},
        ),
    ]


def _weekday(day: date) -> str:
    # Django's own weekday names, translated with the rest of its date formats.
    return str(WEEKDAYS[day.weekday()])
