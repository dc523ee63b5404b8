"""Charts drawn on the server as SVG: no script, nothing from elsewhere, nothing the CSP has to
allow. Colours come from the stylesheet by class. Each chart is a picture of a table printed
beside it; screen readers get the table, so the SVG is hidden from them."""

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
LEFT, BOTTOM, TOP, RIGHT = 44, 28, 10, 8


def _ticks(top: int) -> list[int]:
    """Up to five round values from 0 to at least ``top``."""
    if top <= 0:
        return [0, 1]
    step = 1
    while top / step > 5:
        for factor in (2, 2.5, 2):
            step = int(step * factor)
            if top / step <= 5:
                break
    return [step * n for n in range(0, int(top // step) + 2) if step * (n - 1) < top]


def bars(values: list[int | float], labels: list[str], *, every: int = 1, css: str = "bars") -> SafeString:
    """A bar per value; every ``every``-th label is written under its bar."""
    ticks = _ticks(max(values, default=0))
    top = ticks[-1] or 1
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = inner_w / max(len(values), 1)
    parts = []
    for tick in ticks:
        y = TOP + inner_h - inner_h * tick / top
        parts.append(
            format_html('<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - RIGHT, _n(y), _n(y))
        )
        parts.append(
            format_html('<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>', LEFT - 6, _n(y + 4), tick)
        )
    for index, value in enumerate(values):
        h = inner_h * value / top
        x = LEFT + index * slot + slot * 0.15
        parts.append(
            format_html(
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}"/>',
                _n(x),
                _n(TOP + inner_h - h),
                _n(max(slot * 0.7, 1)),
                _n(h),
            )
        )
        if index % every == 0:
            parts.append(
                format_html(
                    '<text class="label" x="{}" y="{}" text-anchor="middle">{}</text>',
                    _n(LEFT + index * slot + slot / 2),
                    HEIGHT - 8,
                    labels[index],
                )
            )
    return _svg(css, mark_safe("".join(parts)))  # noqa: S308 - every part went through format_html


def heat(grid: list[list[int]], rows: list[str]) -> SafeString:
    """A grid of weekdays (rows) by hours, each cell shaded by its share of the busiest cell."""
    cell_w, cell_h, left, top = 24, 22, 44, 20
    most = max((value for row in grid for value in row), default=0) or 1
    parts = [
        format_html(
            '<text class="label" x="{}" y="{}" text-anchor="middle">{}</text>', left + h * cell_w + cell_w / 2, 14, h
        )
        for h in range(0, 24, 3)
    ]
    for r, row in enumerate(grid):
        y = top + r * cell_h
        parts.append(
            format_html('<text class="label" x="{}" y="{}" text-anchor="end">{}</text>', left - 6, y + 15, rows[r])
        )
        for h, value in enumerate(row):
            level = 0 if not value else 1 + min(4, int(5 * value / (most + 1)))
            parts.append(
                format_html(
                    '<rect class="heat-{}" x="{}" y="{}" width="{}" height="{}"/>',
                    level,
                    left + h * cell_w,
                    y,
                    cell_w - 2,
                    cell_h - 2,
                )
            )
    width, height = left + 24 * cell_w, top + 7 * cell_h
    return _svg("heat", mark_safe("".join(parts)), width, height)  # noqa: S308 - parts from format_html


def _svg(css: str, body, width: int = WIDTH, height: int = HEIGHT) -> SafeString:
    return format_html(
        '<svg class="chart {}" viewBox="0 0 {} {}" aria-hidden="true" focusable="false">{}</svg>',
        css,
        width,
        height,
        body,
    )


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")
