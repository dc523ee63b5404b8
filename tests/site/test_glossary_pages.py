"""Every page of the crawl, in Traditional and Simplified Chinese, for the owner and for a customer,
uses the glossary's words (docs/glossary.md): no stamp is called a point, no point a stamp."""

import re
from html import unescape

import pytest

from ..test_glossary import FORBIDDEN, SCRIPTS
from .test_crawl import cafe, client_for, crawl_set  # noqa: F401 - the crawl's café fixture

TAGS = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]+>", re.S)


def visible_text(html: str) -> str:
    return " ".join(unescape(TAGS.sub(" ", html)).split())


@pytest.mark.parametrize(("language", "locale"), [("zh-hant", "zh_Hant"), ("zh-hans", "zh_Hans")])
def test_chinese_pages_follow_the_glossary(cafe, language, locale, db):  # noqa: F811
    banned = FORBIDDEN + SCRIPTS[locale]["not_points"]
    wrong, checked = [], 0
    targets = crawl_set(cafe, language) + [t for t in cafe.targets if t.name == "rewards:card"]
    for who, client in (("owner", client_for(cafe.users["owner"], language)), ("customer", client_for(None, language))):
        for target in targets:
            if target.name == "members:poster":
                continue
            response = client.get(target.url)
            if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
                continue
            checked += 1
            text = visible_text(response.content.decode())
            if found := [word for word in banned if word in text]:
                wrong.append(f"{who} {target.url}: {found}")
    assert checked > 40
    assert not wrong, "\n".join(wrong[:40])
