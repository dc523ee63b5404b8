"""The Chinese catalogs follow docs/glossary.md: stamps and points never share a word, a card's name is
not a person's name. The crawl's Chinese pages are checked the same way (tests/site/test_glossary_pages.py)."""

import re

import pytest

from .test_translations import catalog, translations

# Per script: the character points are written with (not stamps), words with it that mean neither
# (click, place, food, a little, a moment), and the word that is not this script's "points".
SCRIPTS = {
    "zh_Hant": {
        "point": "點",
        "harmless": ["點擊", "地點", "餐點", "一點", "時間點", "重點", "點選"],
        "not_points": [],
    },
    "zh_Hans": {
        "point": "点",
        "harmless": ["点击", "地点", "餐点", "一点", "时间点", "重点", "点选"],
        "not_points": ["点数"],
    },
}
# Never right in either script: "collecting points" for stamps, a stamp given as a point.
FORBIDDEN = ["集點", "集点", "+1 點", "+1 点", "點章", "点章"]
STAMPS = re.compile(r"\bstamp", re.I)
POINTS = re.compile(r"\bpoint", re.I)


def glossary_problems(text: str, locale: str, *, stamps: bool, points: bool) -> list[str]:
    """What in ``text`` breaks the glossary, for a text about stamps and/or points."""
    script = SCRIPTS[locale]
    found = [word for word in FORBIDDEN if word in text]
    found += [word for word in script["not_points"] if word in text]
    bare = text
    for word in script["harmless"]:
        bare = bare.replace(word, "")
    if stamps and not points and script["point"] in bare:
        found.append(f"{script['point']} for a stamp")
    # A badge (徽章) is no stamp.
    if points and not stamps and "章" in text.replace("徽章", ""):
        found.append("章 for points")
    return found


@pytest.mark.parametrize("locale", ["zh_Hant", "zh_Hans"])
def test_stamps_and_points_never_share_a_word(locale):
    wrong = []
    for entry in catalog(locale):
        source = entry.msgid + " " + (entry.msgid_plural or "")
        for text in translations(entry):
            problems = glossary_problems(
                text, locale, stamps=bool(STAMPS.search(source)), points=bool(POINTS.search(source))
            )
            if problems:
                wrong.append(f"{entry.msgid!r} -> {text!r}: {', '.join(problems)}")
    assert not wrong, f"{len(wrong)} translations break docs/glossary.md:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("locale", "thing"), [("zh_Hant", "名稱"), ("zh_Hans", "名称")])
def test_a_cards_name_is_not_a_persons_name(locale, thing):
    entries = {(entry.msgctxt, entry.msgid): entry.msgstr for entry in catalog(locale)}
    assert entries[(None, "name")] == thing  # a card's, a reward's, a tier's, a campaign's
    assert entries[("a person's", "name")] == "姓名"
    assert entries[(None, "Name")] == "姓名"  # the members list, the counter's enrolment
