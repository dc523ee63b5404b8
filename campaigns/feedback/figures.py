"""The owner's feedback page in figures: per week and per member of staff over the last weeks (the
shop's weeks, Monday first, by the shop's days the answers carry), the low ratings waiting for a
reply and the latest comments. Four queries, whatever the number of answers."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Avg, Count, Q, Sum

from members.models import Shop

from ..models import Feedback

WEEKS = 12
AWAITING_SHOWN = 50
RECENT_SHOWN = 30


@dataclass
class Week:
    start: date
    answers: int = 0
    total: int = 0
    flagged: int = 0

    @property
    def average(self) -> float | None:
        return self.total / self.answers if self.answers else None


@dataclass
class StaffLine:
    staff_id: int | None
    name: str
    answers: int
    average: float
    flagged: int


def first_day(today: date, weeks: int = WEEKS) -> date:
    """The Monday ``weeks - 1`` weeks before this week's."""
    return today - timedelta(days=today.weekday(), weeks=weeks - 1)


def weeks(shop: Shop, today: date, count: int = WEEKS) -> list[Week]:
    """Answers and their average per week, this week last; a week without answers is there, empty."""
    first = first_day(today, count)
    out = [Week(first + timedelta(weeks=n)) for n in range(count)]
    rows = (
        Feedback.objects.filter(shop=shop, day__gte=first, day__lte=today)
        .values("day")
        .annotate(answers=Count("id"), total=Sum("rating"), flagged=Count("id", filter=Q(flagged=True)))
        .order_by()
    )
    for row in rows:
        week = out[(row["day"] - first).days // 7]
        week.answers += row["answers"]
        week.total += row["total"]
        week.flagged += row["flagged"]
    return out


def overall(rows: list[Week]) -> Week:
    """The weeks added up (its ``start`` is the first week's)."""
    total = Week(rows[0].start)
    for row in rows:
        total.answers += row.answers
        total.total += row.total
        total.flagged += row.flagged
    return total


def by_staff(shop: Shop, first: date, today: date) -> list[StaffLine]:
    """Per member of staff who served the visit, most answers first; visits nobody is recorded for
    (or whose account is gone) are one line."""
    rows = (
        Feedback.objects.filter(shop=shop, day__gte=first, day__lte=today)
        .values("staff_id", "staff__email", "staff__first_name", "staff__last_name")
        .annotate(answers=Count("id"), average=Avg("rating"), flagged=Count("id", filter=Q(flagged=True)))
        .order_by("-answers", "staff__email")
    )
    lines = []
    for row in rows:
        full_name = f"{row['staff__first_name'] or ''} {row['staff__last_name'] or ''}".strip()
        name = full_name or row["staff__email"] or ""
        lines.append(StaffLine(row["staff_id"], name, row["answers"], row["average"], row["flagged"]))
    return lines


def awaiting_reply(shop: Shop, first: date) -> list[Feedback]:
    """Low ratings of the page's weeks nobody has answered yet, latest first (an erased member's are
    nobody's to answer)."""
    found = Feedback.objects.for_shop(shop).filter(flagged=True, replied_at__isnull=True, day__gte=first)
    found = found.filter(member__erased_at__isnull=True)
    return list(found.select_related("member", "staff")[:AWAITING_SHOWN])


def recent(shop: Shop, first: date) -> list[Feedback]:
    """The latest answers with words (a comment or a reply), but those waiting at the top of the page."""
    found = Feedback.objects.for_shop(shop).exclude(comment="", reply="")
    found = found.exclude(flagged=True, replied_at__isnull=True, day__gte=first, member__erased_at__isnull=True)
    return list(found.select_related("member", "staff", "replied_by")[:RECENT_SHOWN])
