"""Noto Sans CJK for the poster: Pillow's own font has no Chinese, and this one has Latin letters and the
Chinese characters of both scripts in the forms each region expects (one face per region)."""

from functools import cache, lru_cache
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from PIL import ImageFont

# Debian's fonts-noto-cjk ships the same collection as the noto-cjk-sans-otc wheel.
DEBIAN_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# The collection has one face per region; the shop's language picks one.
FACES = {"zh-hans": "Noto Sans CJK SC", "zh-hant": "Noto Sans CJK TC"}
DEFAULT_FACE = "Noto Sans CJK TC"


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
