"""Print-ready posters that invite customers to join a shop's loyalty card.

render_poster() draws the whole page with Pillow at 300 dpi: a band in the
shop's brand colour with its logo and name, a large QR code of the join link,
a call to action in the shop's language and, in small print, the link itself
for people who cannot scan. The same picture comes back as PNG or as a
one-page PDF. Nothing is fetched and nothing is written to disk, and the same
input gives the same bytes.

Pillow's own font has no Chinese, so text is set in Noto Sans CJK, which has
Latin letters and the Chinese characters of both scripts in the forms each
region expects.
"""

import io
import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import qrcode
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

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
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Layout:
    """A page and its proportions; lengths in millimetres, type sizes in points (largest, smallest)."""

    size: tuple[int, int]  # pixels at 300 dpi
    margin: float  # kept clear: most printers cannot print to the edge
    gap: float
    band_padding: float
    corner: float
    logo: float  # the logo's square box, white badge included
    qr: tuple[float, float]  # widest and narrowest QR code, quiet zone included
    name_pt: tuple[float, float]
    headline_pt: tuple[float, float]
    tagline_pt: tuple[float, float]
    url_pt: tuple[float, float]


LAYOUTS = {
    # A4 portrait, for a wall or a window.
    "a4": Layout(
        size=(2480, 3508),
        margin=12,
        gap=9,
        band_padding=8,
        corner=4,
        logo=36,
        qr=(145, 100),
        name_pt=(60, 30),
        headline_pt=(40, 26),
        tagline_pt=(28, 18),
        url_pt=(13, 9),
    ),
    # A6 portrait, for a table tent or a card by the till.
    "tent": Layout(
        size=(1240, 1748),
        margin=6,
        gap=4.5,
        band_padding=4,
        corner=2.5,
        logo=18,
        qr=(80, 66),
        name_pt=(28, 14),
        headline_pt=(18, 11),
        tagline_pt=(13, 9),
        url_pt=(7.5, 5.5),
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


def cjk_font(size: int, language: str) -> ImageFont.FreeTypeFont:
    """Noto Sans CJK at `size` pixels, in the regional forms of `language` (Traditional unless "zh-hans")."""
    index = _face_index(FACES.get(language, DEFAULT_FACE))
    # The basic layout engine, so the picture does not depend on whether libraqm is installed.
    return ImageFont.truetype(str(cjk_font_path()), size, index=index, layout_engine=ImageFont.Layout.BASIC)


def render_poster(*, shop, join_url: str, layout: str, fmt: str) -> bytes:
    """The shop's join poster as PNG or PDF bytes; `layout` is "a4" or "tent", `fmt` is "png" or "pdf"."""
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown poster layout {layout!r}; use one of {', '.join(LAYOUTS)}.")
    if fmt not in FORMATS:
        raise ValueError(f"Unknown poster format {fmt!r}; use one of {', '.join(FORMATS)}.")
    image, _boxes = compose(shop=shop, join_url=join_url, spec=LAYOUTS[layout])
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, format="PNG", dpi=(DPI, DPI))
    else:
        # Pillow stores the picture as a JPEG inside the PDF: best quality and
        # no chroma subsampling keep the QR code's edges and the colours clean.
        # No dates, so the same poster gives the same bytes.
        image.save(
            out,
            format="PDF",
            resolution=DPI,
            quality=95,
            subsampling=0,
            title=shop.name,
            creationDate=None,
            modDate=None,
        )
    return out.getvalue()


def compose(*, shop, join_url: str, spec: Layout) -> tuple[Image.Image, dict[str, tuple[int, int, int, int]]]:
    """The poster as an RGB image, and the box each part was drawn in (for tests of the layout)."""
    with translation.override(shop.language):
        headline_text = _("Scan to join our loyalty card")
        tagline_text = _("Collect stamps, get rewards")
    language = shop.language
    width, height = spec.size
    margin = round(spec.margin * MM)
    gap = round(spec.gap * MM)
    inner_width = width - 2 * margin
    image = Image.new("RGB", spec.size, WHITE)
    draw = ImageDraw.Draw(image)
    boxes = {}

    # The band: logo badge and shop name side by side, centred together.
    padding = round(spec.band_padding * MM)
    logo_box = round(spec.logo * MM)
    logo = _open_logo(shop)
    name_width = inner_width - 2 * padding - (logo_box + padding if logo else 0)
    name = _fit(shop.name, language, spec.name_pt, name_width, max_lines=3, bold=True)
    band_height = 2 * padding + max(logo_box, name.height)
    band = (margin, margin, width - margin, margin + band_height)
    draw.rounded_rectangle(band, radius=round(spec.corner * MM), fill=shop.brand_colour)
    boxes["band"] = band
    group_width = name.width + (logo_box + padding if logo else 0)
    x = (width - group_width) // 2
    if logo:
        top = margin + (band_height - logo_box) // 2
        boxes["logo"] = _paste_logo(image, logo, (x, top, x + logo_box, top + logo_box), spec.corner * MM)
        x += logo_box + padding
    top = margin + (band_height - name.height) // 2
    boxes["name"] = name.draw(draw, x, top, shop.brand_text_colour, align="left" if logo else "centre")

    # The link in small print at the foot of the page.
    url = _fit(join_url, language, spec.url_pt, inner_width, max_lines=3, link=True)
    url_top = height - margin - url.height
    boxes["url"] = url.draw(draw, (width - url.width) // 2, url_top, GREY)

    # The QR code and the call to action, centred in the space between.
    text_width = round(inner_width * 0.9)
    headline = _fit(headline_text, language, spec.headline_pt, text_width, max_lines=2, bold=True)
    tagline = _fit(tagline_text, language, spec.tagline_pt, text_width, max_lines=2)
    small_gap = gap // 2
    text_height = headline.height + small_gap + tagline.height
    space_top, space_bottom = band[3] + gap, url_top - gap
    qr_room = min(space_bottom - space_top - text_height - gap, inner_width)
    qr = _qr_image(join_url, max(round(spec.qr[1] * MM), min(round(spec.qr[0] * MM), qr_room)))
    top = space_top + max(0, (space_bottom - space_top - qr.height - gap - text_height) // 2)
    left = (width - qr.width) // 2
    image.paste(qr, (left, top))
    boxes["qr"] = (left, top, left + qr.width, top + qr.height)
    top += qr.height + gap
    boxes["headline"] = headline.draw(draw, (width - headline.width) // 2, top, INK)
    top += headline.height + small_gap
    boxes["tagline"] = tagline.draw(draw, (width - tagline.width) // 2, top, GREY)
    return image, boxes


@dataclass
class _Text:
    """Lines of text in one font, measured; drawn from the top of the block."""

    lines: list[str]
    font: ImageFont.FreeTypeFont
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

    def draw(self, draw: ImageDraw.ImageDraw, left: int, top: int, fill, align: str = "centre"):
        for number, line in enumerate(self.lines):
            x = left if align == "left" else left + (self.width - _width(line, self.font, self.stroke)) // 2
            # Baseline at 0.9 em: Chinese characters and capitals then sit in the
            # middle of their line alike.
            baseline = top + number * self.pitch + round(self.size * 0.9)
            draw.text(
                (x + self.stroke, baseline),
                line,
                font=self.font,
                fill=fill,
                anchor="ls",
                stroke_width=self.stroke,
                stroke_fill=fill,
            )
        return (left, top, left + self.width, top + self.height)


def _width(text: str, font: ImageFont.FreeTypeFont, stroke: int) -> int:
    return round(font.getlength(text)) + 2 * stroke


def _fit(
    text: str,
    language: str,
    sizes_pt: tuple[float, float],
    max_width: int,
    *,
    max_lines: int,
    link: bool = False,
    bold: bool = False,
) -> _Text:
    """`text` in as few lines as it fits, each at most `max_width` wide, as large as it can be.

    Past `max_lines` at the smallest size a name is cut short with "…"; a link is not.
    """
    largest, smallest = (round(points * PT) for points in sizes_pt)
    sizes = [largest]
    while sizes[-1] > smallest:
        sizes.append(max(smallest, min(sizes[-1] - 1, round(sizes[-1] * 0.95))))
    for lines_allowed in range(1, max_lines + 1):
        for size in sizes:
            fitted = _wrapped(text, language, size, max_width, link, bold)
            if len(fitted.lines) <= lines_allowed:
                return fitted
    fitted = _wrapped(text, language, smallest, max_width, link, bold)
    if link:
        return fitted  # a link cut short would be no use: it takes the lines it needs
    lines = fitted.lines[:max_lines]
    last = lines[-1]
    while last and _width(last + "…", fitted.font, fitted.stroke) > max_width:
        last = last[:-1]
    lines[-1] = last.rstrip() + "…"
    return _Text(lines, fitted.font, fitted.stroke)


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
    return _Text(lines or [""], font, stroke)


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


def _qr_image(data: str, max_side: int) -> Image.Image:
    """Black on white, four modules of quiet zone, each module a whole number of pixels: sharp when printed."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=4, box_size=1)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()  # quiet zone included
    modules = len(matrix)
    small = Image.new("L", (modules, modules), 255)
    small.putdata([0 if dark else 255 for row in matrix for dark in row])
    module = max(1, max_side // modules)
    return small.resize((modules * module, modules * module), Image.Resampling.NEAREST).convert("RGB")


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


def _paste_logo(image: Image.Image, logo: Image.Image, box: tuple[int, int, int, int], corner: float):
    """The logo kept in proportion on a white badge, so it shows on any brand colour."""
    left, top, right, bottom = box
    ImageDraw.Draw(image).rounded_rectangle(box, radius=round(corner), fill=WHITE)
    inset = round((right - left) * 0.08)
    fitted = ImageOps.contain(logo, (right - left - 2 * inset, bottom - top - 2 * inset), Image.Resampling.LANCZOS)
    x = left + (right - left - fitted.width) // 2
    y = top + (bottom - top - fitted.height) // 2
    image.paste(fitted, (x, y), fitted)
    return box
