"""Setting the poster's words: a text's size and its lines, fitted to a width, broken where Chinese and
Latin text may break. Measured with Pillow, so the picture and the PDF are laid out alike."""

import re
import unicodedata
from dataclasses import dataclass

from PIL import ImageFont

from .fonts import cjk_font
from .items import Box, Colour, _Line
from .units import PT


@dataclass
class _Text:
    """Lines of text in one font, measured; placed from the top of the block."""

    lines: list[str]
    font: ImageFont.FreeTypeFont
    language: str
    stroke: int = 0

    @property
    def size(self) -> int:
        return round(self.font.size)

    @property
    def pitch(self) -> int:
        return round(self.size * 1.3)

    @property
    def height(self) -> int:
        # Lines are pitch apart; the last needs only its own body, about one em.
        return self.pitch * (len(self.lines) - 1) + round(self.size * 1.1)

    @property
    def width(self) -> int:
        return max(_width(line, self.font, self.stroke) for line in self.lines)

    def place(self, left: int, top: int, colour: Colour, align: str = "centre") -> tuple[list[_Line], Box]:
        centred = align == "centre"
        lines = [
            _Line(
                text=line,
                x=left + self.width // 2 if centred else left,
                # Baseline at 0.9 em: Chinese characters and capitals then sit in the
                # middle of their line alike.
                baseline=top + number * self.pitch + round(self.size * 0.9),
                size=self.size,
                stroke=self.stroke,
                language=self.language,
                colour=colour,
                centred=centred,
            )
            for number, line in enumerate(self.lines)
        ]
        return lines, (left, top, left + self.width, top + self.height)


def _width(text: str, font: ImageFont.FreeTypeFont, stroke: int) -> int:
    return round(font.getlength(text)) + 2 * stroke


def _fit(
    texts: str | tuple[str, ...],
    language: str,
    sizes_pt: tuple[float, float],
    max_width: int,
    *,
    max_lines: int = 2,
    link: bool = False,
    bold: bool = False,
    wrap_below: float = 0,
) -> _Text:
    """`texts`, each on its own lines, in as few lines as they fit, each at most `max_width` wide,
    all at one size, as large as it can be. Below `wrap_below` times the largest size, a text takes
    another line rather than smaller type.

    Past `max_lines` at the smallest size a text is cut short with "…"; a link is not.
    """
    texts = (texts,) if isinstance(texts, str) else texts
    largest, smallest = (round(points * PT) for points in sizes_pt)
    sizes = [largest]
    while sizes[-1] > smallest:
        sizes.append(max(smallest, min(sizes[-1] - 1, round(sizes[-1] * 0.95))))
    for lines_allowed in range(1, max_lines + 1):
        for size in sizes:
            if size < largest * wrap_below and lines_allowed < max_lines:
                break
            fitted = [_wrapped(text, language, size, max_width, link, bold) for text in texts]
            if all(len(each.lines) <= lines_allowed for each in fitted):
                if not link:
                    fitted = [_balanced(text, each, max_width, bold) for text, each in zip(texts, fitted, strict=True)]
                return _joined(fitted)
    fitted = [_wrapped(text, language, smallest, max_width, link, bold) for text in texts]
    if link:
        return _joined(fitted)  # a link cut short would be no use: it takes the lines it needs
    return _joined([_cut(each, max_lines, max_width) for each in fitted])


def _balanced(text: str, fitted: _Text, max_width: int, bold: bool) -> _Text:
    """`text` in as many lines as `fitted`, made as even as they go: no word left alone on the last line."""
    if len(fitted.lines) < 2:
        return fitted
    size = fitted.size
    narrow, wide = max_width // len(fitted.lines), max_width  # the narrowest width that keeps the count
    while narrow < wide:
        middle = (narrow + wide) // 2
        if len(_wrapped(text, fitted.language, size, middle, False, bold).lines) <= len(fitted.lines):
            wide = middle
        else:
            narrow = middle + 1
    return _wrapped(text, fitted.language, size, wide, False, bold)


def _joined(fitted: list[_Text]) -> _Text:
    first = fitted[0]
    return _Text([line for each in fitted for line in each.lines], first.font, first.language, first.stroke)


def _cut(fitted: _Text, max_lines: int, max_width: int) -> _Text:
    if len(fitted.lines) <= max_lines:
        return fitted
    lines = fitted.lines[:max_lines]
    last = lines[-1]
    while last and _width(last + "…", fitted.font, fitted.stroke) > max_width:
        last = last[:-1]
    lines[-1] = last.rstrip() + "…"
    return _Text(lines, fitted.font, fitted.language, fitted.stroke)


def _wrapped(text: str, language: str, size: int, max_width: int, link: bool, bold: bool) -> _Text:
    font = cjk_font(size, language)
    # Regular is the only weight in the collection; a thin outline in the
    # text's own colour sets headlines a little bolder.
    stroke = round(size * 0.025) if bold else 0
    lines, line = [], ""
    for piece in _pieces(" ".join(text.split()), link):
        # A word wider than the page breaks anywhere.
        too_wide = _width(piece.strip(), font, stroke) > max_width
        for part in list(piece) if too_wide else [piece]:
            if not line.strip() or _width((line + part).rstrip(), font, stroke) <= max_width:
                line = line.lstrip() + part
            else:
                lines.append(line.rstrip())
                line = part.lstrip()
    if line.strip():
        lines.append(line.strip())
    return _Text(lines or [""], font, language, stroke)


# Punctuation that may not start a line: it stays with the character before it.
NO_BREAK_BEFORE = set("，。、．,.!?！？：；:;)）」』】〉》…%")


def _pieces(text: str, link: bool) -> list[str]:
    """What a line may break between: Latin words with the spaces after them, and single Chinese characters.

    A link has no spaces: it breaks after a slash or a query's punctuation.
    """
    if link:
        return [piece for piece in re.findall(r"[^/?&=#-]*[/?&=#-]?", text) if piece]
    pieces: list[str] = []
    for char in text:
        previous = pieces[-1][-1] if pieces else " "
        starts_piece = (
            not char.isspace()
            and char not in NO_BREAK_BEFORE
            and (previous.isspace() or _is_wide(char) or _is_wide(previous))
        )
        if starts_piece or not pieces:
            pieces.append(char)
        else:
            pieces[-1] += char
    return pieces


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")
