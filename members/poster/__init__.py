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

from PIL import Image

from .fonts import DEBIAN_FONT, cjk_font, cjk_font_path
from .items import _Line
from .layout import LAYOUTS, Layout, Sheet, Words, plan, poster_words
from .pdf import _pdf
from .png import _paint
from .units import DPI, MM, PT, WHITE

__all__ = [
    "DEBIAN_FONT",
    "DPI",
    "FORMATS",
    "LAYOUTS",
    "MM",
    "PT",
    "WHITE",
    "Layout",
    "Sheet",
    "Words",
    "_Line",
    "cjk_font",
    "cjk_font_path",
    "compose",
    "plan",
    "poster_words",
    "render_poster",
]

# fpdf2 subsets the font with fontTools, which logs a line per font table at INFO.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

FORMATS = ("png", "pdf")


def render_poster(*, shop, join_url: str, layout: str, fmt: str, how_url: str = "") -> bytes:
    """The shop's join poster as PNG or PDF bytes; `layout` is "a4" or "tent", `fmt` is "png" or "pdf";
    with `how_url`, the small print under the join link also says where the programme is explained."""
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown poster layout {layout!r}; use one of {', '.join(LAYOUTS)}.")
    if fmt not in FORMATS:
        raise ValueError(f"Unknown poster format {fmt!r}; use one of {', '.join(FORMATS)}.")
    sheet = plan(shop=shop, join_url=join_url, spec=LAYOUTS[layout], how_url=how_url)
    if fmt == "pdf":
        return _pdf(sheet, title=shop.name, language=shop.language)
    out = io.BytesIO()
    _paint(sheet).save(out, format="PNG", dpi=(DPI, DPI))
    return out.getvalue()


def compose(
    *, shop, join_url: str, spec: Layout, how_url: str = ""
) -> tuple[Image.Image, dict[str, tuple[int, int, int, int]]]:
    """The poster as an RGB image, and the box each part was drawn in (for tests of the layout);
    on a tent, the parts of the upright (lower) panel."""
    sheet = plan(shop=shop, join_url=join_url, spec=spec, how_url=how_url)
    return _paint(sheet), sheet.boxes
