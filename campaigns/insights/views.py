"""The insights pages: thin views over ``figures``. Managers see the operational pages (overview
without money, staff and flags, the rows behind a flag); owners see everything. Each table has a
CSV export (``?export=<table>``); periods are 7, 30 or 90 whole days up to yesterday."""

from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models.functions import ExtractHour
from django.http import Http404
from django.shortcuts import render
from django.utils import formats
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from members.models import Member
from members.roles import role_has
from members.tenancy import shop_view, uuid_or_none
from rewards.models import LedgerEntry

from ..models import Segment
from . import charts, figures, rollup
from .export import csv_response

BY = {"day": 1, "week": 7, "month": 30}
ROWS_SHOWN = 200


def _period(request) -> figures.Period:
    raw = request.GET.get("period", "")
    days = figures.DEFAULT_PERIOD
    if raw:
        if raw.isdigit() and int(raw) in figures.PERIODS:
            days = int(raw)
        else:
            messages.warning(request, _("There is no such period; here are the last 30 days."))
    return figures.period_for(request.shop, days)


def _full(request) -> bool:
    return role_has(request.membership.role, "insights.full")


def _context(request, period: figures.Period, **more) -> dict:
    return {"period": period, "periods": figures.PERIODS, "full": _full(request), **more}


def _day(day: date) -> str:
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def _label(day: date, by: str) -> str:
    return formats.date_format(day, "YEAR_MONTH_FORMAT" if by == "month" else "MONTH_DAY_FORMAT")


def _short(day: date, by: str) -> str:
    """A chart's axis label: the month's short name ("30 Oct", "10月30日")."""
    pattern = formats.get_format("YEAR_MONTH_FORMAT" if by == "month" else "MONTH_DAY_FORMAT")
    return formats.date_format(day, pattern.replace("F", "M"))


@shop_view("insights.view")
@require_GET
def overview(request):
    shop, period = request.shop, _period(request)
    by = request.GET.get("by") or ("week" if period.days == 90 else "day")
    if by not in BY:
        raise Http404
    series = figures.trend(shop, period, by)
    labels = [_label(when, by) for when, _values in series.points]
    ticks = [_short(when, by) for when, _values in series.points]
    every = max(1, -(-len(labels) // 6))
    grid = figures.heatmap(shop, period)
    weekdays = [str(WEEKDAYS_ABBR[index]) for index in range(7)]
    export = request.GET.get("export")
    if export == "trend":
        header = [_("From"), _("Visits"), _("New members")]
        return csv_response(f"{shop.slug}-visits-by-{by}", header, [(when, *values) for when, values in series.points])
    if export == "hours":
        header = [_("Weekday"), *range(24)]
        return csv_response(f"{shop.slug}-visits-by-hour", header, [(weekdays[i], *row) for i, row in enumerate(grid)])
    if export == "headline":
        rows = [(f.label, f.now, f.before) for f in figures.headline(shop, period, full=_full(request))]
        return csv_response(f"{shop.slug}-headline", [_("Figure"), _("This period"), _("Period before")], rows)
    if export:
        raise Http404
    context = _context(
        request,
        period,
        figures=figures.headline(shop, period, full=_full(request)),
        today=figures.today(shop),
        by=by,
        bys=[(key, label) for key, label in (("day", _("By day")), ("week", _("By week")), ("month", _("By month")))],
        series=[(label, values) for label, (_when, values) in zip(labels, series.points, strict=True)],
        visits_chart=charts.bars([values[0] for _when, values in series.points], ticks, every=every),
        joins_chart=charts.bars([values[1] for _when, values in series.points], ticks, every=every, css="bars joins"),
        heat_chart=charts.heat(grid, weekdays),
        grid=list(zip(weekdays, grid, strict=True)),
    )
    return render(request, "campaigns/insights/overview.html", context)


@shop_view("insights.full")
@require_GET
def customers(request):
    shop, period = request.shop, _period(request)
    counts, as_of = figures.segments(shop)
    cohorts = figures.retention(shop)
    joined, returned = figures.second_visits(shop, period)
    frequency = figures.frequency(shop)
    export = request.GET.get("export")
    if export == "segments":
        return csv_response(
            f"{shop.slug}-segments", [_("Customers"), _("Members")], [(label, n) for _v, label, n in counts]
        )
    if export == "retention":
        width = max((len(c.shares) for c in cohorts), default=0)
        header = [_("Joined in"), _("Members"), *[_("Month %(n)s") % {"n": n} for n in range(width)]]
        rows = [(c.month.strftime("%Y-%m"), c.size, *[_percent(s) for s in c.shares]) for c in cohorts]
        return csv_response(f"{shop.slug}-retention", header, rows)
    if export == "frequency":
        return csv_response(f"{shop.slug}-visit-frequency", [_("Visits in a year"), _("Members")], frequency)
    if export:
        raise Http404
    context = _context(
        request,
        period,
        segments=counts,
        as_of=as_of,
        rules=_rules(),
        cohorts=cohorts,
        months=range(max((len(c.shares) for c in cohorts), default=0)),
        joined=joined,
        returned=returned,
        second_rate=(returned / joined) if joined else None,
        frequency=frequency,
        frequency_chart=charts.bars([n for _label, n in frequency], [label for label, _n in frequency]),
    )
    return render(request, "campaigns/insights/customers.html", context)


def _percent(share) -> str:
    return "" if share is None else f"{round(100 * share)}%"


def _rules() -> dict[str, str]:
    r = rollup
    return {
        Segment.NEW: _("Joined in the last %(days)s days.") % {"days": r.NEW_DAYS},
        Segment.REGULAR: _("Visited in the last %(days)s days, and at least %(visits)s times in 90 days.")
        % {"days": r.REGULAR_DAYS, "visits": r.REGULAR_VISITS},
        Segment.OCCASIONAL: _("Visited in the last 90 days, but not often enough to be a regular."),
        Segment.AT_RISK: _("Came at least %(visits)s times in a year, but not in the last %(days)s days.")
        % {"visits": r.RISK_VISITS, "days": r.REGULAR_DAYS},
        Segment.LAPSED: _("No visit in the last %(days)s days.") % {"days": r.RISK_DAYS},
    }


@shop_view("insights.full")
@require_GET
def segment(request, segment):
    if segment not in Segment.values:
        raise Http404
    shop = request.shop
    members = figures.segment_members(shop, segment)
    label = Segment(segment).label
    if request.GET.get("export") == "members":
        header = [
            _("Name"),
            _("Member code"),
            _("E-mail"),
            _("Phone"),
            _("Last visit"),
            _("Visits in 90 days"),
            _("Visits in a year"),
            _("Spent in a year"),
        ]
        rows = (
            (
                a.member.name,
                a.member.code,
                a.member.email,
                a.member.phone,
                a.last_visit.astimezone(shop.tz).strftime("%Y-%m-%d %H:%M") if a.last_visit else "",
                a.visits_90,
                a.visits_365,
                a.spend_365,
            )
            for a in members.iterator(chunk_size=2000)
        )
        return csv_response(f"{shop.slug}-{segment}", header, rows)
    if request.GET.get("export"):
        raise Http404
    counts, as_of = figures.segments(shop)
    total = next((n for value, _l, n in counts if value == segment), 0)
    paginator = Paginator(members, 50)
    paginator.count = total  # from the nightly counts: no COUNT over a big shop's members
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "segment": segment,
        "label": label,
        "rule": _rules()[segment],
        "page": page,
        "total": total,
        "as_of": as_of,
        "kinds": [("winback", _("Win-back")), ("announcement", _("Announcement"))],
    }
    return render(request, "campaigns/insights/segment.html", context)


@shop_view("insights.full")
@require_GET
def programme(request):
    shop, period = request.shop, _period(request)
    found = figures.programme(shop, period)
    export = request.GET.get("export")
    if export == "rewards":
        return csv_response(f"{shop.slug}-rewards", [_("Reward"), _("Redeemed")], found.rewards)
    if export == "tiers":
        return csv_response(f"{shop.slug}-tiers", [_("Tier"), _("Members")], found.tiers)
    if export == "campaigns":
        header = [
            _("Campaign"),
            _("Reached"),
            _("Came back"),
            _("Held back"),
            _("Came back"),
            _("Difference"),
            _("From"),
            _("To"),
        ]
        rows = [
            (
                c.name,
                f["reached"]["members"],
                f["reached"]["returned"],
                f["held_out"]["members"],
                f["held_out"]["returned"],
                u.lift,
                u.low,
                u.high,
            )
            for c, f, u in found.campaigns
        ]
        return csv_response(f"{shop.slug}-campaigns", header, rows)
    if export:
        raise Http404
    context = _context(
        request,
        period,
        programme=found,
        rewards_chart=charts.bars([n for _name, n in found.rewards], [name for name, _n in found.rewards]),
        tiers_chart=charts.bars([n for _name, n in found.tiers], [str(name) for name, _n in found.tiers]),
    )
    return render(request, "campaigns/insights/programme.html", context)


@shop_view("insights.view")
@require_GET
def staff(request):
    shop, period = request.shop, _period(request)
    lines = figures.staff(shop, period)
    export = request.GET.get("export")
    if export == "staff":
        header = [
            _("Staff"),
            _("Visits"),
            _("Stamps"),
            _("Overrides"),
            _("Undos"),
            _("Redemptions"),
            _("Stamps at quiet hours"),
        ]
        rows = [
            (line.name, line.visits, line.stamps, line.overrides, line.undos, line.redemptions, line.quiet_stamps)
            for line in lines
        ]
        return csv_response(f"{shop.slug}-staff", header, rows)
    if export:
        raise Http404
    context = _context(request, period, lines=lines, flags=figures.flags(shop, period, lines))
    return render(request, "campaigns/insights/staff.html", context)


KINDS = ["stamps", "override", "undo", "quiet", "joins"]


@shop_view("insights.view")
@require_GET
def rows(request):
    """The ledger rows (or, for joins, the members) behind a flag, newest first."""
    shop, period = request.shop, _period(request)
    kind = request.GET.get("kind") or "stamps"
    if kind not in KINDS:
        raise Http404
    start, end = rollup.bounds(shop, period.first, period.last)
    if kind == "joins":
        day = _date_or_404(request.GET.get("day", ""))
        start, end = rollup.bounds(shop, day, day)
        found = Member.objects.filter(
            shop=shop, joined_at__gte=start, joined_at__lt=end, joined_from=request.GET.get("source", "")[:16]
        ).order_by("-joined_at")
        context = _context(request, period, kind=kind, members=found[:ROWS_SHOWN], day=day)
        return render(request, "campaigns/insights/rows.html", context)
    entries = LedgerEntry.objects.filter(shop=shop, created_at__gte=start, created_at__lt=end)
    if "staff" in request.GET:
        staff_id = request.GET["staff"]
        if not staff_id.isdigit():
            raise Http404
        entries = entries.filter(staff_id=int(staff_id))
    if "member" in request.GET:
        member_id = uuid_or_none(request.GET["member"])
        if member_id is None:
            raise Http404
        entries = entries.filter(member__public_id=member_id)
    if kind == "stamps":
        entries = entries.filter(reason__in=rollup.GIVING, stamps__gt=0)
    elif kind == "override":
        entries = entries.filter(override=True)
    elif kind == "undo":
        entries = entries.filter(reason=LedgerEntry.Reason.VOID)
    elif kind == "quiet":
        quiet = figures.quiet_hours(shop, period)
        entries = entries.filter(reason__in=rollup.GIVING, stamps__gt=0)
        entries = entries.annotate(hour=ExtractHour("created_at", tzinfo=shop.tz)).filter(hour__in=quiet)
    entries = entries.select_related("member", "staff")[:ROWS_SHOWN]
    context = _context(request, period, kind=kind, entries=entries)
    return render(request, "campaigns/insights/rows.html", context)


def _date_or_404(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Http404 from None
