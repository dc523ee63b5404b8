"""What a customer gets for joining a shop, in short lines for the join poster and the join page.

The stamp cards, the points rule and the welcome gifts belong to the apps above this one, so each
registers a source (``register``, in its AppConfig.ready) and this module knows none of them. A
source is called with the shop in the language the caller activated and returns its lines, such as
"8 stamps → a free coffee"; one with nothing to offer returns none.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import translation

from .models import Shop


@dataclass(frozen=True)
class Source:
    key: str
    lines: Callable[[Shop], list[str]]  # in the active language
    order: int  # lower first: the card before the welcome gift


SOURCES: dict[str, Source] = {}


def register(source: Source) -> None:
    SOURCES[source.key] = source


def lines(shop: Shop, language: str) -> list[str]:
    """Every source's lines for the shop, in ``language``, in the sources' order."""
    with translation.override(language):
        return [line for source in sorted(SOURCES.values(), key=lambda s: s.order) for line in source.lines(shop)]
