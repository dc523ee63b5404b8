"""Tables as CSV files a spreadsheet opens safely: a text cell that a spreadsheet would read as a
formula (starting with = + - @, a tab or a carriage return) gets a leading apostrophe. Numbers
stay numbers. Large lists stream, so an export of a big shop never sits in memory whole."""

import csv
from collections.abc import Iterable
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.utils.text import slugify

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str | int | float | Decimal:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class _Echo:
    def write(self, value):
        return value


def csv_response(name: str, header: list, rows: Iterable[Iterable]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # so spreadsheet programs read the file as UTF-8 (Chinese names)
        yield writer.writerow([cell(value) for value in header])
        for row in rows:
            yield writer.writerow([cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    filename = slugify(name) or "export"
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
