"""Journey: the demo café's owner brings in the paper-card customers typed into a sheet. The page
guesses most columns, not the name one; the preview says what is missing; the owner fixes the
mapping, sees what each row will do, imports, watches it finish, and staff find the new members
at the counter with the stamps from their paper cards. Screenshots and axe on the way."""

import csv
import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from members.models import Member, Shop

from .test_insights_journey import log_in


def sheet() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["客戶", "手機", "Coffee card", "生日"])
    writer.writerow(["陳小明", "0955 123 456", "7", "1988/02/14"])
    writer.writerow(["王大同", "0955-654-321", "3", ""])
    writer.writerow(["No phone", "", "5", ""])
    return out.getvalue().encode("cp950", errors="strict")


@pytest.mark.django_db(transaction=True)
def test_owner_imports_paper_cards_and_staff_find_them_at_the_counter(live_server, page, screenshot, assert_accessible):
    call_command("demo")
    shop = Shop.objects.get(slug="demo-cafe")
    log_in(page, live_server, "owner@demo.example")

    page.goto(f"{live_server.url}/s/{shop.slug}/members/")
    page.get_by_role("link", name="Import members").click()
    expect(page.get_by_role("heading", name="Import members")).to_be_visible()
    assert_accessible(page, "import start")
    # Excel in Taiwan saves CSV as Big5: found without being told.
    page.get_by_label("Spreadsheet").set_input_files(
        {"name": "paper-cards.csv", "mimeType": "text/csv", "buffer": sheet()}
    )
    page.get_by_role("button", name="Upload and choose the columns").click()
    expect(page.get_by_text("read as Big5 (Traditional Chinese Excel)")).to_be_visible()

    # The phone, the card and the birthday were recognised; 客戶 (customer) was not.
    expect(page.get_by_label("Phone:", exact=True)).to_have_value("1")
    expect(page.get_by_label("Stamps on “Coffee card”:", exact=True)).to_have_value("2")
    page.get_by_role("button", name="Show what will happen").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose the column that holds the members' names.")
    screenshot(page, "import-mapping-missing-name")

    page.get_by_label("Name:", exact=True).select_option(label="客戶 (陳小明)")
    page.get_by_role("button", name="Show what will happen").click()
    expect(page.get_by_role("heading", name="What will happen")).to_be_visible()
    rows = page.locator("table.list tbody tr")
    expect(rows.nth(0)).to_contain_text("New member: 7 stamps on “Coffee card”")
    expect(rows.nth(2)).to_contain_text("Rejected: No e-mail, phone or member code")
    assert_accessible(page, "import preview")
    screenshot(page, "import-preview")
    assert not Member.objects.filter(shop=shop, name="陳小明").exists()

    page.get_by_role("button", name="Import 3 rows").click()
    expect(page.get_by_text("2 new members")).to_be_visible()
    expect(page.get_by_text("1 row rejected")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="download them with the reasons").click()
    rejected = download.value.path().read_text(encoding="utf-8-sig")
    assert "No phone" in rejected and "No e-mail, phone or member code" in rejected
    screenshot(page, "import-done")

    # At the counter: the paper card's stamps are on the digital one.
    page.get_by_role("link", name="Open the counter").click()
    page.locator("#counter-q").fill("0955123456")
    page.locator("#counter-q").press("Enter")
    expect(page.get_by_role("heading", name="陳小明")).to_be_visible()
    expect(page.locator("ol.stamps").first).to_have_attribute("aria-label", re.compile(r"^7 of \d+ stamps"))
    screenshot(page, "import-counter")
