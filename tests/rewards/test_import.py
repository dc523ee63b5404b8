"""An owner imports members from a spreadsheet: through the pages, as an owner does it, and what
the counter shows afterwards. Hostile and careless files are refused with a reason and change
nothing; rows that cannot be imported are listed with theirs; running a file twice changes
nothing the second time."""

import csv
import io
import re
import zipfile
from datetime import date, timedelta

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from members.models import AuditEntry, ConsentMethod, Member, MemberImport
from rewards import imports
from rewards.models import LedgerEntry, MemberCard, Voucher

from ..factories import MemberFactory, PointsRuleFactory, ShopFactory, StaffFactory

HEADER = ["Name", "E-mail", "Phone", "Birthday", "Points", "Stamps", "Joined", "Newsletter"]
ROWS = [
    ["林美玲", "meiling@example.com", "0912 345 678", "1990-03-12", "120", "4", "2024-01-05", "yes"],
    ["Tom Wu", "", "0922-111-222", "", "0", "9", "2025/06/30", "no"],
    ["Ann Lee", "ann@example.com", "", "", "35", "", "", ""],
]


def csv_bytes(header, rows, encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(header, rows, formula_at=None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    if formula_at:
        sheet[formula_at] = "=SUM(E2:E3)"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, shop, data: bytes, name="members.csv", encoding="auto"):
    url = reverse("rewards:import_start", args=[shop.slug])
    return client.post(url, {"file": SimpleUploadedFile(name, data), "encoding": encoding})


def detail_url(imp):
    return reverse("rewards:import_detail", args=[imp.shop.slug, imp.public_id])


def mapping_post(imp, **overrides):
    """The mapping form as the page shows it (what was guessed), with changes."""
    data = {key: str(column) for key, column in imp.mapping.items()}
    data.update(overrides)
    return data


@pytest.fixture
def shop(world, program):
    PointsRuleFactory(shop=world.shop, is_active=True, step_amount=10)
    return world.shop


def run_import(client, shop, data, name="members.csv", **mapping) -> MemberImport:
    response = upload(client, shop, data, name)
    assert response.status_code == 302, response.content.decode()[:2000]
    imp = MemberImport.objects.get(shop=shop, public_id=response.url.rstrip("/").split("/")[-1])
    response = client.post(detail_url(imp), {**mapping_post(imp, **mapping), "action": "run"})
    assert response.status_code == 302
    imp.refresh_from_db()
    return imp


def test_an_owner_imports_a_sheet_and_the_counter_finds_the_members_with_their_balances(world, shop, program):
    client = world.client(world.alice)
    response = upload(client, shop, csv_bytes(HEADER, ROWS))
    imp = MemberImport.objects.get(shop=shop)
    assert response.url == detail_url(imp)
    # The usual column names were recognised; the single card's stamps too.
    assert imp.mapping == {
        "name": 0, "email": 1, "phone": 2, "birthday": 3, "points": 4, f"stamps:{program.public_id}": 5,
        "joined": 6, "consent": 7,
    }  # fmt: skip
    page = client.get(detail_url(imp)).content.decode()
    assert "林美玲" in page or "meiling@example.com" in page  # the first row's values help choosing

    preview = client.post(detail_url(imp), {**mapping_post(imp), "action": "preview"})
    text = preview.content.decode()
    assert preview.status_code == 200
    assert "New members: 3" in text and "120 points" in text and "9 stamps" in text
    assert not Member.objects.filter(shop=shop).exists()  # a preview changes nothing

    response = client.post(detail_url(imp), {**mapping_post(imp), "action": "run"})
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == MemberImport.Status.DONE
    assert imp.counts == {"new": 3, "vouchers": 0}
    assert imp.file == ""  # the upload is gone once imported

    meiling = Member.objects.get(shop=shop, email="meiling@example.com")
    assert meiling.phone == "+886912345678" and meiling.birthday == date(1990, 3, 12)
    assert meiling.points == 120 and meiling.marketing_consent and meiling.consent_method == ConsentMethod.IMPORT
    assert meiling.joined_at.date() == date(2024, 1, 5)
    assert MemberCard.objects.get(member=meiling, program=program).stamps == 4
    rows = LedgerEntry.objects.filter(member=meiling)
    assert {(r.reason, r.stamps, r.points, r.staff_id) for r in rows} == {
        ("imported", 4, 0, world.alice.pk), ("imported", 0, 120, world.alice.pk)
    }  # fmt: skip
    assert AuditEntry.objects.filter(shop=shop, action=AuditEntry.Action.MEMBERS_IMPORTED).count() == 1

    # What staff see at the counter: the member found by the phone in the sheet, with the balances.
    counter = world.client(world.carol)
    found = counter.get(reverse("rewards:counter", args=[shop.slug]), {"q": "0912345678"}, follow=True)
    text = found.content.decode()
    assert "林美玲" in text and "120" in text
    assert MemberCard.objects.get(member__phone="+886922111222").stamps == 9


def test_the_same_file_again_changes_nothing(world, shop):
    client = world.client(world.alice)
    run_import(client, shop, csv_bytes(HEADER, ROWS))
    ledger = LedgerEntry.objects.count()
    again = run_import(client, shop, csv_bytes(HEADER, ROWS))
    assert again.counts == {"unchanged": 3, "vouchers": 0}
    assert LedgerEntry.objects.count() == ledger and Member.objects.filter(shop=shop).count() == 3


def test_a_worker_lost_mid_import_runs_again_without_counting_twice(world, shop):
    client = world.client(world.alice)
    imp = run_import(client, shop, csv_bytes(HEADER, ROWS))
    before = (LedgerEntry.objects.count(), Member.objects.count())
    MemberImport.objects.filter(pk=imp.pk).update(status=MemberImport.Status.RUNNING, file=imp.file or "x")
    # The redelivered task finds no file (deleted when done) and says so, changing nothing.
    imports.run(imp.pk)
    assert (LedgerEntry.objects.count(), Member.objects.count()) == before


def test_a_match_is_completed_never_overwritten(world, shop, program):
    tom = MemberFactory(shop=shop, name="Tom (regular)", phone="+886922111222", email="", birthday=None)
    imp = run_import(world.client(world.alice), shop, csv_bytes(HEADER, ROWS[1:2]))
    assert imp.counts == {"matched": 1, "vouchers": 0}
    tom.refresh_from_db()
    assert tom.name == "Tom (regular)"
    assert MemberCard.objects.get(member=tom, program=program).stamps == 9


def test_a_full_card_becomes_a_voucher(world, shop, program):
    imp = run_import(
        world.client(world.alice), shop, csv_bytes(HEADER, [["Zoe", "zoe@example.com", "", "", "", "23", "", ""]])
    )
    zoe = Member.objects.get(email="zoe@example.com")
    assert imp.counts["vouchers"] == 2
    assert Voucher.objects.filter(member=zoe, status=Voucher.Status.ISSUED).count() == 2
    assert MemberCard.objects.get(member=zoe).stamps == 23 - 2 * program.stamps_needed


def test_bad_rows_are_rejected_with_their_reason_and_downloadable(world, shop):
    rows = [
        ROWS[0],
        ["No Contact", "", "", "", "5", "1", "", ""],
        ["Typo", "typo@example.com", "", "", "100000000", "", "", ""],
        ["Bad Mail", "not-an-address", "", "", "", "", "", ""],
        ['=HYPERLINK("http://x")', "evil@example.com", "", "", "", "", "", ""],
        ["Future", "future@example.com", "", "", "", "", "2999-01-01", ""],
        ["Twice", "MEILING@example.com", "", "", "", "", "", ""],
        ["Maybe", "maybe@example.com", "", "", "", "", "", "perhaps"],
        ["Half", "half@example.com", "", "", "2.5", "", "", ""],
    ]
    client = world.client(world.alice)
    imp = run_import(client, shop, csv_bytes(HEADER, rows))
    assert imp.counts == {"new": 1, "rejected": 8, "vouchers": 0}
    assert Member.objects.filter(shop=shop).count() == 1
    response = client.get(reverse("rewards:import_rejected", args=[shop.slug, imp.public_id]))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    text = response.content.decode("utf-8-sig")
    found = {line[2]: line[1] for line in csv.reader(io.StringIO(text)) if line and line[0].isdigit()}
    assert "No e-mail, phone or member code" in found["No Contact"]
    assert "100,000,000 is more than 100,000" in found["Typo"]
    assert "not an e-mail address" in found["Bad Mail"]
    assert "formula" in found['\'=HYPERLINK("http://x")']  # and the cell written back is neutralised
    assert "in the future" in found["Future"]
    assert "same person as row 2" in found["Twice"]
    assert "yes or no" in found["Maybe"]
    assert "whole number" in found["Half"]


def test_a_sheet_from_excel_with_dates_and_numbers(world, shop, program):
    rows = [["Ivy", "ivy@example.com", 912000111, date(1985, 7, 1), 40, 2, date(2023, 5, 1), "Y"]]
    imp = run_import(world.client(world.alice), shop, xlsx_bytes(HEADER, rows), name="members.xlsx")
    ivy = Member.objects.get(email="ivy@example.com")
    assert imp.counts["new"] == 1
    # Excel drops the leading 0 of a Taiwanese mobile: the number is still understood.
    assert ivy.phone == "+886912000111" and ivy.birthday == date(1985, 7, 1) and ivy.points == 40


@pytest.mark.parametrize(
    ("data", "name", "encoding", "message"),
    [
        (xlsx_bytes(HEADER, ROWS, formula_at="E4"), "m.xlsx", "auto", "Cell E4 holds a formula"),
        (csv_bytes(HEADER, ROWS, "big5"), "m.csv", "utf-8", "It reads as Big5"),
        (b"Name,Email\nA\x00B,a@example.com\n", "m.csv", "auto", "binary data"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "m.xls", "auto", "old Excel file"),
        (b"PK\x03\x04 not really a zip", "m.xlsx", "auto", "not a readable Excel file"),
        (b"Name,Email\n", "m.csv", "auto", "no members under it"),
        (b"", "m.csv", "auto", "empty"),
    ],
)
def test_hostile_and_careless_files_are_refused_with_a_reason_and_change_nothing(
    world, shop, data, name, encoding, message
):
    response = upload(world.client(world.alice), shop, data, name, encoding)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MemberImport.objects.exists() and not Member.objects.exists()


def test_big5_from_taiwanese_excel_is_read_when_asked_or_found(world, shop):
    imp = run_import(world.client(world.alice), shop, csv_bytes(HEADER, ROWS, "big5"))
    assert imp.encoding == "big5"
    assert Member.objects.filter(name="林美玲").exists()


def test_a_zip_bomb_posing_as_excel_is_refused(world, shop):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("[Content_Types].xml", "<Types/>")
        bomb.writestr("xl/worksheets/sheet1.xml", b"0" * (60 * 1024 * 1024))
    response = upload(world.client(world.alice), shop, out.getvalue(), "bomb.xlsx")
    assert response.status_code == 400 and "unpacks to far more" in response.content.decode()
    assert not MemberImport.objects.exists()


def test_huge_files_are_refused(world, shop, monkeypatch):
    client = world.client(world.alice)
    monkeypatch.setattr(imports, "MAX_ROWS", 2)
    assert "more than 2 rows" in upload(client, shop, csv_bytes(HEADER, ROWS)).content.decode()
    monkeypatch.setattr(imports, "MAX_BYTES", 100)
    assert "larger than" in upload(client, shop, csv_bytes(HEADER, ROWS)).content.decode()
    assert not MemberImport.objects.exists()


def test_the_mapping_is_remembered_for_the_shops_next_file(world, shop):
    client = world.client(world.alice)
    header = ["Kundenname", "Handy", "Post"]
    upload(client, shop, csv_bytes(header, [["Eva", "0933000111", "eva@example.com"]]))
    first = MemberImport.objects.get()
    assert first.mapping == {}  # nothing recognised: the owner maps by hand
    response = client.post(detail_url(first), {"name": "0", "phone": "1", "email": "2", "action": "preview"})
    assert response.status_code == 200
    # The next file has the same columns in another order.
    upload(client, shop, csv_bytes(["Post", "Kundenname", "Handy"], [["ida@example.com", "Ida", "0933000222"]]))
    second = MemberImport.objects.exclude(pk=first.pk).get()
    assert second.mapping == {"name": 1, "phone": 2, "email": 0}


def test_a_mapping_needs_a_name_and_a_way_to_match_and_one_column_per_field(world, shop):
    client = world.client(world.alice)
    upload(client, shop, csv_bytes(HEADER, ROWS))
    imp = MemberImport.objects.get()
    response = client.post(detail_url(imp), {"name": "0", "action": "run"})
    assert (
        response.status_code == 400 and "e-mail addresses, phone numbers or member codes" in response.content.decode()
    )
    response = client.post(detail_url(imp), {"name": "0", "email": "0", "action": "run"})
    assert response.status_code == 400 and "one field only" in response.content.decode()
    response = client.post(detail_url(imp), {"name": "99", "email": "1", "action": "run"})
    assert response.status_code == 400
    imp.refresh_from_db()
    assert imp.status == MemberImport.Status.UPLOADED and not Member.objects.exists()


def test_only_the_shops_owner_imports(world, shop):
    upload(world.client(world.alice), shop, csv_bytes(HEADER, ROWS))
    imp = MemberImport.objects.get()
    start = reverse("rewards:import_start", args=[shop.slug])
    assert world.client(world.bob).get(start).status_code == 403
    other_owner = StaffFactory(shop=ShopFactory(), role="owner").user
    other = world.client(other_owner)
    other_shop = other_owner.staff_roles.get().shop if hasattr(other_owner, "staff_roles") else None
    assert other.get(detail_url(imp)).status_code == 404
    assert other.post(detail_url(imp), {"action": "run"}).status_code == 404
    if other_shop is not None:
        foreign = reverse("rewards:import_detail", args=[other_shop.slug, imp.public_id])
        assert other.get(foreign).status_code == 404
    imp.refresh_from_db()
    assert imp.status == MemberImport.Status.UPLOADED


def test_import_pages_query_counts(world, shop, django_assert_num_queries):
    client = world.client(world.alice)
    imp = run_import(client, shop, csv_bytes(HEADER, ROWS))
    # The signed-in owner's role at the shop, their shops for the menu, and the imports.
    with django_assert_num_queries(3):
        client.get(reverse("rewards:import_start", args=[shop.slug]))
    # The shop, the owner's role, the import, their shops for the menu.
    with django_assert_num_queries(4):
        client.get(detail_url(imp))


def test_uploads_and_rejected_rows_go_after_their_days(world, shop, settings):
    client = world.client(world.alice)
    done = run_import(client, shop, csv_bytes(HEADER, [ROWS[0], ["No Contact", "", "", "", "", "", "", ""]]))
    upload(client, shop, csv_bytes(HEADER, ROWS))
    waiting = MemberImport.objects.get(status=MemberImport.Status.UPLOADED)
    assert done.rejected and waiting.file
    later = timezone.now() + timedelta(days=settings.DATA_DOWNLOAD_DAYS + 1)
    assert imports.purge(now=later) == 2
    done.refresh_from_db()
    assert done.rejected == "" and not default_storage.exists(waiting.file)
    assert client.get(reverse("rewards:import_rejected", args=[shop.slug, done.public_id])).status_code == 404
    # The waiting import says what happened to its file instead of failing.
    page = client.get(detail_url(waiting))
    assert page.status_code == 200 and "no longer here" in page.content.decode()


def test_an_export_imported_back_fills_details_and_never_counts_balances_twice(world, shop, program):
    """A careless owner imports the shop's own export: members are matched by code, nothing doubles."""
    mia = MemberFactory(shop=shop, name="Mia", phone="+886912000333", email="", points=0)
    card = MemberCard.objects.create(member=mia, program=program)
    header = ["code", "name", "email", "phone", "birthday", "joined", "points", f"stamps:{program.name}"]
    rows = [[mia.code, "Mia", "mia@example.com", "'+886912000333", "1991-04-02", "2025-01-05T10:00:00+08:00", 50, 4]]
    imp = run_import(world.client(world.alice), shop, csv_bytes(header, rows))
    assert imp.mapping["code"] == 0 and imp.mapping[f"stamps:{program.public_id}"] == 7
    assert imp.counts == {"matched": 1, "vouchers": 0}
    mia.refresh_from_db()
    card.refresh_from_db()
    assert (mia.email, mia.phone, mia.birthday) == ("mia@example.com", "+886912000333", date(1991, 4, 2))
    assert mia.points == 0 and card.stamps == 0 and not LedgerEntry.objects.filter(member=mia).exists()


def test_an_excel_formula_the_uploads_quick_look_missed_stops_the_worker_with_nothing_changed(world, shop, monkeypatch):
    client = world.client(world.alice)
    monkeypatch.setattr(imports, "XML_FORMULA", re.compile(rb"(?!)"))  # a scan that sees nothing
    response = upload(client, shop, xlsx_bytes(HEADER, ROWS, formula_at="E4"), "m.xlsx")
    imp = MemberImport.objects.get(public_id=response.url.rstrip("/").split("/")[-1])
    assert imp.rows == 3
    response = client.post(detail_url(imp), {**mapping_post(imp), "action": "run"})
    imp.refresh_from_db()
    assert imp.status == MemberImport.Status.FAILED and "Cell E4 holds a formula" in imp.error
    assert not Member.objects.exists() and not LedgerEntry.objects.exists()
    # The page says why, and the owner can fix the file.
    assert "Cell E4 holds a formula" in client.get(detail_url(imp)).content.decode()


def test_rows_without_values_in_an_excel_sheet_are_not_counted(world, shop):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(ROWS[0])
    sheet["A10"].number_format = "0.00"  # a formatted, empty row
    sheet.append(ROWS[1])
    out = io.BytesIO()
    book.save(out)
    response = upload(world.client(world.alice), shop, out.getvalue(), "m.xlsx")
    assert response.status_code == 302
    assert MemberImport.objects.get().rows == 2
