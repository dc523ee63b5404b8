"""What the poster says and where: a page's proportions (``LAYOUTS``), its words in the shop's languages
(``poster_words``) and the list of things to draw, worked out once (``plan``) for the picture and the PDF."""

import logging
from dataclasses import dataclass, field

import qrcode
from django.utils import translation
from django.utils.translation import gettext as _
from PIL import Image, ImageColor, ImageOps, UnidentifiedImageError

from .. import offers
from .items import Box, Colour, _Code, _Fill, _Picture, _Rule
from .text import _fit, _Text
from .units import GREY, INK, LIGHT_GREY, MM, WHITE

logger = logging.getLogger(__name__)

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
    how: str = ""  # none, or where the programme's rules are explained: small print under the link


def poster_words(shop, how_url: str = "") -> Words:
    """The offer and the call to action in the shop's language and, if it has one, the poster's second
    language; with ``how_url``, a line in the shop's language that says where the rules are explained."""

    def said(language: str) -> tuple[tuple[str, ...], str, str]:
        with translation.override(language):
            # A shop with nothing to offer yet still says what a loyalty card is for.
            offer = offers.lines(shop, language) or [_("Collect stamps, get rewards")]
            return tuple(offer), _("Scan to join our loyalty card"), _("Fold along the dashed line")

    offer, headline, fold_hint = said(shop.language)
    how = ""
    if how_url:
        with translation.override(shop.language):
            how = _("How it works: %(url)s") % {"url": how_url}
    second = shop.poster_second_language
    if not second or second == shop.language:
        return Words(shop.language, offer, headline, fold_hint, how=how)
    second_offer, second_headline, _hint = said(second)
    return Words(shop.language, offer, headline, fold_hint, second, second_offer, second_headline, how)


# What is drawn: positions and sizes in pixels at 300 dpi, the top left of a panel or sheet at 0, 0.


@dataclass
class Sheet:
    spec: Layout
    panel: list  # what one panel draws, in the panel's own coordinates
    fold: list = field(default_factory=list)  # what a tent draws across its middle, on the sheet
    boxes: dict[str, Box] = field(default_factory=dict)  # on the sheet


def plan(*, shop, join_url: str, spec: Layout, how_url: str = "") -> Sheet:
    """Everything to draw on the sheet, from the shop, what it offers, its join link and, if given,
    the link to how its programme works."""
    words = poster_words(shop, how_url)
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
    url = _fit(_links(join_url, words), words.language, spec.url_pt, width, max_lines=3, link=True)
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
    url = _fit(_links(join_url, words), words.language, spec.url_pt, column, max_lines=4, link=True)

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


def _links(join_url: str, words: Words) -> str | tuple[str, ...]:
    """The small print: the join link, and under it where the rules are explained, if they are."""
    return (join_url, words.how) if words.how else join_url


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
