"""The printable join poster: right size, a QR code a real decoder reads, Chinese without tofu, what
a customer gets in large type, and in the PDF real text that can be found and copied."""

import io
import itertools
import re
import shutil
import subprocess
import sys
from datetime import timedelta

import pytest
import zxingcpp
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone, translation
from django.utils.translation import gettext
from PIL import Image, ImageChops, ImageDraw, ImageStat

from campaigns.models import Campaign
from members import offers, poster
from tests.factories import CampaignFactory, PointsRuleFactory, ShopFactory, StampProgramFactory
from tests.images import image_upload

JOIN_URL = "https://loyalty.example.com/s/morning-light/join/"
LONG_NAME = "晨光咖啡館 Morning Light Coffee Roasters and Bakery 台北市大安區忠孝東路四段一百號一樓之三"
LONG_URL = "https://loyalty.example.com/s/morning-light-coffee-roasters-and-bakery-taipei/join/?utm_source=poster"
# Both are an A4 sheet: the tent is folded across its middle, a QR code on each half.
PAGES = {"a4": (2480, 3508), "tent": (2480, 3508)}
PANELS = {"a4": 1, "tent": 2}
# The narrowest QR symbol, quiet zone not counted, that a phone reads from a step away.
SMALLEST_QR_MM = {"a4": 80, "tent": 60}
OFFER = "10 stamps → Free latte"
needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdftoppm")), reason="poppler-utils is not installed"
)
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


def pdf_text(tmp_path, data: bytes) -> str:
    """What a reader finds in the PDF (pdftotext), every run of white space (and line ends inside a
    wrapped line) taken out, so a line reads the same however the poster wrapped it."""
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(data)
    text = subprocess.run(["pdftotext", pdf, "-"], check=True, capture_output=True, text=True).stdout
    return "".join(text.split())


def squeezed(text: str) -> str:
    return "".join(text.split())


def rasterise(tmp_path, data: bytes, dpi: int = 100) -> Image.Image:
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", pdf, tmp_path / "page"], check=True)
    with Image.open(tmp_path / "page.png") as page:
        page.load()
    return page


@pytest.fixture
def cafe():
    """A Taipei café with a stamp card, points and a welcome gift running, in Traditional Chinese."""
    shop = ShopFactory(name="晨光咖啡 Morning Light", language="zh-hant")
    StampProgramFactory(shop=shop, stamps_needed=10, reward="Free latte")
    PointsRuleFactory(shop=shop, points_per_step=1, step_amount=10)
    CampaignFactory(shop=shop, kind=Campaign.Kind.WELCOME, gift=Campaign.Gift.STAMPS, gift_stamps=1)
    return shop


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
    barcodes = decode(image)
    assert [barcode.text for barcode in barcodes] == [JOIN_URL] * PANELS[layout]
    for barcode in barcodes:
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
    # The page is the paper size in points: A4 is 595 x 842.
    [box] = re.findall(rb"/MediaBox\s*\[\s*([\d.\s]+)\]", data)
    x0, y0, x1, y1 = (float(number) for number in box.split())
    width, height = PAGES[layout]
    assert (x1 - x0, y1 - y0) == (pytest.approx(width * 72 / 300), pytest.approx(height * 72 / 300))


@needs_poppler
@pytest.mark.parametrize("layout", ["a4", "tent"])
def test_pdf_rasterises_back_to_the_poster(layout, tmp_path):
    shop = ShopFactory(name="晨光咖啡", language="zh-hant")

    page = rasterise(tmp_path, poster.render_poster(shop=shop, join_url=JOIN_URL, layout=layout, fmt="pdf"))

    width, height = PAGES[layout]
    assert page.size == pytest.approx((width / 3, height / 3), abs=1)
    assert [barcode.text for barcode in decode(page)] == [JOIN_URL] * PANELS[layout]


@needs_poppler
def test_pdf_text_is_text_a_reader_finds(cafe, tmp_path):
    data = poster.render_poster(shop=cafe, join_url=JOIN_URL, layout="a4", fmt="pdf")

    text = pdf_text(tmp_path, data)
    with translation.override("zh-hant"):
        call_to_action = gettext("Scan to join our loyalty card")
    # The offer in the shop's language: "集 10 章 → Free latte", "每消費 NT$10 得 1 點", the welcome gift.
    offer = offers.lines(cafe, "zh-hant")
    assert len(offer) == 3 and "10" in offer[0] and "NT$10" in offer[1]
    for expected in ("晨光咖啡MorningLight", *offer, call_to_action, JOIN_URL):
        assert squeezed(expected) in text
    # Chinese as Chinese characters (not glyph numbers), from the embedded Noto Sans CJK.
    assert "晨光咖啡" in text and re.search(r"[\u4e00-\u9fff]", call_to_action)
    assert b"NotoSansCJKTC" in data and b"/FontFile3" in data
    # The QR code is drawn, not pasted: without a logo there is no picture in the file.
    assert b"/Subtype /Image" not in data


@needs_poppler
def test_the_second_language_says_it_all_again_under_the_first(cafe, tmp_path):
    cafe.poster_second_language = "en"

    text = pdf_text(tmp_path, poster.render_poster(shop=cafe, join_url=JOIN_URL, layout="a4", fmt="pdf"))

    for language in ("zh-hant", "en"):
        with translation.override(language):
            call_to_action = gettext("Scan to join our loyalty card")
        assert squeezed(call_to_action) in text, language
        for line in offers.lines(cafe, language):
            assert squeezed(line) in text, (language, line)
    assert text.count(squeezed(offers.lines(cafe, "zh-hant")[0])) == 1 and text.count(squeezed(OFFER)) == 1


@needs_poppler
def test_a_second_language_that_is_the_shops_own_is_not_said_twice(cafe, tmp_path):
    cafe.poster_second_language = "zh-hant"

    text = pdf_text(tmp_path, poster.render_poster(shop=cafe, join_url=JOIN_URL, layout="a4", fmt="pdf"))

    assert text.count(squeezed(offers.lines(cafe, "zh-hant")[0])) == 1 and squeezed(OFFER) not in text
    assert poster.poster_words(cafe).second_language == ""


@needs_poppler
def test_tent_is_one_a4_sheet_with_the_poster_twice_and_a_fold_between(cafe, tmp_path):
    cafe.poster_second_language = "en"
    data = poster.render_poster(shop=cafe, join_url=JOIN_URL, layout="tent", fmt="pdf")

    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    text = pdf_text(tmp_path, data)
    for expected in ("晨光咖啡MorningLight", JOIN_URL):
        assert text.count(squeezed(expected)) == 2, expected
    # Two panels, each in two languages.
    assert text.count(squeezed(OFFER)) == 2
    assert text.count(squeezed(offers.lines(cafe, "zh-hant")[0])) == 2
    with translation.override("zh-hant"):
        assert squeezed(gettext("Fold along the dashed line")) in text

    page = rasterise(tmp_path, data)
    top = page.crop((0, 0, page.width, page.height // 2))
    bottom = page.crop((0, page.height - page.height // 2, page.width, page.height))
    assert [barcode.text for barcode in decode(bottom)] == [JOIN_URL]
    # Folded, the top half stands upright on the other side of the table: it is the bottom half turned round.
    turned = top.transpose(Image.Transpose.ROTATE_180)
    assert [barcode.text for barcode in decode(turned)] == [JOIN_URL]
    difference = ImageStat.Stat(ImageChops.difference(turned.convert("L"), bottom.convert("L"))).mean[0]
    assert difference < 8  # out of 255: the fold line and its hint, and a pixel of rounding


def test_tent_png_top_half_is_the_bottom_half_turned_round(cafe):
    image, boxes = poster.compose(shop=cafe, join_url=JOIN_URL, spec=poster.LAYOUTS["tent"])

    middle = image.height // 2
    top = image.crop((0, 0, image.width, middle)).transpose(Image.Transpose.ROTATE_180)
    bottom = image.crop((0, middle, image.width, image.height))
    fold = boxes["fold_hint"]
    # Away from the fold (its line, its marks and its hint), the two halves are the same picture.
    clear = fold[3] - middle + 5
    assert (
        ImageChops.difference(top.crop((0, clear, *top.size)), bottom.crop((0, clear, *bottom.size))).getbbox() is None
    )
    # The dashed line runs across the middle, broken by the hint to fold there.
    row = [image.getpixel((x, middle)) for x in range(0, image.width, 4)]
    assert 10 < sum(pixel != poster.WHITE for pixel in row) < len(row) - 10
    assert boxes["qr"][1] > middle and decode(bottom)[0].text == JOIN_URL


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
    text = shop.name + call_to_action + CHINESE_CALL_TO_ACTION[language] + JOIN_URL + "10 stamps → NT$10"
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
@pytest.mark.parametrize("second_language", ["", "en"])
def test_long_name_and_link_keep_inside_the_margins_without_overlapping(layout, with_logo, second_language, cafe):
    cafe.name, cafe.logo, cafe.poster_second_language = LONG_NAME, image_upload() if with_logo else "", second_language
    cafe.save()
    spec = poster.LAYOUTS[layout]

    image, boxes = poster.compose(shop=cafe, join_url=LONG_URL, spec=spec)

    # On a tent, the boxes are the upright (lower) panel's; the fold's hint sits between the panels.
    boxes.pop("fold_hint", None)
    margin = round(spec.margin * poster.MM)
    panel_top = image.height - spec.panel[1]
    for name, (left, top, right, bottom) in boxes.items():
        assert margin <= left < right <= image.width - margin, name
        assert panel_top + margin <= top < bottom <= image.height - margin, name
    band = boxes["band"]
    inside_band = [boxes["name"]] + ([boxes["logo"]] if with_logo else [])
    for left, top, right, bottom in inside_band:
        assert band[0] <= left and band[1] <= top and right <= band[2] and bottom <= band[3]
    names = ["band", "qr", "offer", "headline", "url"] + (
        ["second_offer", "second_headline"] if second_language else []
    )
    blocks = [boxes[name] for name in names]
    for a, b in itertools.combinations(blocks, 2):
        assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    assert [barcode.text for barcode in decode(image)] == [LONG_URL] * PANELS[layout]


def test_the_offer_is_in_large_type_and_the_second_language_smaller(cafe):
    cafe.poster_second_language = "en"

    sheet = poster.plan(shop=cafe, join_url=JOIN_URL, spec=poster.LAYOUTS["a4"])

    sizes = {}
    for item in sheet.panel:
        if isinstance(item, poster._Line):
            sizes.setdefault(item.text, item.size)
    url_size = sizes[JOIN_URL]
    offer_size = sizes[offers.lines(cafe, "zh-hant")[0]]
    assert offer_size >= 28 * poster.PT  # points: read from a few steps away
    assert offer_size > 2 * url_size and sizes[OFFER] < offer_size  # the second language smaller
    boxes = sheet.boxes
    assert boxes["offer"][3] <= boxes["second_offer"][1] <= boxes["qr"][1]
    assert boxes["second_offer"][3] - boxes["second_offer"][1] < boxes["offer"][3] - boxes["offer"][1]


def test_a_shop_with_nothing_to_offer_yet_says_what_the_card_is_for():
    shop = ShopFactory(name="Morning Light", language="en")

    assert poster.poster_words(shop).offer == ("Collect stamps, get rewards",)


def test_many_offers_still_leave_room_for_the_qr_code(cafe):
    for number in range(6):
        StampProgramFactory(shop=cafe, stamps_needed=5 + number, reward=f"A slice of cake number {number} of the day")
    cafe.poster_second_language = "en"

    for layout in ("a4", "tent"):
        image, boxes = poster.compose(shop=cafe, join_url=JOIN_URL, spec=poster.LAYOUTS[layout])
        barcodes = decode(image)
        assert [barcode.text for barcode in barcodes] == [JOIN_URL] * PANELS[layout]
        assert min(symbol_width_mm(barcode) for barcode in barcodes) >= SMALLEST_QR_MM[layout]
        assert boxes["url"][3] <= image.height


@pytest.mark.parametrize("layout", ["a4", "tent"])
def test_the_same_poster_gives_the_same_bytes(layout, cafe):
    cafe.logo, cafe.poster_second_language = image_upload(), "en"
    cafe.save()

    for fmt in ("png", "pdf"):
        first = poster.render_poster(shop=cafe, join_url=JOIN_URL, layout=layout, fmt=fmt)
        assert poster.render_poster(shop=cafe, join_url=JOIN_URL, layout=layout, fmt=fmt) == first


def test_a_welcome_gift_that_ended_is_not_on_the_poster(cafe):
    campaign = Campaign.objects.get(shop=cafe)
    campaign.ends_at = timezone.now() - timedelta(minutes=1)
    campaign.save()

    assert not any("welcome" in line for line in poster.poster_words(cafe).offer)


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
    monkeypatch.setattr(poster.fonts, "DEBIAN_FONT", tmp_path / "absent.ttc")
    yield
    poster.cjk_font_path.cache_clear()


def test_a_missing_font_is_a_clear_error(no_cjk_font):
    with pytest.raises(ImproperlyConfigured, match="noto-cjk-sans-otc"):
        poster.cjk_font_path()
