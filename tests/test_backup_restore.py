"""The restore drill of docs/deploy.md, run for real: deploy/backup.sh takes a shop with history and
its logo, deploy/restore.sh puts them into a new database and media folder, and the portal works on
the copy: ``ledger_verify`` finds no drift, and staff stamp a card at the counter.

PostgreSQL only (the scripts use pg_dump, pg_restore and psql): skipped on SQLite.
"""

import io
import json
import os
import secrets
import subprocess
import sys
import textwrap
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone
from PIL import Image

from members.roles import Role
from rewards import services
from rewards.models import LedgerEntry

from .conftest import key
from .factories import MemberFactory, PointsRuleFactory, ShopFactory, StaffFactory, StampProgramFactory

ROOT = Path(__file__).resolve().parent.parent
BACKUP = ROOT / "deploy" / "backup.sh"
RESTORE = ROOT / "deploy" / "restore.sh"

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="backup.sh and restore.sh work on PostgreSQL only"),
    pytest.mark.usefixtures("ledger_reconciles"),
]


def database_url(name: str) -> str:
    """The URL of database ``name`` on the server the tests use, with the tests' credentials."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def pg_client(command: str, *args: str) -> subprocess.CompletedProcess:
    """createdb or dropdb on the tests' server."""
    db = connection.settings_dict
    options = ["--host", db["HOST"] or "127.0.0.1", "--port", str(db["PORT"] or 5432)]
    options += ["--username", db["USER"] or "postgres"]
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    return subprocess.run([command, *options, *args], env=env, capture_output=True, text=True, timeout=60)


def script_env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MEDIA_STORAGE", "BACKUP_KEEP"}}
    return {**env, **extra}


def backup(backups: Path, media: Path, **extra) -> subprocess.CompletedProcess:
    env = script_env(DATABASE_URL=database_url(connection.settings_dict["NAME"]), MEDIA_ROOT=str(media), **extra)
    return subprocess.run([BACKUP, backups], env=env, capture_output=True, text=True, timeout=120)


def restore(*args) -> subprocess.CompletedProcess:
    return subprocess.run([RESTORE, *map(str, args)], env=script_env(), capture_output=True, text=True, timeout=120)


def backup_folders(backups: Path) -> list[Path]:
    """The dated folders backup.sh made, oldest first."""
    return sorted(p for p in backups.iterdir() if p.is_dir() and p.name[:1].isdigit())


def manage_env(database: str, media: Path, **extra: str) -> dict[str, str]:
    """manage.py's environment on the restored copy, in development mode as an operator's shell
    would run it (cleaned as in tests/test_settings.py)."""
    unwanted = {
        "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DJANGO_SETTINGS_MODULE", "SECURE_SSL_REDIRECT",
        "DJANGO_ALLOW_ASYNC_UNSAFE", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL", "SENTRY_DSN", "MEDIA_STORAGE",
    }  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in unwanted}
    env.update(
        DJANGO_SETTINGS_MODULE="loyalty_site.settings",
        DEBUG="true",
        DATABASE_URL=database_url(database),
        MEDIA_ROOT=str(media),
        # Whatever the stamp queues stays in that process.
        CELERY_BROKER_URL="memory://",
        **extra,
    )
    return env


def run_manage(*args: str, database: str, media: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=manage_env(database, media, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "teal").save(out, format="PNG")
    return out.getvalue()


# Run in the restored copy by manage.py shell: staff sign in and stamp the member's card at the
# counter, as the counter's form posts it; the result is printed as JSON.
STAMP_AT_THE_COUNTER = textwrap.dedent(
    """
    import json, os
    from django.core.files.storage import default_storage
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse
    from members.models import Member, Shop, User
    from rewards.lookup import found_token
    from rewards.models import FoundBy, LedgerEntry, MemberCard

    given = json.loads(os.environ["RESTORE_DRILL"])
    setup_test_environment()  # the test client's host, and e-mail kept in memory
    shop = Shop.objects.get(slug=given["shop"])
    member = Member.objects.get(shop=shop, public_id=given["member"])
    card = MemberCard.objects.get(member=member, program__public_id=given["program"])
    rows, stamps = LedgerEntry.objects.filter(shop=shop).count(), card.stamps
    client = Client()
    client.force_login(User.objects.get(email=given["staff"]))
    response = client.post(
        reverse("rewards:counter_stamp", args=[shop.slug, member.public_id]),
        {"program": given["program"], "count": 1, "key": "restore-drill-1",
         "found": found_token(member.public_id, FoundBy.CODE)},
        headers={"HX-Request": "true"},
    )
    card.refresh_from_db()
    after = LedgerEntry.objects.filter(shop=shop)
    newest = after.order_by("-id").first()
    print("RESULT " + json.dumps({
        "status": response.status_code, "rows_before": rows, "rows_after": after.count(),
        "stamps_before": stamps, "stamps_after": card.stamps, "newest_reason": newest.reason,
        "newest_found_by": newest.found_by, "newest_staff": newest.staff.email,
        "logo": shop.logo.name, "logo_exists": bool(shop.logo) and default_storage.exists(shop.logo.name),
    }))
    """
)


@pytest.mark.django_db(transaction=True)
def test_a_backup_restored_into_a_new_database_is_a_working_copy(settings, tmp_path):
    # A shop with history, made through the services: three visits' stamps, a purchase that earns
    # points and one paid partly with them, and its logo in MEDIA_ROOT.
    shop = ShopFactory(name="Restored Café", slug=f"restored-{secrets.token_hex(3)}")
    StaffFactory(shop=shop, role=Role.OWNER)
    staff = StaffFactory(shop=shop, role=Role.STAFF).user
    program = StampProgramFactory(shop=shop, stamps_needed=10, min_minutes_between_visits=0)
    PointsRuleFactory(shop=shop, points_per_step=1, step_amount=10, bill_points=100, bill_value=10)
    member = MemberFactory(shop=shop, name="Mia Chen")
    now = timezone.now()
    for days_ago in (9, 6, 3):
        services.stamp_add(
            member=member, program=program, count=1, staff=staff, idempotency_key=key(),
            at=now - timedelta(days=days_ago),
        )  # fmt: skip
    services.purchase_record(
        member=member, amount=Decimal(1200), staff=staff, idempotency_key=key(), at=now - timedelta(days=2)
    )
    services.purchase_record(
        member=member, amount=Decimal(200), staff=staff, idempotency_key=key(), pay_points=100,
        at=now - timedelta(days=1),
    )  # fmt: skip
    shop.logo.save("logo.png", ContentFile(png()))
    rows = LedgerEntry.objects.filter(shop=shop).count()
    assert rows >= 5

    backups = tmp_path / "backups"
    made = backup(backups, settings.MEDIA_ROOT)
    assert made.returncode == 0, made.stderr
    [folder] = backup_folders(backups)
    assert {p.name for p in folder.iterdir()} == {"db.dump", "media.tar.gz", "SHA256SUMS"}

    restored = f"restore_{secrets.token_hex(6)}"
    media = tmp_path / "restored-media"
    created = pg_client("createdb", restored)
    assert created.returncode == 0, created.stderr
    try:
        done = restore(folder, database_url(restored), media)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (media / shop.logo.name).read_bytes() == Path(settings.MEDIA_ROOT, shop.logo.name).read_bytes()

        verified = run_manage("ledger_verify", database=restored, media=media)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "No drift" in verified.stdout

        drill = {
            "shop": shop.slug, "member": str(member.public_id), "program": str(program.public_id),
            "staff": staff.email,
        }  # fmt: skip
        result = run_manage(
            "shell", "--no-imports", "-c", STAMP_AT_THE_COUNTER, database=restored, media=media,
            RESTORE_DRILL=json.dumps(drill),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        [line] = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
        stamped = json.loads(line.removeprefix("RESULT "))
        assert stamped["status"] == 200, stamped
        assert stamped["rows_before"] == rows  # the copy has every row of the original
        assert stamped["rows_after"] == rows + 1
        assert (stamped["stamps_before"], stamped["stamps_after"]) == (3, 4)
        assert (stamped["newest_reason"], stamped["newest_found_by"]) == ("visit", "code")
        assert stamped["newest_staff"] == staff.email
        assert stamped["logo"] == shop.logo.name and stamped["logo_exists"]

        verified = run_manage("ledger_verify", database=restored, media=media)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        dropped = pg_client("dropdb", "--if-exists", "--force", restored)
        assert dropped.returncode == 0, dropped.stderr


@pytest.mark.django_db
def test_restore_refuses_a_database_that_is_not_empty_without_force(settings, tmp_path):
    backups = tmp_path / "backups"
    Path(settings.MEDIA_ROOT).mkdir(parents=True)
    made = backup(backups, settings.MEDIA_ROOT)
    assert made.returncode == 0, made.stderr
    [folder] = backup_folders(backups)
    tables = connection.introspection.table_names()
    media = tmp_path / "restored-media"
    # The test database has every table of the portal: restoring over it would mix two databases.
    refused = restore(folder, database_url(connection.settings_dict["NAME"]), media)
    assert refused.returncode == 1
    assert "not empty" in refused.stderr and "--force" in refused.stderr
    assert connection.introspection.table_names() == tables
    assert not media.exists()  # refused before anything was changed


@pytest.mark.django_db
def test_a_backup_keeps_the_newest_folders_and_nothing_half_made(settings, tmp_path):
    backups = tmp_path / "backups"
    older = ["2020-01-01T031500Z", "2020-01-02T031500Z", "2020-01-03T031500Z"]
    for name in older:
        (backups / name).mkdir(parents=True)
    (backups / "notes").mkdir()  # not a backup: never touched
    (backups / ".incomplete-2020-01-04T031500Z").mkdir()  # a run that was killed
    Path(settings.MEDIA_ROOT).mkdir(parents=True)
    made = backup(backups, settings.MEDIA_ROOT, BACKUP_KEEP="2")
    assert made.returncode == 0, made.stderr
    kept = [p.name for p in backup_folders(backups)]
    assert kept[0] == older[-1] and len(kept) == 2 and kept[1] > older[-1]
    assert (backups / "notes").is_dir() and not (backups / ".incomplete-2020-01-04T031500Z").exists()
    checked = subprocess.run(["sha256sum", "--check", "SHA256SUMS"], cwd=backups / kept[1], capture_output=True)
    assert checked.returncode == 0

    refused = backup(backups, settings.MEDIA_ROOT, BACKUP_KEEP="0")
    assert refused.returncode == 1 and "BACKUP_KEEP" in refused.stderr
    assert [p.name for p in backup_folders(backups)] == kept
