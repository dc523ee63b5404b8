"""A shop brings in its members from a spreadsheet (CSV or XLSX): paper cards typed into Excel, or
another system's export.

1. ``inspect`` reads the upload once, whole: it refuses what it cannot read safely (too big, too
   many rows, an Excel file that unpacks to far more than it weighs, formulas, text in an encoding
   it was not told) with a message for the owner, and keeps the header and the row count;
2. the owner maps columns to fields (``guess_mapping`` starts from the shop's last import, then
   from the usual names) and sees what each row will do (``preview``);
3. the worker runs it (``run``) in batches, each one transaction under the locks of the members it
   touches. A row becomes a new member or fills the blanks of the member it matches (by member
   code, e-mail or phone after normalising); its stamps and points enter the ledger as
   ``IMPORTED`` rows by the owner who imported, at most once per member and card (the row's key,
   enforced by the ledger's idempotency constraint), so running the same file again changes
   nothing. Rejected rows, with their reasons, are kept as a CSV for the owner to fix.

Imported members get no welcome bonus and no e-mail: they are not new customers.
"""

import csv
import io
import re
import secrets
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import openpyxl
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from members.emails import canonical_email
from members.models import CODE_ALPHABET, AuditEntry, ConsentMethod, Member, MemberImport, Shop, User
from members.phones import normalise_phone, shop_region
from members.spreadsheet import csv_text

from .ledger import Reason
from .models import LedgerEntry, MemberCard, StampProgram
from .services.stamps import complete_cards

FOLDER = "member-imports"
MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 60
MAX_CELL = 300
# An XLSX is a zip: what it may unpack to, in all and against its packed size.
MAX_UNPACKED = 400 * 1024 * 1024
MAX_RATIO = 150
MAX_POINTS = 100_000
MAX_FULL_CARDS = 10
BATCH = 500
PREVIEW_ROWS = 100

ENCODINGS = {
    "auto": gettext_lazy("Find out (UTF-8, else Big5, else GB18030)"),
    "utf-8": "UTF-8",
    "big5": gettext_lazy("Big5 (Traditional Chinese Excel)"),
    "gb18030": gettext_lazy("GB18030 (Simplified Chinese Excel)"),
}
# Python's names: cp950 is Big5 as Windows writes it (with its extra characters).
CODECS = {"utf-8": "utf-8-sig", "big5": "cp950", "gb18030": "gb18030"}


class ImportFileError(ValueError):
    """A file that is not imported at all; the message says why, to the owner."""


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    # Header names (lower case, spaces removed) that mean this field, for the first mapping.
    names: tuple[str, ...] = ()
    program: StampProgram | None = None


BASE_FIELDS = [
    Field("name", gettext_lazy("Name"),
          ("name", "fullname", "customer", "member", "姓名", "名字", "顾客", "顧客", "會員", "会员")),
    Field("email", gettext_lazy("E-mail address"),
          ("email", "e-mail", "mail", "emailaddress", "電子郵件", "电子邮件", "信箱", "邮箱")),
    Field("phone", gettext_lazy("Phone"),
          ("phone", "mobile", "tel", "telephone", "cell", "phonenumber", "電話", "电话", "手機", "手机")),
    Field("code", gettext_lazy("Member code (this portal's)"), ("membercode", "code", "會員代碼", "会员代码")),
    Field("birthday", gettext_lazy("Birthday"), ("birthday", "dateofbirth", "dob", "birthdate", "生日", "出生日期")),
    Field("language", gettext_lazy("Language"), ("language", "lang", "語言", "语言")),
    Field("consent", gettext_lazy("Agreed to news and offers"),
          ("consent", "marketing", "newsletter", "optin", "marketingconsent", "同意")),
    Field("joined", gettext_lazy("Joined"),
          ("joined", "joindate", "since", "membersince", "created", "加入日期", "入會日期", "入会日期")),
    Field("last_visit", gettext_lazy("Last visit"),
          ("lastvisit", "lastseen", "lastvisitdate", "最後來店", "最后到店", "最近消費", "最近消费")),
    Field("points", gettext_lazy("Points"), ("points", "balance", "pointsbalance", "點數", "积分", "積分")),
]  # fmt: skip

TRUE = {"yes", "y", "true", "1", "x", "✓", "是", "同意", "好", "ok"}
FALSE = {"no", "n", "false", "0", "否", "不同意", "不"}
LANGUAGES = {
    "en": "en", "english": "en", "英文": "en", "英語": "en", "英语": "en",
    "zh-hant": "zh-hant", "zh-tw": "zh-hant", "zh_tw": "zh-hant", "zh-hk": "zh-hant", "繁體中文": "zh-hant",
    "繁中": "zh-hant", "traditionalchinese": "zh-hant", "中文": "zh-hant",
    "zh-hans": "zh-hans", "zh-cn": "zh-hans", "zh_cn": "zh-hans", "简体中文": "zh-hans", "简中": "zh-hans",
    "simplifiedchinese": "zh-hans",
}  # fmt: skip
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S")  # fmt: skip
CODE = re.compile(f"[{CODE_ALPHABET}]{{8}}")
# A text a spreadsheet program would run: a name never starts so (a phone's + is read as a phone).
FORMULA = re.compile(r"^\s*(=|@|[+-](?![\d\s(]))")


def fields_for(shop: Shop) -> list[Field]:
    programs = StampProgram.objects.filter(shop=shop).order_by("pk")
    cards = [
        Field(f"stamps:{program.public_id}", _("Stamps on “%(card)s”") % {"card": program.name},
              ("stamps",) if len(programs) == 1 else (), program)
        for program in programs
    ]  # fmt: skip
    return BASE_FIELDS + cards


def _key(text: str) -> str:
    return re.sub(r"[\s_.:：]+", "", str(text).lower())


# Reading ------------------------------------------------------------------------------------------


@dataclass
class Inspected:
    kind: str
    encoding: str
    header: list[str]
    rows: int
    sample: list[str] = field(default_factory=list)


def _kind(filename: str, data: bytes) -> str:
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            _("This is an old Excel file (.xls). Save it as .xlsx or CSV in Excel, then upload that.")
        )
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise _unreadable()
    return "csv"


def _decode(data: bytes, encoding: str) -> tuple[str, str]:
    if b"\x00" in data:
        raise ImportFileError(_("This file holds binary data, not text. Upload a CSV or an Excel (.xlsx) file."))
    tried = list(CODECS) if encoding == "auto" else [encoding]
    for name in tried:
        try:
            return data.decode(CODECS[name]), name
        except UnicodeDecodeError:
            continue
    if encoding == "auto":
        raise ImportFileError(
            _("This file's characters are in no encoding we know. Save it from Excel as “CSV UTF-8”.")
        )
    guess = next((name for name in CODECS if name != encoding and _decodes(data, name)), None)
    message = _("This file is not in %(encoding)s.") % {"encoding": ENCODINGS[encoding]}
    if guess:
        message += " " + _("It reads as %(guess)s: choose that and upload it again.") % {"guess": ENCODINGS[guess]}
    else:
        message += " " + _("Save it from Excel as “CSV UTF-8” and upload it again.")
    raise ImportFileError(message)


def _decodes(data: bytes, name: str) -> bool:
    try:
        data.decode(CODECS[name])
    except UnicodeDecodeError:
        return False
    return True


def _csv_rows(text: str) -> Iterator[list]:
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        yield from csv.reader(io.StringIO(text, newline=""), dialect)
    except csv.Error as error:
        raise ImportFileError(_("This CSV file is malformed (%(error)s).") % {"error": error}) from None


def _check_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise _unreadable() from None
    unpacked = sum(info.file_size for info in infos)
    packed = max(1, sum(info.compress_size for info in infos))
    if len(infos) > 1000 or unpacked > MAX_UNPACKED or unpacked / packed > MAX_RATIO:
        raise ImportFileError(
            _("This Excel file unpacks to far more than it weighs, as no real sheet does. It is not imported.")
        )


def _unreadable() -> ImportFileError:
    return ImportFileError(_("This file is not a readable Excel file. Save it again as .xlsx or CSV."))


def _open_book(data: bytes):
    """The upload as a workbook, read-only and with its formulas as written, once its zip is checked."""
    _check_zip(data)
    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise _unreadable() from None


def _xlsx_rows(data: bytes) -> Iterator[list]:
    book = _open_book(data)
    try:
        sheet = book.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(), start=1):
            values = []
            for index, cell in enumerate(row):
                if getattr(cell, "data_type", None) == "f":
                    raise _formula_error(f"{get_column_letter(index + 1)}{number}")
                values.append(cell.value)
            yield values
    finally:
        book.close()


# An XLSX sheet's XML, read as bytes (any namespace prefix): rows, values, formulas, cell names.
XML_ROW = re.compile(rb"<(?:\w+:)?row[\s>]")
XML_VALUE = re.compile(rb"<(?:\w+:)?(?:v|is)>")
XML_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
XML_CELL = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3}[0-9]+)"')


def _formula_error(where: str) -> ImportFileError:
    return ImportFileError(
        _(
            "Cell %(cell)s holds a formula. Formulas are not imported: in Excel, copy the sheet and paste it as "
            "values, then upload it again."
        )
        % {"cell": where}
    )


def _xlsx_outline(data: bytes) -> tuple[list | None, int, list]:
    """The first sheet's header and how many rows below it hold a value, without walking every row
    through openpyxl (the upload is a web request; the worker walks them): its XML scanned as bytes,
    which also finds a formula anywhere in it."""
    book = _open_book(data)
    try:
        sheet = book.worksheets[0]
        # Where the sheet's XML is in the archive: openpyxl resolved it from the workbook's relations.
        path = sheet._worksheet_path.lstrip("/")
        filled = (list(row) for row in sheet.iter_rows(values_only=True) if not _blank(list(row)))
        header, sample = next(filled, None), next(filled, [])
    except (IndexError, KeyError, ValueError, AttributeError):
        raise _unreadable() from None
    finally:
        book.close()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read(path)
    if formula := XML_FORMULA.search(xml):
        cells = XML_CELL.findall(xml, max(0, formula.start() - 500), formula.start())
        raise _formula_error(cells[-1].decode() if cells else "?")
    starts = [found.start() for found in XML_ROW.finditer(xml)]
    ends = [*starts[1:], len(xml)]
    rows = sum(1 for start, end in zip(starts, ends, strict=True) if XML_VALUE.search(xml, start, end))
    return header, max(0, rows - 1), sample


def rows_of(data: bytes, filename: str, encoding: str) -> tuple[str, str, Iterator[list]]:
    """(kind, encoding used, rows with the header first) of an upload; ImportFileError if unreadable."""
    kind = _kind(filename, data)
    if kind == "xlsx":
        return kind, "", _xlsx_rows(data)
    text, used = _decode(data, encoding)
    return kind, used, _csv_rows(text)


def _blank(row: list) -> bool:
    return all(value is None or str(value).strip() == "" for value in row)


def inspect(data: bytes, filename: str, encoding: str = "auto") -> Inspected:
    """Read the whole upload once: refuse it with ImportFileError, or return its header and size."""
    if len(data) > MAX_BYTES:
        raise ImportFileError(
            _("This file is larger than %(mb)s MB. Split it into several files.") % {"mb": MAX_BYTES // 2**20}
        )
    if not data.strip():
        raise ImportFileError(_("This file is empty."))
    if _kind(filename, data) == "xlsx":
        return _inspected("xlsx", "", *_xlsx_outline(data))
    kind, used, rows = rows_of(data, filename, encoding)
    header, sample = None, []
    count = 0
    for row in rows:
        if header is None:
            if not _blank(row):
                header = row
            continue
        if not count and not _blank(row):
            sample = row
        if not _blank(row):
            count += 1
            if count > MAX_ROWS:
                raise ImportFileError(
                    _("This file has more than %(n)s rows. Split it into several files.") % {"n": f"{MAX_ROWS:,}"}
                )
    return _inspected(kind, used, header, count, sample)


def _inspected(kind: str, used: str, header: list | None, count: int, sample: list) -> Inspected:
    if header is not None:
        header = [str(value).strip() if value is not None else "" for value in header]
        while header and not header[-1]:
            header.pop()
    if not header:
        raise ImportFileError(_("This file is empty."))
    if len(header) > MAX_COLUMNS:
        raise ImportFileError(_("This file has more than %(n)s columns.") % {"n": MAX_COLUMNS})
    if count > MAX_ROWS:
        raise ImportFileError(
            _("This file has more than %(n)s rows. Split it into several files.") % {"n": f"{MAX_ROWS:,}"}
        )
    if not count:
        raise ImportFileError(_("This file has a header row but no members under it."))
    header = [name or get_column_letter(i + 1) for i, name in enumerate(header)]
    return Inspected(kind, used, header, count, [_text(value)[:24] for value in sample][: len(header)])


def data_rows(data: bytes, filename: str, encoding: str) -> Iterator[tuple[int, list]]:
    """(row number in the file, values) of every data row, the header skipped."""
    _kind, _used, rows = rows_of(data, filename, encoding or "auto")
    header_seen = False
    for number, row in enumerate(rows, start=1):
        if _blank(row):
            continue
        if not header_seen:
            header_seen = True
            continue
        yield number, row


# Mapping ------------------------------------------------------------------------------------------


def guess_mapping(shop: Shop, header: list[str]) -> dict[str, int]:
    """Field key -> column: the shop's last mapping where its column names recur, else the usual names."""
    keys = [_key(name) for name in header]
    mapping: dict[str, int] = {}
    last = MemberImport.objects.filter(shop=shop).exclude(mapping={}).order_by("-created_at").first()
    if last is not None:
        for field_key, column in last.mapping.items():
            if isinstance(column, int) and column < len(last.header) and _key(last.header[column]) in keys:
                mapping[field_key] = keys.index(_key(last.header[column]))
    for item in fields_for(shop):
        if item.key in mapping:
            continue
        names = {_key(n) for n in item.names}
        if item.program is not None:
            names |= {_key(item.program.name), _key(f"{item.program.name} stamps"), _key(f"stamps {item.program.name}")}
        for index, key in enumerate(keys):
            if key in names and index not in mapping.values():
                mapping[item.key] = index
                break
    return mapping


def mapping_problems(mapping: dict[str, int]) -> list[str]:
    problems = []
    if "name" not in mapping:
        problems.append(_("Choose the column that holds the members' names."))
    if not {"email", "phone", "code"} & mapping.keys():
        problems.append(
            _("Choose a column with e-mail addresses, phone numbers or member codes: rows are matched by them.")
        )
    return problems


# Checking rows ------------------------------------------------------------------------------------


@dataclass
class Row:
    number: int
    raw: list
    values: dict = field(default_factory=dict)
    error: str = ""
    outcome: str = ""  # new, matched, unchanged, rejected
    member: Member | None = None
    changes: list[str] = field(default_factory=list)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = re.sub(r"\s+", " ", str(value)).strip()
    # A cell a spreadsheet would run, made safe by an apostrophe (as our exports write it): its text.
    return text[1:] if text.startswith("'") and text[1:2] in ("=", "+", "-", "@") else text


def _number(value, *, limit: int, what: str) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = Decimal(str(value))
    else:
        text = _text(value).replace(",", "").replace("，", "")
        if not text:
            return 0
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(_("%(what)s: “%(value)s” is not a number.") % {"what": what, "value": text[:40]}) from None
    if number != number.to_integral_value() or number < 0:
        raise ValueError(_("%(what)s: %(value)s is not a whole number of 0 or more.") % {"what": what, "value": number})
    if number > limit:
        raise ValueError(
            _("%(what)s: %(value)s is more than %(limit)s. Check the number.")
            % {"what": what, "value": f"{int(number):,}", "limit": f"{limit:,}"}
        )
    return int(number)


def _date(value, *, what: str) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).date()  # as the portal's exports write times
    except ValueError:
        pass
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(
        _("%(what)s: “%(value)s” is not a date (write it as 2024-03-31).") % {"what": what, "value": text[:40]}
    )


def _check(row: Row, mapping: dict[str, int], shop: Shop, programs: dict[str, StampProgram], today: date) -> None:
    """Turn a row's cells into values, or set its error (the first problem found)."""

    def cell(key):
        column = mapping.get(key)
        return row.raw[column] if column is not None and column < len(row.raw) else None

    values = row.values
    try:
        for key in mapping:
            if len(_text(cell(key))) > MAX_CELL:
                raise ValueError(_("A cell is longer than %(n)s characters.") % {"n": MAX_CELL})
        name = _text(cell("name"))
        if FORMULA.match(name):
            raise ValueError(_("The name looks like a spreadsheet formula: “%(value)s”.") % {"value": name[:40]})
        if len(name) > 80:
            raise ValueError(_("The name is longer than 80 characters."))
        values["name"] = name
        email = _text(cell("email")).lower()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise ValueError(_("“%(value)s” is not an e-mail address.") % {"value": email[:60]}) from None
        values["email"] = email
        phone = _text(cell("phone"))
        if phone:
            normal = normalise_phone(phone, region=shop_region(shop))
            if normal is None:
                raise ValueError(_("“%(value)s” is not a phone number.") % {"value": phone[:30]})
            phone = normal
        values["phone"] = phone
        code = _text(cell("code")).upper().replace(" ", "")
        if code and not CODE.fullmatch(code):
            raise ValueError(_("“%(value)s” is not a member code of this portal.") % {"value": code[:20]})
        values["code"] = code
        if not (email or phone or code):
            raise ValueError(
                _("No e-mail, phone or member code: the member could not be found again, so the row is not imported.")
            )
        birthday = _date(cell("birthday"), what=_("Birthday"))
        if birthday and not date(1900, 1, 1) <= birthday <= today:
            raise ValueError(_("Birthday: %(value)s is not a possible birthday.") % {"value": birthday})
        values["birthday"] = birthday
        language = _text(cell("language"))
        if language and _key(language) not in LANGUAGES:
            raise ValueError(
                _("Language: “%(value)s” is not English, 繁體中文 or 简体中文.") % {"value": language[:30]}
            )
        values["language"] = LANGUAGES.get(_key(language), "")
        consent = _key(_text(cell("consent")))
        if consent and consent not in TRUE | FALSE:
            raise ValueError(
                _("Agreed to news and offers: write yes or no, not “%(value)s”.") % {"value": consent[:20]}
            )
        values["consent"] = consent in TRUE
        for key, what in (("joined", _("Joined")), ("last_visit", _("Last visit"))):
            day = _date(cell(key), what=what)
            if day and day > today:
                raise ValueError(_("%(what)s: %(value)s is in the future.") % {"what": what, "value": day})
            values[key] = day
        values["points"] = _number(cell("points"), limit=MAX_POINTS, what=_("Points"))
        values["stamps"] = {}
        for key, program in programs.items():
            if key in mapping:
                stamps = _number(cell(key), limit=MAX_FULL_CARDS * program.stamps_needed, what=program.name)
                if stamps:
                    values["stamps"][program.pk] = stamps
        if code:
            # A row with this portal's member code came out of it (an export): its balances are here already.
            values["stamps"], values["points"] = {}, 0
    except ValueError as error:
        row.error = str(error)
        row.outcome = "rejected"


def _import_key(member_id: int, what: str) -> str:
    """The row's key in the ledger: a member's balance of one card, or their points, comes in once."""
    return f"import:{member_id}:{what}"


class Plan:
    """Rows of one batch checked against the shop's members (and each other)."""

    def __init__(self, shop: Shop, mapping: dict[str, int]):
        self.shop = shop
        self.mapping = mapping
        self.programs = {item.key: item.program for item in fields_for(shop) if item.program is not None}
        self.today = timezone.localdate(timezone=shop.tz)
        # Identities already seen in the file: a second row for one person is rejected, not merged.
        self.seen: dict[str, int] = {}

    def check(self, numbered: Iterable[tuple[int, list]], *, lock: bool = False) -> list[Row]:
        rows = [Row(number, list(raw)) for number, raw in numbered]
        for row in rows:
            _check(row, self.mapping, self.shop, self.programs, self.today)
        good = [row for row in rows if not row.error]
        members = Member.objects.filter(shop=self.shop)
        if lock:
            members = members.select_for_update(of=("self",))
        codes = {row.values["code"] for row in good if row.values["code"]}
        emails = {canonical_email(row.values["email"]) for row in good if row.values["email"]}
        phones = {row.values["phone"] for row in good if row.values["phone"]}
        found = list(members.filter(code__in=codes)) if codes else []
        found += list(members.filter(email_canonical__in=emails)) if emails else []
        found += list(members.filter(phone__in=phones)) if phones else []
        by = {
            "code": {m.code: m for m in found},
            "email": {m.email_canonical: m for m in found if m.email_canonical},
            "phone": {m.phone: m for m in found if m.phone},
        }
        for row in good:
            self._match(row, by)
        matched = [row.member.pk for row in rows if row.member is not None]
        self.imported = set(
            LedgerEntry.objects.filter(shop=self.shop, member__in=matched, reason=Reason.IMPORTED).values_list(
                "idempotency_key", flat=True
            )
        ) if matched else set()  # fmt: skip
        for row in rows:
            if row.outcome == "matched":
                row.changes = self._changes(row)
                if not row.changes:
                    row.outcome = "unchanged"
            elif row.outcome == "new":
                row.changes = self._changes(row)
        return rows

    def _match(self, row: Row, by: dict) -> None:
        values = row.values
        identities = [
            ("code", values["code"]),
            ("email", canonical_email(values["email"]) if values["email"] else ""),
            ("phone", values["phone"]),
        ]
        for kind, value in identities:
            if value and (earlier := self.seen.get(f"{kind}:{value}")):
                row.error = _("The same person as row %(row)s (%(what)s).") % {"row": earlier, "what": value}
                row.outcome = "rejected"
                return
        matches = {by[kind][value].pk: by[kind][value] for kind, value in identities if value and value in by[kind]}
        if values["code"] and values["code"] not in by["code"]:
            row.error = _("No member has the code %(code)s.") % {"code": values["code"]}
        elif len(matches) > 1:
            row.error = _("The e-mail, phone and member code belong to different members.")
        elif not matches and not values["name"]:
            row.error = _("A new member needs a name.")
        if row.error:
            row.outcome = "rejected"
            return
        for kind, value in identities:
            if value:
                self.seen[f"{kind}:{value}"] = row.number
        row.member = next(iter(matches.values()), None)
        row.outcome = "new" if row.member is None else "matched"

    def _changes(self, row: Row) -> list[str]:
        values, member, imported = row.values, row.member, self.imported
        changes = []
        if member is not None:
            for key, label in (("email", _("e-mail")), ("phone", _("phone")), ("birthday", _("birthday"))):
                if values[key] and not getattr(member, key):
                    changes.append(_("adds the %(what)s") % {"what": label})
        programs = {program.pk: program for program in self.programs.values()}
        for program_pk, stamps in values["stamps"].items():
            if member is None or _import_key(member.pk, f"card{program_pk}") not in imported:
                changes.append(_("%(n)s stamps on “%(card)s”") % {"n": stamps, "card": programs[program_pk].name})
        if values["points"] and (member is None or _import_key(member.pk, "points") not in imported):
            changes.append(_("%(n)s points") % {"n": f"{values['points']:,}"})
        return changes


def preview(imp: MemberImport, data: bytes) -> dict:
    """What the first rows will do, as the worker would decide now."""
    plan = Plan(imp.shop, imp.mapping)
    first = []
    for numbered in data_rows(data, imp.filename, imp.encoding):
        first.append(numbered)
        if len(first) >= PREVIEW_ROWS:
            break
    rows = plan.check(first)
    counts = {outcome: sum(1 for row in rows if row.outcome == outcome) for outcome in OUTCOMES}
    return {"rows": rows, "counts": counts, "shown": len(rows)}


OUTCOMES = ("new", "matched", "unchanged", "rejected")


# Running ------------------------------------------------------------------------------------------


def file_of(imp: MemberImport) -> bytes:
    with default_storage.open(imp.file, "rb") as handle:
        return handle.read()


def upload(*, shop: Shop, user: User, data: bytes, filename: str, encoding: str) -> MemberImport:
    """Keep an upload that ``inspect`` accepted, for mapping and the worker; ImportFileError if not."""
    found = inspect(data, filename, encoding)
    name = default_storage.save(f"{FOLDER}/{secrets.token_hex(16)}.{found.kind}", ContentFile(data))
    imp = MemberImport.objects.create(
        shop=shop, created_by=user, filename=filename[-200:], file=name, encoding=found.encoding, header=found.header,
        rows=found.rows, sample=found.sample,
    )  # fmt: skip
    imp.mapping = guess_mapping(shop, found.header)
    imp.save(update_fields=["mapping"])
    return imp


def queue(imp: MemberImport, mapping: dict[str, int]) -> bool:
    """The owner confirmed the mapping: queued for the worker (the caller sends the task). False if it
    is queued or running already."""
    with transaction.atomic():
        locked = MemberImport.objects.select_for_update().get(pk=imp.pk)
        if locked.status not in (MemberImport.Status.UPLOADED, MemberImport.Status.FAILED):
            return False
        locked.mapping, locked.status, locked.error = mapping, MemberImport.Status.QUEUED, ""
        locked.processed, locked.counts = 0, {}
        locked.save(update_fields=["mapping", "status", "error", "processed", "counts"])
    imp.refresh_from_db()
    return True


def _aware(day: date | None, shop: Shop) -> datetime | None:
    return timezone.make_aware(datetime.combine(day, time(12)), shop.tz) if day else None


def _apply(plan: Plan, numbered: list[tuple[int, list]], imp: MemberImport, now) -> list[Row]:
    """One batch, one transaction: the rows checked again under the locks of the members they match."""
    shop = plan.shop
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Statements are prepared after a few runs (settings: prepare_threshold), and a generic plan
            # cannot use the partial unique indexes on phone and e-mail for "IN (…)": each batch's
            # look-ups would read the whole shop. Planned for their values, they read the index.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        rows = plan.check(numbered, lock=True)
        new = [row for row in rows if row.outcome == "new"]
        emails = {row.values["email"] for row in new if row.values["email"]}
        users = {user.email: user for user in User.objects.filter(email__in=emails)} if emails else {}
        created = Member.objects.bulk_create(
            [_new_member(row.values, shop, imp, users, now) for row in new]
        )  # fmt: skip
        for row, member in zip(new, created, strict=True):
            row.member = member
        touched = [row for row in rows if row.outcome in ("new", "matched")]
        _fill_blanks([row for row in touched if row.outcome == "matched"])
        vouchers = _post_balances(plan, touched, imp, now)
        imp.counts["vouchers"] = imp.counts.get("vouchers", 0) + vouchers
    return rows


def _new_member(values: dict, shop: Shop, imp: MemberImport, users: dict, now) -> Member:
    consent = values["consent"]
    joined = _aware(values["joined"], shop) or now
    return Member(
        shop=shop, name=values["name"], email=values["email"],
        email_canonical=canonical_email(values["email"]), phone=values["phone"], birthday=values["birthday"],
        language=values["language"] or shop.language, marketing_consent=consent, points=values["points"],
        consent_version="import" if consent else "", consent_at=now if consent else None,
        consent_method=ConsentMethod.IMPORT if consent else "", enrolled_by=imp.created_by, joined_at=joined,
        last_visit_at=_aware(values["last_visit"], shop), user=users.get(values["email"]),
    )  # fmt: skip


def _fill_blanks(rows: list[Row]) -> None:
    """A matched member keeps what they have; the file only fills what is empty."""
    for row in rows:
        member, values = row.member, row.values
        update = {}
        for key in ("email", "phone", "birthday"):
            if values[key] and not getattr(member, key):
                update[key] = values[key]
        last = values["last_visit"]
        if last and (member.last_visit_at is None or member.last_visit_at.date() < last):
            update["last_visit_at"] = _aware(last, member.shop)
        if update:
            for key, value in update.items():
                setattr(member, key, value)
            member.save(update_fields=list(update))


def _post_balances(plan: Plan, rows: list[Row], imp: MemberImport, now) -> int:
    """The rows' stamps and points as IMPORTED ledger rows, each at most once per member and card,
    and the balances they move; full cards become vouchers. Returns the vouchers issued."""
    members = [row.member for row in rows]
    done = set(
        LedgerEntry.objects.filter(shop=plan.shop, member__in=members, reason=Reason.IMPORTED).values_list(
            "idempotency_key", flat=True
        )
    )
    programs = {program.pk: program for program in plan.programs.values()}
    cards = {
        (card.member_id, card.program_id): card
        for card in MemberCard.objects.filter(member__in=members, program__in=programs)
    }
    # A new member's cards open with their imported stamps, as their points did (``_new_member``):
    # the rows below, in the same transaction, are what those balances are the sum of.
    new = {row.member.pk for row in rows if row.outcome == "new"}
    opening = {
        (row.member.pk, program_pk): stamps if row.member.pk in new else 0
        for row in rows
        for program_pk, stamps in row.values["stamps"].items()
        if (row.member.pk, program_pk) not in cards
    }
    for card in MemberCard.objects.bulk_create(
        [MemberCard(member_id=m, program_id=p, stamps=n) for (m, p), n in opening.items()]
    ):
        cards[(card.member_id, card.program_id)] = card
    entries = []
    note = _("From %(file)s, row %(row)s")
    for row in rows:
        member, group = row.member, uuid.uuid4()
        common = {"shop_id": plan.shop.pk, "member": member, "reason": Reason.IMPORTED, "group": group,
                  "staff": imp.created_by, "created_at": now}  # fmt: skip
        for program_pk, stamps in row.values["stamps"].items():
            key = _import_key(member.pk, f"card{program_pk}")
            if key not in done:
                card = cards[(member.pk, program_pk)]
                entries.append(LedgerEntry(**common, card=card, stamps=stamps, idempotency_key=key,
                                           note=(note % {"file": imp.filename, "row": row.number})[:200]))  # fmt: skip
        key = _import_key(member.pk, "points")
        if row.values["points"] and key not in done:
            entries.append(LedgerEntry(**common, points=row.values["points"], idempotency_key=key,
                                       note=(note % {"file": imp.filename, "row": row.number})[:200]))  # fmt: skip
    LedgerEntry.objects.bulk_create(entries)
    _move_balances([entry for entry in entries if entry.member.pk not in new])
    vouchers = 0
    for entry in entries:
        if entry.card_id and entry.card.stamps >= programs[entry.card.program_id].stamps_needed:
            vouchers += len(
                complete_cards(
                    member=entry.member, card=entry.card, program=programs[entry.card.program_id], group=entry.group,
                    staff=imp.created_by, now=now,
                )
            )  # fmt: skip
    return vouchers


def _move_balances(entries: list[LedgerEntry]) -> None:
    """The cached balances that members who were there already see moved by the batch's rows: one
    UPDATE for the cards, one for the members."""
    cards: dict[int, int] = {}
    points: dict[int, int] = {}
    for entry in entries:
        if entry.stamps:
            cards[entry.card.pk] = cards.get(entry.card.pk, 0) + entry.stamps
            entry.card.stamps += entry.stamps
        if entry.points:
            points[entry.member.pk] = points.get(entry.member.pk, 0) + entry.points
            entry.member.points += entry.points
    if cards:
        moves = Case(*[When(pk=pk, then=Value(n)) for pk, n in cards.items()], output_field=IntegerField())
        MemberCard.objects.filter(pk__in=cards).update(stamps=F("stamps") + moves)
    if points:
        moves = Case(*[When(pk=pk, then=Value(n)) for pk, n in points.items()], output_field=IntegerField())
        Member.objects.filter(pk__in=points).update(points=F("points") + moves)


def _batches(numbered: Iterable[tuple[int, list]]) -> Iterator[list[tuple[int, list]]]:
    batch = []
    for item in numbered:
        batch.append(item)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def run(pk: int, now=None) -> MemberImport | None:
    """The worker's part: every row, batch by batch, each batch committed with the progress it made.
    Safe to run again (a lost worker's task redelivered): rows already imported change nothing."""
    claimed = MemberImport.objects.filter(
        pk=pk, status__in=[MemberImport.Status.QUEUED, MemberImport.Status.RUNNING]
    ).update(status=MemberImport.Status.RUNNING, started_at=now or timezone.now())
    if not claimed:
        return None
    imp = MemberImport.objects.select_related("shop", "created_by").get(pk=pk)
    imp.processed, imp.counts = 0, {}
    plan = Plan(imp.shop, imp.mapping)
    rejected: list[list] = []
    try:
        data = file_of(imp)
        if imp.file.endswith(".xlsx"):
            # Every cell read once before any batch commits: a formula the upload's quick scan could
            # not see stops the import with nothing changed.
            for _row in data_rows(data, imp.filename, imp.encoding):
                pass
        for batch in _batches(data_rows(data, imp.filename, imp.encoding)):
            rows = _apply_with_retry(plan, batch, imp, now or timezone.now())
            for row in rows:
                imp.counts[row.outcome] = imp.counts.get(row.outcome, 0) + 1
                if row.outcome == "rejected":
                    rejected.append([row.number, row.error, *row.raw])
            imp.processed += len(batch)
            MemberImport.objects.filter(pk=pk).update(processed=imp.processed, counts=imp.counts)
    except (ImportFileError, OSError) as error:
        MemberImport.objects.filter(pk=pk).update(status=MemberImport.Status.FAILED, error=str(error)[:300])
        return imp
    _finish(imp, rejected, now or timezone.now())
    return imp


def _apply_with_retry(plan: Plan, batch, imp: MemberImport, now) -> list[Row]:
    """A batch whose insert lost a race (a customer joining meanwhile, a code clash) runs once more:
    checked again, that customer is now a match."""
    seen = dict(plan.seen)
    try:
        return _apply(plan, batch, imp, now)
    except IntegrityError:
        plan.seen = seen
        return _apply(plan, batch, imp, now)


def _finish(imp: MemberImport, rejected: list[list], now) -> None:
    text = csv_text([_("row"), _("reason"), *imp.header], rejected) if rejected else ""
    with transaction.atomic():
        MemberImport.objects.filter(pk=imp.pk).update(
            status=MemberImport.Status.DONE, finished_at=now, rejected=text, file=""
        )
        AuditEntry.objects.create(
            shop=imp.shop, actor=imp.created_by, action=AuditEntry.Action.MEMBERS_IMPORTED, note=imp.filename[:200],
            created_at=now,
        )  # fmt: skip
    # The upload held personal data: once imported, only the rejected rows are kept, for a while.
    default_storage.delete(imp.file)
    imp.refresh_from_db()


def purge(now=None) -> int:
    """Uploads never run, and rejected rows, go after the days a copy of data is kept."""
    now = now or timezone.now()
    old = MemberImport.objects.filter(created_at__lt=now - timedelta(days=settings.DATA_DOWNLOAD_DAYS)).exclude(
        status__in=[MemberImport.Status.QUEUED, MemberImport.Status.RUNNING]
    )
    for name in old.exclude(file="").values_list("file", flat=True):
        default_storage.delete(name)
    return old.exclude(file="", rejected="").update(file="", rejected="")
