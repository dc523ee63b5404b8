"""A shop's members, its ledger, or the memberships and bundles it sold, for a period as a CSV or
XLSX file for its owner.

``export_request`` records what the owner asked for (with an entry in the audit trail) and wakes the
worker; ``prepare_due`` writes each file (the beat runs it every 15 minutes for any request whose
task was lost) and removes files older than ``settings.DATA_DOWNLOAD_DAYS``. Rows stream from the
database in chunks and go straight into a temporary file, so a shop with a million members or
twenty million ledger rows never sits in memory whole.

Column names are stable English identifiers and values such as a ledger row's reason are written in
English, whatever the language of whoever asked: other programs read these files. Text a
spreadsheet would read as a formula is neutralised (``members.spreadsheet.cell``); in an XLSX file
such a cell is also typed as text.
"""

import csv
import io
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from members.errors import Code, LoyaltyError
from members.models import AuditEntry, ConsentMethod, Member, Shop, ShopExport, User
from members.outbox import enqueue
from members.spreadsheet import BOM, FORMULA_START, cell

from .models import LedgerEntry, MemberCard, Membership, MembershipPlan, OverrideReason, StampProgram, Voucher
from .plan_figures import undone

FOLDER = "shop-exports"
PREPARE_TASK = "rewards.tasks.prepare_shop_exports"
# Rows fetched from the database at a time.
CHUNK = 2_000
# Requests of one shop waiting for the worker at a time: more would only queue the same work again.
PENDING_PER_SHOP = 5
# The dates a period may name: anything else is a typing mistake.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)
# One sheet of an XLSX file holds this many rows, its header included: a longer export continues on
# the next sheet.
XLSX_ROWS = 1_048_576

CONTENT_TYPES = {
    ShopExport.Format.CSV: "text/csv; charset=utf-8",
    ShopExport.Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

MEMBER_HEADER = [
    "code", "name", "email", "phone", "birthday", "language", "marketing_consent", "consent_at",
    "consent_method", "joined", "last_visit", "points", "tier",
]  # fmt: skip
# Then one "stamps:<card>" column per stamp card of the shop, then:
MEMBER_HEADER_END = ["vouchers_ready"]
MEMBER_FIELDS = [
    "code", "name", "email", "phone", "birthday", "language", "marketing_consent", "consent_at", "consent_method",
    "joined_at", "last_visit_at", "points", "tier__name",
]  # fmt: skip
LEDGER_HEADER = [
    "time", "member_code", "reason", "card", "stamps", "points", "amount", "voucher", "reward", "staff",
    "note", "undone", "override", "override_reason", "plan", "prepaid_items",
]  # fmt: skip
LEDGER_FIELDS = [
    "created_at", "member__code", "reason", "card__program__name", "stamps", "points", "money_amount",
    "voucher__code", "reward__name", "staff__email", "note", "undone", "override", "override_reason",
    "membership__plan__name", "items",
]  # fmt: skip

MEMBERSHIP_HEADER = [
    "member_code", "member_name", "plan", "kind", "trial", "sold_at", "starts", "ends", "price_paid",
    "payment_method", "receipt", "status", "items_total", "items_left", "refunded_amount", "renews",
    "early_renewal", "undone",
]  # fmt: skip
MEMBERSHIP_FIELDS = [
    "member__code", "member__name", "plan__name", "kind", "trial", "created_at", "starts_at", "ends_at",
    "price_paid", "payment_method", "receipt", "status", "items_total", "items_left", "refunded_amount",
    "renews_id", "early", "undone",
]  # fmt: skip


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _local(moment: datetime | None, tz) -> str:
    return timezone.localtime(moment, tz).isoformat(timespec="seconds") if moment else ""


def _within(field: str, export: ShopExport) -> Q:
    """``field`` within the export's period of the shop's days, both ends included."""
    tz, within = export.shop.tz, Q()
    if export.date_from:
        within &= Q(**{f"{field}__gte": datetime.combine(export.date_from, time.min, tzinfo=tz)})
    if export.date_to:
        within &= Q(**{f"{field}__lt": datetime.combine(export.date_to + timedelta(days=1), time.min, tzinfo=tz)})
    return within


def _members(export: ShopExport) -> tuple[list[str], Iterator[list]]:
    """One row per member present (erased members are not), joined within the period, oldest first."""
    shop = export.shop
    tz = shop.tz
    programs = list(StampProgram.objects.for_shop(shop).order_by("created_at", "pk").values_list("pk", "name"))
    now = timezone.now()
    ready = (
        Voucher.objects.filter(member=OuterRef("pk"), status=Voucher.Status.ISSUED)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by()
        .values("member")
        .annotate(count=Count("pk"))
        .values("count")
    )
    cards = {
        f"stamps_{n}": Coalesce(
            Subquery(MemberCard.objects.filter(member=OuterRef("pk"), program_id=pk).values("stamps")[:1]),
            0,
            output_field=IntegerField(),
        )
        for n, (pk, _name) in enumerate(programs)
    }
    members = (
        Member.objects.for_shop(shop)
        .filter(_within("joined_at", export))
        .annotate(vouchers_ready=Coalesce(Subquery(ready), 0, output_field=IntegerField()), **cards)
        .order_by("joined_at", "pk")
        .values_list(*MEMBER_FIELDS, *cards, "vouchers_ready")
    )
    methods = dict(ConsentMethod.choices)
    header = [*MEMBER_HEADER, *(f"stamps:{name}" for _pk, name in programs), *MEMBER_HEADER_END]

    def rows():
        for code, name, email, phone, birthday, language, consent, consent_at, method, *rest in members.iterator(
            chunk_size=CHUNK
        ):
            joined, last_visit, points, tier, *counts = rest
            yield [
                code, name, email, phone, birthday.isoformat() if birthday else "", language, _yes(consent),
                _local(consent_at, tz), str(methods.get(method, "")), _local(joined, tz), _local(last_visit, tz),
                points, tier or "", *counts,
            ]  # fmt: skip

    return header, rows()


def _ledger(export: ShopExport) -> tuple[list[str], Iterator[list]]:
    """Every ledger row of the shop written within the period, in the order written. An erased
    member's rows are there under their member code, which names nobody."""
    tz = export.shop.tz
    entries = (
        LedgerEntry.objects.for_shop(export.shop)
        .filter(_within("created_at", export))
        .annotate(undone=Exists(LedgerEntry.objects.filter(voids=OuterRef("pk"))))
        .order_by("created_at", "pk")
        .values_list(*LEDGER_FIELDS)
    )
    reasons = dict(LedgerEntry.Reason.choices)
    overrides = dict(OverrideReason.choices)

    def rows():
        for at, code, reason, card, stamps, points, amount, voucher, reward, staff, note, *flags in entries.iterator(
            chunk_size=CHUNK
        ):
            undone, override, override_reason, plan, items = flags
            yield [
                _local(at, tz), code, str(reasons.get(reason, reason)), card or "", stamps, points, amount,
                voucher or "", reward or "", staff or "", note, _yes(undone), _yes(override),
                str(overrides.get(override_reason, "")), plan or "", items,
            ]  # fmt: skip

    return list(LEDGER_HEADER), rows()


def _memberships(export: ShopExport) -> tuple[list[str], Iterator[list]]:
    """Every membership and bundle of the shop sold (or given as a free trial) within the period, in
    the order sold. A renewal is early when sold before the membership it continues ended; a sale
    undone at the counter is there, marked, as the ledger keeps its row. An erased member's are there
    under their member code, which names nobody."""
    tz = export.shop.tz
    early = ExpressionWrapper(
        Q(renews__isnull=False) & Q(created_at__lt=F("renews__ends_at")), output_field=BooleanField()
    )
    memberships = (
        Membership.objects.for_shop(export.shop)
        .filter(_within("created_at", export))
        .annotate(early=early, undone=undone())
        .order_by("created_at", "pk")
        .values_list(*MEMBERSHIP_FIELDS)
    )
    kinds = dict(MembershipPlan.Kind.choices)
    methods = dict(Membership.PaymentMethod.choices)
    statuses = dict(Membership.Status.choices)

    def rows():
        for code, name, plan, kind, trial, sold, starts, ends, price, method, receipt, *rest in memberships.iterator(
            chunk_size=CHUNK
        ):
            status, items_total, items_left, refunded, renews, early_renewal, was_undone = rest
            yield [
                code, name, plan, str(kinds.get(kind, kind)), _yes(trial), _local(sold, tz), _local(starts, tz),
                _local(ends, tz), price, str(methods.get(method, method)), receipt, str(statuses.get(status, status)),
                items_total, items_left, refunded, _yes(renews is not None), _yes(early_renewal), _yes(was_undone),
            ]  # fmt: skip

    return list(MEMBERSHIP_HEADER), rows()


BUILDERS = {
    ShopExport.Kind.MEMBERS: _members,
    ShopExport.Kind.LEDGER: _ledger,
    ShopExport.Kind.MEMBERSHIPS: _memberships,
}


def _write_csv(header: list, rows: Iterable[list], out) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    text.write(BOM)
    writer = csv.writer(text)
    writer.writerow([cell(value) for value in header])
    count = 0
    for row in rows:
        writer.writerow([cell(value) for value in row])
        count += 1
    text.flush()
    text.detach()  # the caller keeps the file open
    return count


def _xlsx_cell(sheet, value):
    # Characters XML cannot hold go first: what is left may start like a formula.
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    neutral = None if value is None else cell(value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        text = WriteOnlyCell(sheet, value=neutral)
        text.data_type = "s"  # text, whatever it looks like
        return text
    return neutral


def _write_xlsx(title: str, header: list, rows: Iterable[list], out) -> int:
    book = Workbook(write_only=True)
    sheet, count, filled = None, 0, XLSX_ROWS

    def new_sheet():
        sheet = book.create_sheet(title if not book.worksheets else f"{title}-{len(book.worksheets) + 1}")
        sheet.append([_xlsx_cell(sheet, value) for value in header])
        return sheet

    for row in rows:
        if filled >= XLSX_ROWS:
            sheet, filled = new_sheet(), 1
        sheet.append([_xlsx_cell(sheet, value) for value in row])
        filled += 1
        count += 1
    if sheet is None:
        new_sheet()
    book.save(out)
    return count


def write(export: ShopExport, out) -> int:
    """Write ``export``'s file into the binary file ``out``; returns its rows, the header not counted."""
    with translation.override("en"):
        header, rows = BUILDERS[export.kind](export)
        if export.format == ShopExport.Format.XLSX:
            return _write_xlsx(export.kind, header, rows, out)
        return _write_csv(header, rows, out)


def export_request(
    *, shop: Shop, user: User, kind: str, format: str, date_from: date | None = None, date_to: date | None = None
) -> ShopExport:
    """Ask the worker for a file of the shop's members, ledger or memberships sold, recorded in the
    audit trail."""
    if kind not in ShopExport.Kind.values or format not in ShopExport.Format.values:
        raise ValueError(f"Unknown export {kind!r} as {format!r}")
    for day in (date_from, date_to):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise LoyaltyError(_("Enter a date between 1900 and 2999."), code=Code.BAD_PERIOD)
    if date_from and date_to and date_to < date_from:
        raise LoyaltyError(_("The period ends before it starts."), code=Code.BAD_PERIOD)
    with transaction.atomic():
        # One request at a time per shop past this point, so two at once cannot both pass the count.
        Shop.objects.select_for_update().filter(pk=shop.pk).first()
        if ShopExport.objects.for_shop(shop).filter(ready_at__isnull=True).count() >= PENDING_PER_SHOP:
            raise LoyaltyError(
                _("%(count)d exports are being prepared already. Wait until one is ready.")
                % {"count": PENDING_PER_SHOP},
                code=Code.TOO_MANY,
            )
        export = ShopExport.objects.create(
            shop=shop, requested_by=user, kind=kind, format=format, date_from=date_from, date_to=date_to
        )
        AuditEntry.objects.create(
            shop=shop, actor=user, action=AuditEntry.Action.MEMBERS_EXPORTED, created_at=export.requested_at,
            note=_audit_note(export),
        )  # fmt: skip
        enqueue(PREPARE_TASK)
    return export


def _audit_note(export: ShopExport) -> str:
    """What was exported, for the audit trail: in English like the file's columns (a note is kept as
    written, and is read in whatever language the owner uses later)."""
    start = export.date_from.isoformat() if export.date_from else "start"
    end = export.date_to.isoformat() if export.date_to else "today"
    return f"{export.kind}, {export.format}, {start} to {end}"


def prepare_due(now=None) -> int:
    """Write every requested export not ready yet, one transaction each (a parallel run skips the
    rows this one holds), then remove old ones. Returns the exports prepared."""
    now = now or timezone.now()
    prepared = 0
    due = ShopExport.objects.filter(ready_at__isnull=True).order_by("requested_at", "pk")
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            export = (
                ShopExport.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("shop")
                .filter(pk=pk, ready_at__isnull=True)
                .first()
            )
            if export is None:
                continue
            with tempfile.TemporaryFile() as out:
                rows = write(export, out)
                out.seek(0)
                name = default_storage.save(f"{FOLDER}/{secrets.token_hex(16)}.{export.format}", File(out))
            export.file, export.ready_at, export.rows = name, now, rows
            export.save(update_fields=["file", "ready_at", "rows"])
        prepared += 1
    purge(now)
    return prepared


def purge(now) -> int:
    """Exports older than their days go, file and row; so does a request the worker never managed
    to prepare in that time (it would hold a place among the shop's pending ones for ever)."""
    cutoff = now - timedelta(days=settings.DATA_DOWNLOAD_DAYS)
    old = ShopExport.objects.filter(Q(ready_at__lt=cutoff) | Q(ready_at__isnull=True, requested_at__lt=cutoff))
    names = [name for name in old.values_list("file", flat=True) if name]
    removed = old.delete()[0]
    for name in names:
        default_storage.delete(name)
    return removed


def download_name(export: ShopExport) -> str:
    """demo-cafe-members-2026-11-29.xlsx: the shop, what, and the day it was asked for."""
    day = timezone.localtime(export.requested_at, export.shop.tz).date().isoformat()
    return f"{export.shop.slug}-{export.kind}-{day}.{export.format}"
