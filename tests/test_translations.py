"""The en, zh-Hant and zh-Hans catalogs are complete, compiled and current."""

import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command

LOCALES = ["en", "zh_Hant", "zh_Hans"]
LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
SOURCE_FOLDERS = ["loyalty_site", "members", "rewards", "campaigns", "templates"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def catalog(locale):
    return polib.pofile(str(LOCALE_DIR / locale / "LC_MESSAGES" / "django.po"))


def translations(entry):
    return list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_is_complete(locale):
    po = catalog(locale)
    assert len(po) > 100
    assert not po.fuzzy_entries(), [e.msgid for e in po.fuzzy_entries()]
    for entry in po:
        for text in translations(entry):
            assert text.strip(), f"{locale}: no translation for {entry.msgid!r}"
            source = entry.msgid + (entry.msgid_plural or "")
            assert set(PLACEHOLDER.findall(source)) <= set(PLACEHOLDER.findall(text)), (locale, entry.msgid)


@pytest.mark.parametrize("locale", ["zh_Hant", "zh_Hans"])
def test_chinese_catalogs_are_real_translations(locale):
    po = catalog(locale)
    copied = [e.msgid for e in po if e.msgstr == e.msgid and re.search("[a-z]{4}", e.msgid)]
    # Only proper names such as "English" may stay as they are.
    assert copied == ["English"], copied


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalog_matches_the_source(locale):
    po = catalog(locale)
    mo = polib.mofile(str(LOCALE_DIR / locale / "LC_MESSAGES" / "django.mo"))
    compiled = {(e.msgctxt, e.msgid): translations(e) for e in mo}
    for entry in po:
        assert compiled.get((entry.msgctxt, entry.msgid)) == translations(entry), (
            f"{locale}: django.mo is stale; run: python manage.py compilemessages"
        )


@pytest.mark.skipif(not shutil.which("xgettext"), reason="xgettext (GNU gettext) is not installed")
def test_every_marked_string_is_in_the_catalogs(tmp_path, settings, monkeypatch):
    # makemessages writes beside the sources it scans, so it scans a copy:
    # run on the tree itself, it would rewrite the committed catalogs.
    root = Path(settings.BASE_DIR)
    for folder in SOURCE_FOLDERS:
        shutil.copytree(root / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "locale").mkdir()
    monkeypatch.chdir(tmp_path)
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    call_command("makemessages", locale=["en"], verbosity=0, no_location=True)
    extracted = {
        (e.msgctxt, e.msgid) for e in polib.pofile(str(tmp_path / "locale" / "en" / "LC_MESSAGES" / "django.po"))
    }
    assert len(extracted) > 100
    for locale in LOCALES:
        committed = {(e.msgctxt, e.msgid) for e in catalog(locale) if not e.obsolete}
        missing = extracted - committed
        assert not missing, f"{locale} lacks {sorted(m[1] for m in missing)[:10]}; run makemessages and translate"
