"""Print-ready posters that invite customers to join a shop's loyalty card.

A poster is a band in the shop's brand colour with its logo and name, what a customer gets for
joining (``members.offers``) in large type, a large QR code of the join link, a call to action and,
in small print, the link itself for people who cannot scan. The offer and the call to action are in
the shop's language and, when the shop chose one, again in a second language in smaller type.

"a4" is a poster for a wall or a window. "tent" is an A4 sheet folded across the middle into a
table tent: the same content on both halves, the top half upside down, so each side reads upright
from its side of the table.

The layout is worked out once, in pixels at 300 dpi, as a list of things to draw; Pillow paints
them into a PNG, and fpdf2 draws them into a PDF as vectors, with real text in the embedded font
(selectable and searchable) and the QR code as filled squares. Nothing is fetched and nothing is
written to disk, and the same input gives the same bytes.

Pillow's own font has no Chinese, so text is set in Noto Sans CJK, which has Latin letters and the
Chinese characters of both scripts in the forms each region expects.
"""

import io
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path

import qrcode
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.translation import gettext as _
from fpdf import FPDF
from fpdf.enums import PathPaintRule, TextMode
from PIL import Image, ImageColor, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from . import offers

logger = logging.getLogger(__name__)
# fpdf2 subsets the font with fontTools, which logs a line per font table at INFO.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

DPI = 300
MM = DPI / 25.4  # pixels per millimetre
PT = DPI / 72  # pixels per typographic point
FORMATS = ("png", "pdf")

# Debian's fonts-noto-cjk ships the same collection as the noto-cjk-sans-otc wheel.
DEBIAN_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# The collection has one face per region; the shop's language picks one.
FACES = {"zh-hans": "Noto Sans CJK SC", "zh-hant": "Noto Sans CJK TC"}
DEFAULT_FACE = "Noto Sans CJK TC"

INK = (17, 17, 17)
GREY = (68, 68, 68)
LIGHT_GREY = (136, 136, 136)
WHITE = (255, 255, 255)

# A PDF must say when it was made; a fixed date keeps the same poster the same bytes.
PDF_DATE = datetime(2000, 1, 1, tzinfo=UTC)
# Each step down, the largest type sizes shrink by a twentieth, until the texts and the QR code fit.
SCALES = tuple(step / 20 for step in range(20, 5, -1))


@dataclass(frozen=True)
class Layout:
    """A sheet and its proportions; lengths in millimetres, type sizes in points (largest, smallest)."""

    size: tuple[int, int]  # the sheet in pixels at 300 dpi
    tent: bool  # folded across the middle: two panels, QR code beside the text
    margin: float  # kept clear: most printers cannot print to the edge, and a tent's fold
    gap: float
    band_padding: float
    corner: float
    logo: float  # the logo's square box, white badge included
    qr: tuple[float, float]  # widest and narrowest QR code, quiet zone included
    name_lines: int
    name_pt: tuple[float, float]
    offer_pt: tuple[float, float]
    second_offer_pt: tuple[float, float]
    headline_pt: tuple[float, float]
    second_headline_pt: tuple[float, float]
    url_pt: tuple[float, float]

    @property
    def panel(self) -> tuple[int, int]:
        """One side of the poster: the whole sheet, or half of a tent's."""
        width, height = self.size
        return (width, height // 2) if self.tent else (width, height)


LAYOUTS = {
    # A4 portrait, for a wall or a window.
    "a4": Layout(
        size=(2480, 3508),
        tent=False,
        margin=12,
        gap=8,
        band_padding=7,
        corner=4,
        logo=32,
        qr=(140, 110),
        name_lines=3,
        name_pt=(54, 28),
        offer_pt=(40, 20),
        second_offer_pt=(24, 12),
        headline_pt=(30, 18),
        second_headline_pt=(20, 11),
        url_pt=(13, 9),
    ),
    # An A4 sheet folded into a table tent: two panels of 210 x 148.5 mm.
    "tent": Layout(
        size=(2480, 3508),
        tent=True,
        margin=9,
        gap=5,
        band_padding=4,
        corner=3,
        logo=17,
        qr=(90, 75),
        name_lines=2,
        name_pt=(30, 16),
        offer_pt=(24, 12),
        second_offer_pt=(15, 8),
        headline_pt=(18, 11),
        second_headline_pt=(13, 8),
        url_pt=(8, 6),
    ),
}


@cache
def cjk_font_path() -> Path:
    """The Noto Sans CJK collection: from the noto-cjk-sans-otc package, else from Debian's fonts-noto-cjk."""
    candidates = []
    try:
        import noto_cjk_sans_otc  # only needed once a poster is drawn
    except ImportError:
        pass
    else:
        candidates.append(Path(str(noto_cjk_sans_otc.FONT_PATH)))
    candidates.append(DEBIAN_FONT)
    for path in candidates:
        if path.is_file():
            return path
    raise ImproperlyConfigured(
        "Posters need a font with Chinese characters and none was found: install the Python package "
        "noto-cjk-sans-otc (listed in requirements.txt) or the Debian package fonts-noto-cjk."
    )


@cache
def _face_index(family: str) -> int:
    path = str(cjk_font_path())
    index = 0
    while True:
        try:
            face = ImageFont.truetype(path, 12, index=index)
        except OSError:
            raise ImproperlyConfigured(f"{path} has no face named {family!r}.") from None
        if face.getname()[0] == family:
            return index
        index += 1


def _face(language: str) -> str:
    return FACES.get(language, DEFAULT_FACE)


# Fitting text tries many sizes; a font is opened once per size and kept.
@lru_cache(maxsize=512)
def cjk_font(size: int, language: str) -> ImageFont.FreeTypeFont:
    """Noto Sans CJK at `size` pixels, in the regional forms of `language` (Traditional unless "zh-hans")."""
    index = _face_index(_face(language))
    # The basic layout engine, so the picture does not depend on whether libraqm is installed.
    return ImageFont.truetype(str(cjk_font_path()), size, index=index, layout_engine=ImageFont.Layout.BASIC)


def render_poster(*, shop, join_url: str, layout: str, fmt: str) -> bytes:
    """The shop's join poster as PNG or PDF bytes; `layout` is "a4" or "tent", `fmt` is "png" or "pdf"."""
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown poster layout {layout!r}; use one of {', '.join(LAYOUTS)}.")
    if fmt not in FORMATS:
        raise ValueError(f"Unknown poster format {fmt!r}; use one of {', '.join(FORMATS)}.")
    sheet = plan(shop=shop, join_url=join_url, spec=LAYOUTS[layout])
    if fmt == "pdf":
        return _pdf(sheet, title=shop.name, language=shop.language)
    out = io.BytesIO()
    _paint(sheet).save(out, format="PNG", dpi=(DPI, DPI))
    return out.getvalue()


def compose(*, shop, join_url: str, spec: Layout) -> tuple[Image.Image, dict[str, tuple[int, int, int, int]]]:
    """The poster as an RGB image, and the box each part was drawn in (for tests of the layout);
    on a tent, the parts of the upright (lower) panel."""
    sheet = plan(shop=shop, join_url=join_url, spec=spec)
    return _paint(sheet), sheet.boxes


# What the poster says.


@dataclass(frozen=True)
class Words:
    language: str
    offer: tuple[str, ...]
    headline: str
    fold_hint: str
    second_language: str = ""  # none, or another language than the shop's
    second_offer: tuple[str, ...] = ()
    second_headline: str = ""


def poster_words(shop) -> Words:
    """The offer and the call to action in the shop's language and, if it has one, the poster's second language."""

    def said(language: str) -> tuple[tuple[str, ...], str, str]:
        with translation.override(language):
            # A shop with nothing to offer yet still says what a loyalty card is for.
            offer = offers.lines(shop, language) or [_("Collect stamps, get rewards")]
            return tuple(offer), _("Scan to join our loyalty card"), _("Fold along the dashed line")

    offer, headline, fold_hint = said(shop.language)
    second = shop.poster_second_language
    if not second or second == shop.language:
        return Words(shop.language, offer, headline, fold_hint)
    second_offer, second_headline, _hint = said(second)
    return Words(shop.language, offer, headline, fold_hint, second, second_offer, second_headline)


# What is drawn: positions and sizes in pixels at 300 dpi, the top left of a panel or sheet at 0, 0.

Box = tuple[int, int, int, int]  # left, top, right, bottom
Colour = tuple[int, int, int]


@dataclass(frozen=True)
class _Fill:
    box: Box
    colour: Colour
    radius: int = 0


@dataclass(frozen=True)
class _Line:
    """One line of text on its baseline, from its left end or around its middle."""

    text: str
    x: int
    baseline: int
    size: int
    stroke: int  # a thin outline in the text's colour sets it a little bolder
    language: str
    colour: Colour
    centred: bool


@dataclass(frozen=True)
class _Code:
    """A QR code, quiet zone included: True is a dark module."""

    matrix: tuple[tuple[bool, ...], ...]
    left: int
    top: int
    module: int

    @property
    def box(self) -> Box:
        side = len(self.matrix) * self.module
        return (self.left, self.top, self.left + side, self.top + side)


@dataclass(frozen=True, eq=False)
class _Picture:
    image: Image.Image  # RGBA, stretched to the box (which keeps its proportions)
    box: Box


@dataclass(frozen=True)
class _Rule:
    start: tuple[int, int]
    end: tuple[int, int]
    width: int
    colour: Colour
    dash: int = 0  # dash and gap length; 0 for a solid line


@dataclass
class Sheet:
    spec: Layout
    panel: list  # what one panel draws, in the panel's own coordinates
    fold: list = field(default_factory=list)  # what a tent draws across its middle, on the sheet
    boxes: dict[str, Box] = field(default_factory=dict)  # on the sheet


def plan(*, shop, join_url: str, spec: Layout) -> Sheet:
    """Everything to draw on the sheet, from the shop, what it offers and its join link."""
    words = poster_words(shop)
    items, boxes = _panel(shop=shop, join_url=join_url, spec=spec, words=words, logo=_open_logo(shop))
    if not spec.tent:
        return Sheet(spec, items, boxes=boxes)
    # The upright panel is the lower half: shift its boxes onto the sheet.
    below = spec.size[1] - spec.panel[1]
    boxes = {name: (left, top + below, right, bottom + below) for name, (left, top, right, bottom) in boxes.items()}
    fold, boxes["fold_hint"] = _fold(spec, words)
    return Sheet(spec, items, fold, boxes)


def _px(millimetres: float) -> int:
    return round(millimetres * MM)


def _panel(*, shop, join_url: str, spec: Layout, words: Words, logo: Image.Image | None) -> tuple[list, dict]:
    width, height = spec.panel
    margin = _px(spec.margin)
    items: list = []
    boxes: dict[str, Box] = {}

    # The band: logo badge and shop name side by side, centred together.
    padding = _px(spec.band_padding)
    logo_box = _px(spec.logo)
    inner_width = width - 2 * margin
    name_width = inner_width - 2 * padding - (logo_box + padding if logo else 0)
    name = _fit(shop.name, words.language, spec.name_pt, name_width, max_lines=spec.name_lines, bold=True)
    band_height = 2 * padding + max(logo_box, name.height)
    band = (margin, margin, width - margin, margin + band_height)
    items.append(_Fill(band, _rgb(shop.brand_colour), radius=_px(spec.corner)))
    boxes["band"] = band
    group_width = name.width + (logo_box + padding if logo else 0)
    x = (width - group_width) // 2
    if logo:
        top = margin + (band_height - logo_box) // 2
        boxes["logo"] = badge = (x, top, x + logo_box, top + logo_box)
        items += _badge(logo, badge, _px(spec.corner))
        x += logo_box + padding
    top = margin + (band_height - name.height) // 2
    lines, boxes["name"] = name.place(x, top, _rgb(shop.brand_text_colour), align="left" if logo else "centre")
    items += lines

    area = (margin, band[3] + _px(spec.gap), width - margin, height - margin)
    matrix = _qr_matrix(join_url)
    arrange = _side_by_side if spec.tent else _stacked
    more_items, more_boxes = arrange(spec, words, join_url, matrix, area)
    return items + more_items, boxes | more_boxes


def _texts(spec: Layout, words: Words, width: int, scale: float, offers_shown: int) -> dict[str, "_Text"]:
    """The offer and the call to action in both languages, the largest sizes scaled by `scale`."""
    shown = words.offer[:offers_shown], words.second_offer[:offers_shown]
    # The offer as large as there is room for, on two lines rather than smaller; the call to action
    # on one line unless that would take much smaller type.
    texts = {"offer": _fit(shown[0], words.language, _scaled(spec.offer_pt, scale), width, bold=True, wrap_below=1)}
    if words.second_language:
        sizes = _scaled(spec.second_offer_pt, scale)
        texts["second_offer"] = _fit(shown[1], words.second_language, sizes, width, wrap_below=1)
    sizes = _scaled(spec.headline_pt, scale)
    texts["headline"] = _fit(words.headline, words.language, sizes, width, bold=True, wrap_below=0.75)
    if words.second_language:
        sizes = _scaled(spec.second_headline_pt, scale)
        texts["second_headline"] = _fit(words.second_headline, words.second_language, sizes, width, wrap_below=0.75)
    return texts


def _scaled(sizes_pt: tuple[float, float], scale: float) -> tuple[float, float]:
    largest, smallest = sizes_pt
    return max(smallest, largest * scale), smallest


def _fitting(spec: Layout, words: Words, width: int, fits) -> dict[str, "_Text"]:
    """The texts at the largest scale `fits` accepts. If even the smallest sizes do not fit (a shop
    with many cards), the last offers are left out: better fewer lines than a QR code too small to scan."""
    for shown in range(max(len(words.offer), len(words.second_offer)), 0, -1):
        for scale in SCALES:
            texts = _texts(spec, words, width, scale, shown)
            if fits(texts):
                return texts
    return texts


def _stacked(spec: Layout, words: Words, join_url: str, matrix, area: Box) -> tuple[list, dict]:
    """A poster: the offer, the QR code under it, the call to action, and the link at the foot."""
    left, top, right, bottom = area
    width = right - left
    gap = _px(spec.gap)
    small_gap = gap // 2
    url = _fit(join_url, words.language, spec.url_pt, width, max_lines=3, link=True)
    url_top = bottom - url.height
    space = url_top - gap - top
    qr_min, qr_max = _px(spec.qr[1]), _px(spec.qr[0])

    def height_of(texts) -> int:
        heights = [text.height for text in texts.values()]
        # No gap above and below the QR code: its quiet zone is white space enough.
        return sum(heights) + 2 * small_gap * (len(heights) > 2)

    texts = _fitting(spec, words, round(width * 0.9), lambda texts: space - height_of(texts) >= qr_min)
    module = max(1, max(qr_min, min(qr_max, space - height_of(texts))) // len(matrix))
    side = module * len(matrix)
    y = top + max(0, (space - height_of(texts) - side) // 2)

    items, boxes = [], {}
    centre = left + width // 2
    y = _place(texts, ("offer", "second_offer"), centre, y, small_gap, items, boxes)
    code = _Code(matrix, centre - side // 2, y, module)
    items.append(code)
    boxes["qr"] = code.box
    _place(texts, ("headline", "second_headline"), centre, y + side, small_gap, items, boxes)
    lines, boxes["url"] = url.place(left + (width - url.width) // 2, url_top, GREY)
    return items + lines, boxes


def _side_by_side(spec: Layout, words: Words, join_url: str, matrix, area: Box) -> tuple[list, dict]:
    """A tent's panel: the offer, the call to action and the link in a column, the QR code beside it."""
    left, top, right, bottom = area
    gap = _px(spec.gap)
    small_gap = gap // 2
    module = max(1, max(_px(spec.qr[1]), min(_px(spec.qr[0]), bottom - top)) // len(matrix))
    side = module * len(matrix)
    code = _Code(matrix, right - side, top + max(0, (bottom - top - side) // 2), module)
    column = code.left - left  # the QR code's quiet zone keeps the text off it
    url = _fit(join_url, words.language, spec.url_pt, column, max_lines=4, link=True)

    def height_of(texts) -> int:
        heights = [text.height for text in texts.values()]
        # The offer apart from the call to action, and the link apart from both.
        return sum(heights) + small_gap * (len(heights) - 2) + gap + gap + url.height

    texts = _fitting(spec, words, column, lambda texts: height_of(texts) <= bottom - top)
    y = top + max(0, (bottom - top - height_of(texts)) // 2)
    items, boxes = [code], {"qr": code.box}
    y = _place(texts, ("offer", "second_offer"), left, y, small_gap, items, boxes, align="left") + gap
    y = _place(texts, ("headline", "second_headline"), left, y, small_gap, items, boxes, align="left") + gap
    lines, boxes["url"] = url.place(left, y, GREY, align="left")
    return items + lines, boxes


def _place(texts, names, x: int, y: int, small_gap: int, items: list, boxes: dict, align: str = "centre") -> int:
    """Those of `names` in `texts` one under the other from `y`, the second language's in grey,
    around `x` or from it; returns where the last one ends."""
    bottom = y
    for name in names:
        if name in texts:
            text = texts[name]
            left = x - text.width // 2 if align == "centre" else x
            lines, boxes[name] = text.place(left, y, GREY if name.startswith("second") else INK, align)
            items += lines
            bottom = boxes[name][3]
            y = bottom + small_gap
    return bottom


def _fold(spec: Layout, words: Words) -> tuple[list, Box]:
    """Across a tent's middle: a dashed line broken by the hint to fold there, and solid marks at the
    edges that show the fold even where the printer left the dashes out."""
    width, height = spec.size
    middle = height // 2
    hint = _fit(words.fold_hint, words.language, (8, 8), width // 2, max_lines=1)
    hint_left = (width - hint.width) // 2
    lines, box = hint.place(hint_left, middle - hint.height // 2, LIGHT_GREY)
    thin, mark = _px(0.3), (_px(4), _px(10))
    items = [
        _Rule((mark[0], middle), (mark[1], middle), thin, GREY),
        _Rule((width - mark[1], middle), (width - mark[0], middle), thin, GREY),
        _Rule((mark[1] + _px(3), middle), (hint_left - _px(3), middle), thin, LIGHT_GREY, dash=_px(2)),
        _Rule((box[2] + _px(3), middle), (width - mark[1] - _px(3), middle), thin, LIGHT_GREY, dash=_px(2)),
    ]
    return items + lines, box


# Text: measured with Pillow, so both the picture and the PDF are laid out alike.


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


def _qr_matrix(data: str) -> tuple[tuple[bool, ...], ...]:
    """The join link's QR code, four modules of quiet zone included; drawn with each module a
    whole number of pixels, so it prints sharp."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=4, box_size=1)
    qr.add_data(data)
    qr.make(fit=True)
    return tuple(tuple(bool(dark) for dark in row) for row in qr.get_matrix())


def _rgb(colour: str) -> Colour:
    return ImageColor.getrgb(colour)[:3]


def _open_logo(shop) -> Image.Image | None:
    if not shop.logo:
        return None
    try:
        with shop.logo.open("rb") as file:
            logo = Image.open(file)
            logo.load()
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        # A missing or broken logo should not stop the poster.
        logger.warning("Shop %s: logo %s cannot be read; poster drawn without it.", shop.pk, shop.logo.name)
        return None
    return ImageOps.exif_transpose(logo).convert("RGBA")


def _badge(logo: Image.Image, box: Box, corner: int) -> list:
    """The logo kept in proportion on a white badge, so it shows on any brand colour."""
    left, top, right, bottom = box
    inset = round((right - left) * 0.08)
    room_width, room_height = right - left - 2 * inset, bottom - top - 2 * inset
    ratio = min(room_width / logo.width, room_height / logo.height)
    width, height = max(1, round(logo.width * ratio)), max(1, round(logo.height * ratio))
    x, y = left + (right - left - width) // 2, top + (bottom - top - height) // 2
    return [_Fill(box, WHITE, radius=corner), _Picture(logo, (x, y, x + width, y + height))]


# Pillow: the picture.


def _paint(sheet: Sheet) -> Image.Image:
    panel = Image.new("RGB", sheet.spec.panel, WHITE)
    _draw(panel, sheet.panel)
    if not sheet.spec.tent:
        return panel
    page = Image.new("RGB", sheet.spec.size, WHITE)
    page.paste(panel.transpose(Image.Transpose.ROTATE_180), (0, 0))
    page.paste(panel, (0, page.height - panel.height))
    _draw(page, sheet.fold)
    return page


def _draw(image: Image.Image, items: list) -> None:
    draw = ImageDraw.Draw(image)
    for item in items:
        if isinstance(item, _Fill):
            draw.rounded_rectangle(item.box, radius=item.radius, fill=item.colour)
        elif isinstance(item, _Line):
            draw.text(
                (item.x if item.centred else item.x + item.stroke, item.baseline),
                item.text,
                font=cjk_font(item.size, item.language),
                fill=item.colour,
                anchor="ms" if item.centred else "ls",
                stroke_width=item.stroke,
                stroke_fill=item.colour,
            )
        elif isinstance(item, _Code):
            modules = len(item.matrix)
            small = Image.new("L", (modules, modules), 255)
            small.putdata([0 if dark else 255 for row in item.matrix for dark in row])
            side = modules * item.module
            image.paste(small.resize((side, side), Image.Resampling.NEAREST).convert("RGB"), item.box[:2])
        elif isinstance(item, _Picture):
            left, top, right, bottom = item.box
            fitted = item.image.resize((right - left, bottom - top), Image.Resampling.LANCZOS)
            image.paste(fitted, (left, top), fitted)
        elif isinstance(item, _Rule):
            (x0, y0), (x1, y1) = item.start, item.end
            if not item.dash:
                draw.line((x0, y0, x1, y1), fill=item.colour, width=item.width)
                continue
            # Only across or down the page; dashes from the start, the last one cut at the end.
            length = abs(x1 - x0) + abs(y1 - y0)
            for start in range(0, length, 2 * item.dash):
                end = min(start + item.dash, length)
                if x0 == x1:
                    draw.line((x0, y0 + start, x1, y0 + end), fill=item.colour, width=item.width)
                else:
                    draw.line((x0 + start, y0, x0 + end, y1), fill=item.colour, width=item.width)


# fpdf2: the PDF, in points (72 a inch).

K = 72 / DPI


def _pdf(sheet: Sheet, *, title: str, language: str) -> bytes:
    width, height = sheet.spec.size
    pdf = FPDF(unit="pt", format=(width * K, height * K))
    pdf.set_creation_date(PDF_DATE)
    pdf.set_title(title)
    pdf.set_lang(language)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_page()
    if sheet.spec.tent:
        panel_height = sheet.spec.panel[1]
        # The top panel is the lower one turned about the top half's centre.
        with pdf.rotation(180, x=width * K / 2, y=panel_height * K / 2):
            _draw_pdf(pdf, sheet.panel, 0)
        _draw_pdf(pdf, sheet.panel, height - panel_height)
        _draw_pdf(pdf, sheet.fold, 0)
    else:
        _draw_pdf(pdf, sheet.panel, 0)
    return bytes(pdf.output())


def _draw_pdf(pdf: FPDF, items: list, dy: int) -> None:
    for item in items:
        if isinstance(item, _Fill):
            left, top, right, bottom = item.box
            pdf.set_fill_color(*item.colour)
            pdf.rect(
                left * K,
                (top + dy) * K,
                (right - left) * K,
                (bottom - top) * K,
                style="F",
                round_corners=bool(item.radius),
                corner_radius=item.radius * K,
            )
        elif isinstance(item, _Line):
            face = _face(item.language)
            if face.lower() not in pdf.fonts:
                pdf.add_font(face, fname=str(cjk_font_path()), collection_font_number=_face_index(face))
            # fpdf2 sets the text mode for outlined text and does not set it back for the next
            # line: a graphics state of its own for each line keeps it from spilling over.
            with pdf.local_context():
                pdf.set_font(face, size=item.size * K)
                pdf.set_text_color(*item.colour)
                if item.stroke:
                    pdf.text_mode = TextMode.FILL_STROKE
                    pdf.set_draw_color(*item.colour)
                    pdf.set_line_width(2 * item.stroke * K)
                x = item.x * K - pdf.get_string_width(item.text) / 2 if item.centred else (item.x + item.stroke) * K
                pdf.text(x, (item.baseline + dy) * K, item.text)
        elif isinstance(item, _Code):
            # One path of squares, one fill: no seams between modules where a viewer smooths edges.
            module = item.module * K
            with pdf.new_path(paint_rule=PathPaintRule.FILL_NONZERO) as path:
                path.style.fill_color = "#000000"
                path.style.stroke_color = None
                for row, modules in enumerate(item.matrix):
                    column = 0
                    while column < len(modules):
                        if not modules[column]:
                            column += 1
                            continue
                        run = column
                        while run < len(modules) and modules[run]:
                            run += 1
                        x = item.left * K + column * module
                        y = (item.top + dy) * K + row * module
                        path.rectangle(x, y, (run - column) * module, module)
                        column = run
        elif isinstance(item, _Picture):
            left, top, right, bottom = item.box
            pdf.image(item.image, x=left * K, y=(top + dy) * K, w=(right - left) * K, h=(bottom - top) * K)
        elif isinstance(item, _Rule):
            (x0, y0), (x1, y1) = item.start, item.end
            pdf.set_draw_color(*item.colour)
            pdf.set_line_width(item.width * K)
            pdf.set_dash_pattern(dash=item.dash * K, gap=item.dash * K)
            pdf.line(x0 * K, (y0 + dy) * K, x1 * K, (y1 + dy) * K)
            pdf.set_dash_pattern()
