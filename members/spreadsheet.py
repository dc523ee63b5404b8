"""Cells a spreadsheet opens safely: a text cell that a spreadsheet would read as a formula (starting
with = + - @, a tab or a carriage return) gets a leading apostrophe. Numbers stay numbers. Used by
every CSV the portal writes: the insights' exports and a customer's copy of their data."""

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# So spreadsheet programs read a file as UTF-8 (Chinese names).
BOM = "\ufeff"


def cell(value) -> str | int | float | Decimal:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_text(header: list, rows: Iterable[Iterable]) -> str:
    """A whole small table as CSV text, BOM first."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow([cell(value) for value in header])
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()
