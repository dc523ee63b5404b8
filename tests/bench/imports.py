"""The members import at a real shop's size, run by hand (never in CI):

    DATABASE_URL=postgres://... .venv/bin/python tests/bench/imports.py [--rows 100000]

Makes a new shop in the database DATABASE_URL names (migrated first; use a throwaway one), writes
a CSV and an XLSX of ``--rows`` members as another system would export them (names, phones, half
with e-mail, birthdays, stamps, points, joined and last-visit dates), and times each step as the
owner meets it: reading the upload (``inspect``), the preview, the worker's run, and the same file
run again (nothing changes). It checks the balances against the ledger afterwards and prints
Markdown for docs/benchmarks.md. Peak memory is the process's maximum resident size.
"""

import argparse
import csv
import io
import os
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sheet(rows: int, seed: int) -> tuple[list[str], list[list]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible sample data
    family = "陳林黃張李王吳劉蔡楊許鄭謝洪郭邱曾廖賴徐"
    given = "美玲志明淑芬家豪怡君俊傑雅婷冠宇佳穎承翰"
    header = ["姓名", "手機", "Email", "生日", "Coffee stamps", "點數", "加入日期", "最後來店", "Newsletter"]
    out = []
    for n in range(rows):
        name = rng.choice(family) + rng.choice(given) + rng.choice(given)
        phone = f"09{n // 1_000_000 % 10}{n:07d}"[:10]
        email = f"member{n}@example.com" if n % 2 else ""
        birthday = f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" if n % 3 else ""
        stamps = rng.randint(0, 9)
        points = rng.randint(0, 2000)
        joined = f"20{rng.randint(18, 25)}/{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}"
        out.append([name, phone, email, birthday, stamps, points, joined, "2026-10-01", "yes" if n % 4 else "no"])
    return header, out


def csv_bytes(header, rows) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode()


def xlsx_bytes(header, rows) -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("Set DATABASE_URL to a throwaway PostgreSQL database.", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-for-production-7c1e9a3f5b2d8e4a")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from members.models import Member, MemberImport, User
    from members.services import shop_create
    from rewards import imports, ledger
    from rewards.models import PointsRule

    stamp = format(int(time.time()), "x")
    owner = User.objects.create_user(email=f"owner-{stamp}@bench.example", password=None)
    shop = shop_create(owner=owner, name=f"Import bench {stamp}", slug=f"import-{stamp}", language="zh-hant")
    PointsRule.objects.filter(shop=shop).update(is_active=True)
    header, rows = sheet(args.rows, args.seed)
    results = []
    for kind, data in (("csv", csv_bytes(header, rows)), ("xlsx", xlsx_bytes(header, rows))):
        if kind == "xlsx":
            # The second file goes to a fresh shop, so both runs create every member.
            shop = shop_create(owner=owner, name=f"Import bench {stamp} x", slug=f"import-{stamp}-x", language="en")
        started = time.perf_counter()
        imp = imports.upload(shop=shop, user=owner, data=data, filename=f"members.{kind}", encoding="auto")
        upload_s = time.perf_counter() - started
        assert imp.mapping.get("name") == 0 and imp.mapping.get("phone") == 1, imp.mapping
        started = time.perf_counter()
        imports.preview(imp, imports.file_of(imp))
        preview_s = time.perf_counter() - started
        imports.queue(imp, imp.mapping)
        started = time.perf_counter()
        done = imports.run(imp.pk)
        run_s = time.perf_counter() - started
        assert done.status == MemberImport.Status.DONE, done.error
        again = imports.upload(shop=shop, user=owner, data=data, filename=f"members.{kind}", encoding="auto")
        imports.queue(again, imp.mapping)
        started = time.perf_counter()
        repeat = imports.run(again.pk)
        again_s = time.perf_counter() - started
        assert repeat.counts.get("unchanged") == args.rows, repeat.counts
        members = Member.objects.filter(shop=shop).count()
        results.append((kind, len(data), upload_s, preview_s, run_s, again_s, members, done.counts))
    drift = [d for d in ledger.drift() if getattr(d[0], "shop_id", None) in {shop.pk}]
    print(f"\n| file | size | read the upload | preview | import ({args.rows:,} rows) | rows/s | same file again |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, size, upload_s, preview_s, run_s, again_s, members, counts in results:
        print(
            f"| {kind.upper()} | {size / 2**20:.1f} MB | {upload_s:.1f} s | {preview_s:.2f} s | {run_s:.0f} s "
            f"| {args.rows / run_s:,.0f} | {again_s:.0f} s |"
        )
        print(f"\n{kind}: {members:,} members, counts {counts}")
    print(f"\nPeak memory (max RSS): {peak_mb():.0f} MB; ledger drift in the last shop: {len(drift)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
