"""An owner takes the shop's members and ledger out: asked for on the exports page, prepared by the
worker, downloaded as CSV or XLSX with formula cells neutralised, for a period of the shop's days.
Erased members are not in the members file; their ledger rows are, naming nobody."""

import csv
import io
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from members.errors import Code, LoyaltyError
from members.models import AuditEntry, ConsentMethod, Member, ShopExport
from members.services import member_erase, shop_delete
from rewards import export
from rewards import services as rewards
from rewards.ledger import lock_member
from rewards.models import LedgerEntry, MembershipPlan

from ..conftest import key
from ..factories import MemberFactory, StampProgramFactory, TierFactory, VoucherFactory

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only")
TAIPEI = ZoneInfo("Asia/Taipei")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def exports_page(shop):
    return reverse("rewards:export_list", args=[shop.slug])


def download_url(shop, item):
    return reverse("rewards:export_download", args=[shop.slug, item.public_id])


def ask(client, shop, capture, **data):
    """Ask for an export on the page; the task queued after the commit prepares it (eager in tests)."""
    with capture(execute=True):
        response = client.post(exports_page(shop), {"kind": "members", "format": "csv", **data})
    return response


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def csv_rows(response) -> list[list[str]]:
    raw = body(response)
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM, so spreadsheets read UTF-8 (Chinese names)
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def xlsx_book(response):
    return openpyxl.load_workbook(io.BytesIO(body(response)))


@pytest.fixture
def pastry(world):
    return StampProgramFactory(shop=world.shop, name="Pastry card", reward="Free croissant",
                               min_minutes_between_visits=0)  # fmt: skip


@pytest.fixture
def regulars(world, program, pastry, member):
    """Mia with stamps on both cards, points, a tier, a voucher ready and consent; a member whose
    name a spreadsheet would run as a formula; and Ben, who left and was erased."""
    gold = TierFactory(shop=world.shop, name="Gold", threshold=50)
    Member.objects.filter(pk=member.pk).update(
        points=0, tier=gold, marketing_consent=True, consent_at=timezone.now(), consent_method=ConsentMethod.FORM,
        phone="+886912345678", birthday=date(1990, 5, 17),
    )  # fmt: skip
    rewards.stamp_add(member=member, program=program, count=3, staff=world.carol, idempotency_key=key())
    rewards.stamp_add(member=member, program=pastry, count=1, staff=world.carol, idempotency_key=key())
    VoucherFactory(shop=world.shop, member=member, program=program, title="Free latte")
    VoucherFactory(shop=world.shop, member=member, program=program, title="Old latte",
                   expires_at=timezone.now() - timedelta(days=1))  # fmt: skip
    evil = MemberFactory(shop=world.shop, name='=HYPERLINK("x")', email="evil@example.com")
    ben = MemberFactory(shop=world.shop, name="Ben Leaving", email="ben@example.com")
    rewards.stamp_add(member=ben, program=program, count=2, staff=world.carol, idempotency_key=key())
    member_erase(member=ben, by=world.alice)
    member.refresh_from_db()
    return {"mia": member, "evil": evil, "ben": Member.all_objects.get(pk=ben.pk)}


def test_the_owner_asks_for_the_members_as_xlsx_and_downloads_them(
    world, alice_client, regulars, django_capture_on_commit_callbacks
):
    response = ask(alice_client, world.shop, django_capture_on_commit_callbacks, format="xlsx")
    assert response.status_code == 302 and response["Location"] == exports_page(world.shop)

    item = ShopExport.objects.get()
    assert (item.shop, item.requested_by, item.kind, item.format) == (world.shop, world.alice, "members", "xlsx")
    assert item.ready_at is not None and item.rows == 2 and item.file.startswith("shop-exports/")
    assert item.file.endswith(".xlsx") and default_storage.exists(item.file)

    page = alice_client.get(exports_page(world.shop)).content.decode()
    assert download_url(world.shop, item) in page and "2 rows" in page
    assert "every 3s" not in page  # nothing left being prepared: the list stops asking

    response = alice_client.get(download_url(world.shop, item))
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    today = timezone.localdate(timezone=TAIPEI).isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="alices-cafe-members-{today}.xlsx"'
    assert response["Cache-Control"] == "private, no-store"

    book = xlsx_book(response)
    assert book.sheetnames == ["members"]
    rows = list(book["members"].iter_rows())
    header = [c.value for c in rows[0]]
    assert header == [
        "code", "name", "email", "phone", "birthday", "language", "marketing_consent", "consent_at",
        "consent_method", "joined", "last_visit", "points", "tier", "stamps:Coffee card", "stamps:Pastry card",
        "vouchers_ready",
    ]  # fmt: skip
    by_code = {row[0].value: {name: c.value for name, c in zip(header, row, strict=True)} for row in rows[1:]}
    mia = by_code[regulars["mia"].code]
    # A phone number starts with "+", as a formula may: it too is text with an apostrophe first.
    assert (mia["name"], mia["email"], mia["phone"], mia["birthday"]) == (
        "Mia Chen", regulars["mia"].email, "'+886912345678", "1990-05-17"
    )  # fmt: skip
    assert (mia["marketing_consent"], mia["consent_method"], mia["tier"]) == (
        "yes", "Ticked the box on the join form", "Gold"
    )  # fmt: skip
    assert (mia["stamps:Coffee card"], mia["stamps:Pastry card"], mia["vouchers_ready"]) == (3, 1, 1)
    assert mia["joined"].endswith("+08:00")  # the shop's local time
    # A name a spreadsheet would run stays text: typed as a string, and neutralised.
    evil_row = next(row for row in rows[1:] if row[0].value == regulars["evil"].code)
    assert evil_row[1].data_type == "s" and evil_row[1].value == '\'=HYPERLINK("x")'
    assert not any(c.data_type == "f" for row in rows for c in row)
    # Ben was erased: not in the members file at all.
    assert regulars["ben"].code not in by_code

    entry = AuditEntry.objects.get(shop=world.shop, action=AuditEntry.Action.MEMBERS_EXPORTED)
    assert (entry.actor, entry.note) == (world.alice, "members, xlsx, start to today")


def test_the_ledger_as_csv_names_staff_marks_undone_rows_and_neutralises_notes(
    world, alice_client, program, regulars, django_capture_on_commit_callbacks
):
    mia, ben = regulars["mia"], regulars["ben"]
    stamped = rewards.stamp_add(member=mia, program=program, count=1, staff=world.carol, idempotency_key=key())
    rewards.action_undo(shop=world.shop, group=stamped.group, staff=world.bob, idempotency_key=key())
    rewards.stamps_adjust(member=mia, program=program, stamps=1, note="=cmd|' /C calc'!A0", staff=world.bob,
                          idempotency_key=key())  # fmt: skip

    ask(alice_client, world.shop, django_capture_on_commit_callbacks, kind="ledger")
    item = ShopExport.objects.get()
    response = alice_client.get(download_url(world.shop, item))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].endswith(f'-ledger-{timezone.localdate(timezone=TAIPEI)}.csv"')

    rows = csv_rows(response)
    assert rows[0] == export.LEDGER_HEADER
    assert len(rows) - 1 == item.rows == LedgerEntry.objects.filter(shop=world.shop).count()
    table = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    undone = [row for row in table if row["undone"] == "yes"]
    assert len(undone) == 1 and undone[0]["reason"] == "Visit" and undone[0]["staff"] == "carol@example.com"
    assert undone[0]["card"] == "Coffee card" and undone[0]["time"].endswith("+08:00")
    assert any(row["reason"] == "Undone" and row["staff"] == "bob@example.com" for row in table)
    # The note a spreadsheet would run starts with an apostrophe.
    adjusted = next(row for row in table if row["reason"] == "Adjustment")
    assert adjusted["note"] == "'=cmd|' /C calc'!A0"
    # Ben's rows are there under his code, which names nobody; nothing of his personal data is.
    assert {row["reason"] for row in table if row["member_code"] == ben.code} == {"Visit", "Left the program"}
    text = "\n".join(",".join(row) for row in rows)
    assert "Ben Leaving" not in text and "ben@example.com" not in text


def test_the_period_is_in_the_shops_days(world, alice_client, program, django_capture_on_commit_callbacks):
    """Taipei is eight hours ahead of UTC: 1 November begins there at 16:00 UTC on 31 October."""

    def at(*args):
        return datetime(*args, tzinfo=TAIPEI)

    moments = {
        "before": at(2026, 10, 31, 23, 30),
        "first": at(2026, 11, 1, 0, 30),
        "last": at(2026, 11, 30, 23, 59),
        "after": at(2026, 12, 1, 0, 0),
    }
    members = {}
    for label, moment in moments.items():
        members[label] = MemberFactory(shop=world.shop, name=label, joined_at=moment)
        with time_machine.travel(moment, tick=False):
            rewards.stamp_add(member=members[label], program=program, count=1, staff=world.carol,
                              idempotency_key=key())  # fmt: skip

    ask(alice_client, world.shop, django_capture_on_commit_callbacks, date_from="2026-11-01", date_to="2026-11-30")
    ask(alice_client, world.shop, django_capture_on_commit_callbacks, kind="ledger", format="xlsx",
        date_from="2026-11-01", date_to="2026-11-30")  # fmt: skip
    ask(alice_client, world.shop, django_capture_on_commit_callbacks, date_from="2026-11-30")
    members_file, ledger_file, from_last = ShopExport.objects.order_by("pk")

    rows = csv_rows(alice_client.get(download_url(world.shop, members_file)))
    assert sorted(row[1] for row in rows[1:]) == ["first", "last"]
    book = xlsx_book(alice_client.get(download_url(world.shop, ledger_file)))
    codes = [row[1] for row in book["ledger"].iter_rows(min_row=2, values_only=True)]
    assert codes == [members["first"].code, members["last"].code]
    assert next(book["ledger"].iter_rows(min_row=2, values_only=True))[0] == "2026-11-01T00:30:00+08:00"
    rows = csv_rows(alice_client.get(download_url(world.shop, from_last)))
    assert sorted(row[1] for row in rows[1:]) == ["after", "last"]


def test_a_long_xlsx_goes_on_over_more_sheets(world, program, member, monkeypatch):
    """A sheet holds 1,048,576 rows: a longer ledger continues on the next sheet, header first."""
    for _n in range(5):
        rewards.stamp_add(member=member, program=program, count=1, staff=world.carol, idempotency_key=key())
    monkeypatch.setattr(export, "XLSX_ROWS", 3)
    item = export.export_request(shop=world.shop, user=world.alice, kind="ledger", format="xlsx")
    assert export.prepare_due() == 1
    item.refresh_from_db()
    book = openpyxl.load_workbook(default_storage.open(item.file, "rb"))
    assert book.sheetnames == ["ledger", "ledger-2", "ledger-3"]
    sizes = [book[name].max_row for name in book.sheetnames]
    assert sizes == [3, 3, 2] and item.rows == 5
    assert all(book[name]["A1"].value == "time" for name in book.sheetnames)


def test_an_empty_export_is_a_header(world):
    item = export.export_request(shop=world.shop, user=world.alice, kind="members", format="xlsx")
    export.prepare_due()
    item.refresh_from_db()
    book = openpyxl.load_workbook(default_storage.open(item.file, "rb"))
    assert [c.value for c in book["members"][1]][:2] == ["code", "name"] and item.rows == 0


def test_the_page_lists_what_is_being_prepared_and_asks_again(world, alice_client, member):
    """The request's task is lost (a broker down): the page says it is being prepared and polls; the
    beat's run prepares it."""
    response = alice_client.post(exports_page(world.shop), {"kind": "ledger", "format": "xlsx"}, follow=True)
    page = response.content.decode()
    assert "The export is being prepared" in page and "Being prepared" in page
    assert 'data-hx-trigger="every 3s"' in page
    fragment = alice_client.get(exports_page(world.shop), HTTP_HX_REQUEST="true").content.decode()
    assert fragment.strip().startswith('<div id="exports"') and "<h1>" not in fragment

    item = ShopExport.objects.get()
    assert alice_client.get(download_url(world.shop, item)).status_code == 404  # not ready yet
    assert export.prepare_due() == 1
    assert export.prepare_due() == 0  # nothing prepared twice
    assert alice_client.get(download_url(world.shop, item)).status_code == 200


def test_old_exports_are_removed_and_gone(world, alice_client, member, django_capture_on_commit_callbacks):
    ask(alice_client, world.shop, django_capture_on_commit_callbacks)
    item = ShopExport.objects.get()
    url = download_url(world.shop, item)
    assert alice_client.get(url).status_code == 200

    # Past its days the file is not served, even before the purge runs.
    ShopExport.objects.filter(pk=item.pk).update(ready_at=item.ready_at - timedelta(days=settings.DATA_DOWNLOAD_DAYS))
    assert alice_client.get(url).status_code == 404
    assert export.purge(timezone.now()) == 1
    assert not default_storage.exists(item.file) and not ShopExport.objects.exists()
    assert alice_client.get(url).status_code == 404

    # A request the worker never prepared does not hold its place for ever.
    stuck = export.export_request(shop=world.shop, user=world.alice, kind="members", format="csv")
    assert export.purge(timezone.now()) == 0
    assert export.purge(stuck.requested_at + timedelta(days=settings.DATA_DOWNLOAD_DAYS, seconds=1)) == 1


def test_a_file_gone_from_storage_is_a_404_not_an_error(world, alice_client, django_capture_on_commit_callbacks):
    ask(alice_client, world.shop, django_capture_on_commit_callbacks)
    item = ShopExport.objects.get()
    default_storage.delete(item.file)
    assert alice_client.get(download_url(world.shop, item)).status_code == 404


def test_the_period_and_the_queue_are_checked(world, alice_client):
    backwards = {"kind": "members", "format": "csv", "date_from": "2026-11-30", "date_to": "2026-11-01"}
    response = alice_client.post(exports_page(world.shop), backwards)
    assert response.status_code == 400 and "The period ends before it starts." in response.content.decode()
    response = alice_client.post(exports_page(world.shop), {"kind": "members", "format": "csv",
                                                            "date_from": "0001-01-01"})  # fmt: skip
    assert response.status_code == 400 and "between 1900 and 2999" in response.content.decode()
    response = alice_client.post(exports_page(world.shop), {"kind": "everything", "format": "pdf"})
    assert response.status_code == 400
    assert not ShopExport.objects.exists() and not AuditEntry.objects.exists()

    for _n in range(export.PENDING_PER_SHOP):
        export.export_request(shop=world.shop, user=world.alice, kind="members", format="csv")
    with pytest.raises(LoyaltyError) as refused:
        export.export_request(shop=world.shop, user=world.alice, kind="ledger", format="csv")
    assert refused.value.code == Code.TOO_MANY
    response = alice_client.post(exports_page(world.shop), {"kind": "members", "format": "csv"})
    assert response.status_code == 400 and "being prepared already" in response.content.decode()
    assert ShopExport.objects.count() == AuditEntry.objects.count() == export.PENDING_PER_SHOP
    # Another shop's queue is its own.
    export.export_request(shop=world.other_shop, user=world.dave, kind="members", format="csv")


def test_another_shop_gets_404_and_a_manager_403(world, alice_client, member, django_capture_on_commit_callbacks):
    ask(alice_client, world.shop, django_capture_on_commit_callbacks)
    item = ShopExport.objects.get()
    dave = world.client(world.dave)
    assert dave.get(exports_page(world.shop)).status_code == 404
    assert dave.post(exports_page(world.shop), {"kind": "members", "format": "csv"}).status_code == 404
    assert dave.get(download_url(world.shop, item)).status_code == 404
    # Alice's export through Dave's own shop: no such export there.
    assert dave.get(download_url(world.other_shop, item)).status_code == 404
    assert "alices" not in dave.get(exports_page(world.other_shop)).content.decode()

    bob = world.client(world.bob)
    assert bob.get(exports_page(world.shop)).status_code == 403
    assert bob.get(download_url(world.shop, item)).status_code == 403
    assert bob.post(exports_page(world.shop), {"kind": "members", "format": "csv"}).status_code == 403
    assert ShopExport.objects.count() == 1


def test_wrong_methods(world, alice_client, django_capture_on_commit_callbacks):
    ask(alice_client, world.shop, django_capture_on_commit_callbacks)
    item = ShopExport.objects.get()
    assert alice_client.delete(exports_page(world.shop)).status_code == 405
    assert alice_client.post(download_url(world.shop, item)).status_code == 405


def test_the_export_link_is_on_the_members_page_for_owners_only(world, alice_client, member):
    link = exports_page(world.shop)
    assert link in alice_client.get(reverse("members:member_list", args=[world.shop.slug])).content.decode()
    page = world.client(world.bob).get(reverse("members:member_list", args=[world.shop.slug])).content.decode()
    assert link not in page


def test_the_exports_page_runs_a_fixed_number_of_queries(world, alice_client, django_assert_num_queries):
    for kind in ("members", "ledger", "members"):
        export.export_request(shop=world.shop, user=world.alice, kind=kind, format="csv")
    export.prepare_due()
    export.export_request(shop=world.shop, user=world.alice, kind="ledger", format="xlsx", date_from=date(2026, 1, 1))
    alice_client.get(exports_page(world.shop))
    # user and role, the exports with who asked for them, the shop switcher
    with django_assert_num_queries(3):
        page = alice_client.get(exports_page(world.shop)).content.decode()
    assert page.count("Download") == 3 and "Being prepared" in page


def test_the_beat_prepares_exports_whose_task_was_lost():
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == export.PREPARE_TASK)
    assert entry["schedule"] == 15 * 60


def test_deleting_the_shop_removes_its_export_files(world, alice_client, django_capture_on_commit_callbacks):
    ask(alice_client, world.shop, django_capture_on_commit_callbacks)
    name = ShopExport.objects.get().file
    shop_delete(shop=world.shop)
    assert not default_storage.exists(name)


@on_postgresql
def test_each_export_is_prepared_under_a_lock_that_a_parallel_run_skips(world):
    export.export_request(shop=world.shop, user=world.alice, kind="members", format="csv")
    with CaptureQueriesContext(connection) as queries:
        export.prepare_due()
    locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert locks and all("SKIP LOCKED" in sql and '"members_shopexport"' in sql for sql in locks)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_run_passes_over_the_export_another_worker_is_writing(world):
    # Made directly: the request's own task would prepare it at once (the commit runs it here).
    item = ShopExport.objects.create(shop=world.shop, requested_by=world.alice, kind="members", format="csv")
    held, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                ShopExport.objects.select_for_update().get(pk=item.pk)
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert held.wait(10)
        assert export.prepare_due() == 0  # not waited for, not written twice
    finally:
        release.set()
        thread.join()
    assert export.prepare_due() == 1


# Memberships and bundles sold


def plan_sale(member, plan, staff, *, at=None, payment_method="cash", receipt="", renews=None):
    return rewards.plan_sell(
        member=member, plan=plan, staff=staff, payment_method=payment_method, idempotency_key=key(), receipt=receipt,
        renews=renews, at=at,
    )  # fmt: skip


@pytest.fixture
def plans_sold(world):
    """November 2026 in Taipei, seen on the 25th at noon: Mia's club membership with a receipt a
    spreadsheet would run, renewed early; Ben's bundle, one latte used, then refunded; Ann's free
    trial; Eve's membership, and Eve erased since; Cy's sale undone at once; Zed's on 31 October,
    late in the evening; and a membership of Dave's shop."""

    def at(*args):
        return datetime(*args, tzinfo=TAIPEI)

    club = MembershipPlan.objects.create(shop=world.shop, name="Coffee club", kind="period", price=490, period_months=1)
    lattes = MembershipPlan.objects.create(shop=world.shop, name="10 lattes", kind="bundle", price=1000, items=10,
                                           item_name="latte")  # fmt: skip
    people = {name: MemberFactory(shop=world.shop, name=name) for name in ("Mia", "Ben", "Ann", "Eve", "Cy", "Zed")}
    with time_machine.travel(at(2026, 11, 25, 12), tick=False):
        zed = plan_sale(people["Zed"], club, world.carol, at=at(2026, 10, 31, 23, 30)).membership
        mia = plan_sale(people["Mia"], club, world.carol, at=at(2026, 11, 1, 10), payment_method="card",
                        receipt="=1+1").membership  # fmt: skip
        ben = plan_sale(people["Ben"], lattes, world.carol, at=at(2026, 11, 5, 10)).membership
        rewards.bundle_redeem(member=people["Ben"], membership=ben, staff=world.carol, idempotency_key=key(),
                              at=at(2026, 11, 5, 11))  # fmt: skip
        rewards.membership_refund(membership=ben, staff=world.bob, idempotency_key=key(), at=at(2026, 11, 6, 10))
        with transaction.atomic():
            ann = rewards.plan_trial_start_locked(
                member=lock_member(people["Ann"].pk), plan=club, days=14, now=at(2026, 11, 7, 10)
            )
        eve = plan_sale(people["Eve"], club, world.carol, at=at(2026, 11, 8, 10)).membership
        member_erase(member=people["Eve"], by=world.alice)
        renewal = plan_sale(people["Mia"], club, world.carol, at=at(2026, 11, 20, 10), renews=mia).membership
        undone = plan_sale(people["Cy"], club, world.carol)
        rewards.action_undo(shop=world.shop, group=undone.group, staff=world.carol, idempotency_key=key())
        theirs = MembershipPlan.objects.create(shop=world.other_shop, name="Bread club", kind="period", price=100,
                                               period_months=1)  # fmt: skip
        other = MemberFactory(shop=world.other_shop, name="Dave's customer")
        plan_sale(other, theirs, world.dave, at=at(2026, 11, 2, 10))
    return {"zed": zed, "mia": mia, "ben": ben, "ann": ann, "eve": eve, "renewal": renewal,
            "cy": undone.membership, "people": people}  # fmt: skip


def test_the_memberships_sold_as_csv(world, alice_client, plans_sold, django_capture_on_commit_callbacks):
    response = ask(alice_client, world.shop, django_capture_on_commit_callbacks, kind="memberships")
    assert response.status_code == 302
    item = ShopExport.objects.get()
    assert (item.kind, item.format, item.rows) == ("memberships", "csv", 7)
    entry = AuditEntry.objects.get(shop=world.shop, action=AuditEntry.Action.MEMBERS_EXPORTED)
    assert (entry.actor, entry.note) == (world.alice, "memberships, csv, start to today")

    response = alice_client.get(download_url(world.shop, item))
    assert response["Content-Disposition"].endswith(f'-memberships-{timezone.localdate(timezone=TAIPEI)}.csv"')
    rows = csv_rows(response)
    assert rows[0] == export.MEMBERSHIP_HEADER == [
        "member_code", "member_name", "plan", "kind", "trial", "sold_at", "starts", "ends", "price_paid",
        "payment_method", "receipt", "status", "items_total", "items_left", "refunded_amount", "renews",
        "early_renewal", "undone",
    ]  # fmt: skip
    table = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    # In the order sold; Dave's shop's is not there.
    assert [row["member_name"] for row in table] == ["Zed", "Mia", "Ben", "Ann", "", "Mia", "Cy"]
    assert "Dave's customer" not in str(rows) and "Bread club" not in str(rows)
    zed, mia, ben, ann, eve, renewal, cy = table
    assert mia == {
        "member_code": plans_sold["people"]["Mia"].code, "member_name": "Mia", "plan": "Coffee club",
        "kind": "Membership for a period", "trial": "no", "sold_at": "2026-11-01T10:00:00+08:00",
        "starts": "2026-11-01T10:00:00+08:00", "ends": mia["ends"], "price_paid": "490.00",
        "payment_method": "Card", "receipt": "'=1+1", "status": "Active", "items_total": "0", "items_left": "0",
        "refunded_amount": "0.00", "renews": "no", "early_renewal": "no", "undone": "no",
    }  # fmt: skip
    assert mia["ends"].startswith("2026-12-01")
    assert (renewal["renews"], renewal["early_renewal"], renewal["starts"]) == ("yes", "yes", mia["ends"])
    assert renewal["sold_at"] == "2026-11-20T10:00:00+08:00"
    assert (ben["kind"], ben["status"], ben["items_total"], ben["items_left"], ben["refunded_amount"]) == (
        "Prepaid bundle", "Refunded", "10", "0", "900.00"
    )  # fmt: skip
    assert (ben["price_paid"], ben["payment_method"], ben["ends"]) == ("1000.00", "Cash", "")
    assert (ann["trial"], ann["price_paid"], ann["payment_method"]) == ("yes", "0.00", "")
    # Eve was erased: her sale is there under her code, which names nobody.
    assert eve["member_code"] == plans_sold["people"]["Eve"].code and eve["member_name"] == ""
    assert (cy["undone"], cy["status"], cy["renews"]) == ("yes", "Ended", "no")
    assert zed["undone"] == "no" and zed["sold_at"] == "2026-10-31T23:30:00+08:00"


def test_the_memberships_as_xlsx_for_a_period_of_the_shops_days(
    world, alice_client, plans_sold, django_capture_on_commit_callbacks
):
    """Zed's sale at 23:30 on 31 October in Taipei (15:30 UTC) is before 1 November there."""
    ask(alice_client, world.shop, django_capture_on_commit_callbacks, kind="memberships", format="xlsx",
        date_from="2026-11-01", date_to="2026-11-20")  # fmt: skip
    item = ShopExport.objects.get()
    book = xlsx_book(alice_client.get(download_url(world.shop, item)))
    assert book.sheetnames == ["memberships"]
    rows = list(book["memberships"].iter_rows())
    assert [c.value for c in rows[0]] == export.MEMBERSHIP_HEADER
    names = [row[1].value for row in rows[1:]]
    assert names == ["Mia", "Ben", "Ann", None, "Mia"] and item.rows == 5  # Cy's on the 25th is after the period
    receipt = rows[1][export.MEMBERSHIP_HEADER.index("receipt")]
    assert receipt.data_type == "s" and receipt.value == "'=1+1"
    assert not any(c.data_type == "f" for row in rows for c in row)


def test_the_plans_page_links_to_the_memberships_export(world, alice_client):
    plans = alice_client.get(reverse("rewards:plan_list", args=[world.shop.slug])).content.decode()
    link = f"{exports_page(world.shop)}?kind=memberships&amp;format=csv"
    assert f'href="{link}"' in plans and "Download memberships (CSV)" in plans
    page = alice_client.get(f"{exports_page(world.shop)}?kind=memberships&format=csv").content.decode()
    assert (
        'value="memberships" required id="id_kind_2" checked' in page
        and 'value="csv" required id="id_format_0" checked' in page
    )
    # What names no kind is ignored: the usual choice stays.
    page = alice_client.get(f"{exports_page(world.shop)}?kind=everything&format=pdf").content.decode()
    assert (
        'value="members" required id="id_kind_0" checked' in page
        and 'value="xlsx" required id="id_format_1" checked' in page
    )
    # A manager sees the plans without the link (the exports are the owner's).
    plans = world.client(world.bob).get(reverse("rewards:plan_list", args=[world.shop.slug])).content.decode()
    assert exports_page(world.shop) not in plans


def test_another_shop_cannot_have_the_memberships(world, alice_client, plans_sold, django_capture_on_commit_callbacks):
    ask(alice_client, world.shop, django_capture_on_commit_callbacks, kind="memberships")
    item = ShopExport.objects.get()
    dave = world.client(world.dave)
    assert dave.get(download_url(world.shop, item)).status_code == 404
    assert dave.get(download_url(world.other_shop, item)).status_code == 404
    # Dave's own file holds his shop's sale only.
    ask(dave, world.other_shop, django_capture_on_commit_callbacks, kind="memberships")
    his = ShopExport.objects.get(shop=world.other_shop)
    rows = csv_rows(dave.get(download_url(world.other_shop, his)))
    assert [row[1] for row in rows[1:]] == ["Dave's customer"]
    assert (
        world.client(world.bob).post(exports_page(world.shop), {"kind": "memberships", "format": "csv"}).status_code
        == 403
    )
