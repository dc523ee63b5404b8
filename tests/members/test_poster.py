"""The printable join poster: right size, a QR code a real decoder reads, Chinese without tofu."""

import io
import itertools
import re
import shutil
import subprocess
import sys

import pytest
import zxingcpp
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.translation import gettext
from PIL import Image, ImageDraw

from members import poster
from tests.factories import ShopFactory
from tests.images import image_upload

JOIN_URL = "https://loyalty.example.com/s/morning-light/join/"
LONG_NAME = "晨光咖啡館 Morning Light Coffee Roasters and Bakery 台北市大安區忠孝東路四段一百號一樓之三"
LONG_URL = "https://loyalty.example.com/s/morning-light-coffee-roasters-and-bakery-taipei/join/?utm_source=poster"
PAGES = {"a4": (2480, 3508), "tent": (1240, 1748)}
# The narrowest QR symbol, quiet zone not counted, that a phone reads from a step away.
SMALLEST_QR_MM = {"a4": 80, "tent": 60}
# What the call to action reads once the catalogs translate it.
CHINESE_CALL_TO_ACTION = {
    "zh-hant": "掃描加入我們的集點卡 集點數，換獎勵",
    "zh-hans": "扫码加入我们的集点卡 集点数，换奖励",
}

pytestmark = pytest.mark.django_db


def decode(image: Image.Image) -> list:
    return zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)


def symbol_width_mm(barcode) -> float:
    """The decoded symbol's width (quiet zone not counted), from the corners the decoder found."""
    top_left, top_right = barcode.position.top_left, barcode.position.top_right
    return ((top_right.x - top_left.x) ** 2 + (top_right.y - top_left.y) ** 2) ** 0.5 / poster.MM


def glyph(font, char: str) -> bytes:
    size = round(font.size * 1.5)
    image = Image.new("L", (size, size))
    ImageDraw.Draw(image).text((0, 0), char, font=font, fill=255)
    return image.tobytes()


@pytest.mark.parametrize("layout", ["a4", "tent"])
def test_png_is_the_page_at_300_dpi_and_its_qr_code_decodes_to_the_join_url(layout):
    shop = ShopFactory(name="Morning Light", language="en")

    data = poster.render_poster(shop=shop, join_url=JOIN_URL, layout=layout, fmt="png")

    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == PAGES[layout]
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    [barcode] = decode(image)
    assert barcode.text == JOIN_URL
    assert symbol_width_mm(barcode) >= SMALLEST_QR_MM[layout]


def test_qr_code_still_decodes_from_a_poor_copy_of_the_a4_poster():
    shop = ShopFactory(name="晨光咖啡", language="zh-hant")
    image = Image.open(io.BytesIO(poster.render_poster(shop=shop, join_url=JOIN_URL, layout="a4", fmt="png")))

    # A quarter of the size, then a lossy JPEG: about what a phone's photo of the poster gives.
    small = image.convert("RGB").resize((image.width // 4, image.height // 4), Image.Resampling.BILINEAR)
    photo = io.BytesIO()
    small.save(photo, format="JPEG", quality=60)
    photo.seek(0)

    assert [barcode.text for barcode in decode(Image.open(photo))] == [JOIN_URL]


@pytest.mark.parametrize("layout", ["a4", "tent"])
def test_pdf_is_one_page_of_the_same_size(layout):
    shop = ShopFactory(name="晨光咖啡", language="zh-hant")

    data = poster.render_poster(shop=shop, join_url=JOIN_URL, layout=layout, fmt="pdf")

    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    assert b"/Count 1" in data
    # The page is the paper size in points: A4 is 595 x 842, A6 half that each way.
    [box] = re.findall(rb"/MediaBox\s*\[\s*([\d.\s]+)\]", data)
    x0, y0, x1, y1 = (float(number) for number in box.split())
    width, height = PAGES[layout]
    assert (x1 - x0, y1 - y0) == (pytest.approx(width * 72 / 300), pytest.approx(height * 72 / 300))


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="pdftoppm (poppler-utils) is not installed")
@pytest.mark.parametrize("layout", ["a4", "tent"])
def test_pdf_rasterises_back_to_the_poster(layout, tmp_path):
    shop = ShopFactory(name="晨光咖啡", language="zh-hant")
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(poster.render_poster(shop=shop, join_url=JOIN_URL, layout=layout, fmt="pdf"))

    subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile", pdf, tmp_path / "page"], check=True)

    with Image.open(tmp_path / "page.png") as page:
        page.load()
    width, height = PAGES[layout]
    assert page.size == pytest.approx((width / 3, height / 3), abs=1)
    assert [barcode.text for barcode in decode(page)] == [JOIN_URL]


@pytest.mark.parametrize("language", ["zh-hant", "zh-hans"])
def test_chinese_shop_renders_and_the_font_has_every_glyph(language):
    shop = ShopFactory(name="晨光咖啡", language=language)

    for fmt in ("png", "pdf"):
        assert poster.render_poster(shop=shop, join_url=JOIN_URL, layout="tent", fmt=fmt)

    font = poster.cjk_font(120, language)
    assert font.getname()[0] == {"zh-hant": "Noto Sans CJK TC", "zh-hans": "Noto Sans CJK SC"}[language]
    missing = glyph(font, "\U0010fffd")  # a private-use code point: the font's .notdef box
    with translation.override(language):
        call_to_action = gettext("Scan to join our loyalty card") + gettext("Collect stamps, get rewards")
    text = shop.name + call_to_action + CHINESE_CALL_TO_ACTION[language] + JOIN_URL
    for char in set(text) - {" "}:
        assert font.getmask(char).getbbox() is not None, char
        assert glyph(font, char) != missing, f"{char!r} would print as a box"


def test_latin_letters_come_from_the_same_font():
    font = poster.cjk_font(120, "en")

    assert font.getname()[0] == "Noto Sans CJK TC"
    assert glyph(font, "A") != glyph(font, "\U0010fffd")


def test_logo_is_drawn_in_the_band_in_proportion():
    shop = ShopFactory(name="Morning Light", logo=image_upload(size=(200, 100), colour="red"))

    image, boxes = poster.compose(shop=shop, join_url=JOIN_URL, spec=poster.LAYOUTS["a4"])

    left, top, right, bottom = boxes["logo"]
    centre = ((left + right) // 2, (top + bottom) // 2)
    assert image.getpixel(centre) == (255, 0, 0)
    # A wide logo stays wide: white badge above and below it, red across.
    assert image.getpixel((centre[0], top + (bottom - top) // 5)) == (255, 255, 255)
    assert image.getpixel((left + (right - left) // 8, centre[1])) == (255, 0, 0)
    [barcode] = decode(image)
    assert barcode.text == JOIN_URL


def test_without_a_logo_the_name_is_centred_alone():
    shop = ShopFactory(name="Morning Light")

    image, boxes = poster.compose(shop=shop, join_url=JOIN_URL, spec=poster.LAYOUTS["a4"])

    assert "logo" not in boxes
    left, _top, right, _bottom = boxes["name"]
    assert abs((left + right) - image.width) <= 2


def test_a_logo_that_cannot_be_read_is_left_out(caplog):
    shop = ShopFactory(name="Morning Light", logo=image_upload())
    shop.logo.storage.delete(shop.logo.name)

    image, boxes = poster.compose(shop=shop, join_url=JOIN_URL, spec=poster.LAYOUTS["a4"])

    assert "logo" not in boxes
    assert "cannot be read" in caplog.text
    assert [barcode.text for barcode in decode(image)] == [JOIN_URL]


@pytest.mark.parametrize("layout", ["a4", "tent"])
@pytest.mark.parametrize("with_logo", [True, False])
def test_long_name_and_link_keep_inside_the_margins_without_overlapping(layout, with_logo):
    shop = ShopFactory(name=LONG_NAME, language="zh-hant", logo=image_upload() if with_logo else "")
    spec = poster.LAYOUTS[layout]

    image, boxes = poster.compose(shop=shop, join_url=LONG_URL, spec=spec)

    margin = round(spec.margin * poster.MM)
    for name, (left, top, right, bottom) in boxes.items():
        assert margin <= left < right <= image.width - margin, name
        assert margin <= top < bottom <= image.height - margin, name
    band = boxes["band"]
    inside_band = [boxes["name"]] + ([boxes["logo"]] if with_logo else [])
    for left, top, right, bottom in inside_band:
        assert band[0] <= left and band[1] <= top and right <= band[2] and bottom <= band[3]
    blocks = [boxes[name] for name in ("band", "qr", "headline", "tagline", "url")]
    for a, b in itertools.combinations(blocks, 2):
        assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    [barcode] = decode(image)
    assert barcode.text == LONG_URL


def test_the_same_poster_gives_the_same_bytes():
    shop = ShopFactory(name="晨光咖啡", language="zh-hant", logo=image_upload())

    for fmt in ("png", "pdf"):
        first = poster.render_poster(shop=shop, join_url=JOIN_URL, layout="tent", fmt=fmt)
        assert poster.render_poster(shop=shop, join_url=JOIN_URL, layout="tent", fmt=fmt) == first


def test_unknown_layout_or_format_is_refused():
    shop = ShopFactory()

    with pytest.raises(ValueError, match="layout"):
        poster.render_poster(shop=shop, join_url=JOIN_URL, layout="a3", fmt="png")
    with pytest.raises(ValueError, match="format"):
        poster.render_poster(shop=shop, join_url=JOIN_URL, layout="a4", fmt="svg")


@pytest.fixture
def no_cjk_font(monkeypatch, tmp_path):
    poster.cjk_font_path.cache_clear()
    monkeypatch.setitem(sys.modules, "noto_cjk_sans_otc", None)  # import fails as if not installed
    monkeypatch.setattr(poster, "DEBIAN_FONT", tmp_path / "absent.ttc")
    yield
    poster.cjk_font_path.cache_clear()


def test_a_missing_font_is_a_clear_error(no_cjk_font):
    with pytest.raises(ImproperlyConfigured, match="noto-cjk-sans-otc"):
        poster.cjk_font_path()
