"""Tables as CSV files a spreadsheet opens safely (formula cells neutralised: members.spreadsheet).
Large lists stream, so an export of a big shop never sits in memory whole."""

import csv
from collections.abc import Iterable

from django.http import StreamingHttpResponse
from django.utils.text import slugify

from members.spreadsheet import BOM, cell


class _Echo:
    def write(self, value):
        return value


def csv_response(name: str, header: list, rows: Iterable[Iterable]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield BOM
        yield writer.writerow([cell(value) for value in header])
        for row in rows:
            yield writer.writerow([cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    filename = slugify(name) or "export"
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
