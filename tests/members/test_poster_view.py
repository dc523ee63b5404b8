import io
import re
import shutil
import subprocess

import pytest
import zxingcpp
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from PIL import Image

from ..factories import StampProgramFactory

needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils is not installed")


def pdf_text(tmp_path, data: bytes) -> str:
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(data)
    return subprocess.run(["pdftotext", pdf, "-"], check=True, capture_output=True, text=True).stdout


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_manager_downloads_the_poster_whose_qr_opens_the_join_page(world, fmt):
    client = world.client(world.bob)
    response = client.get(reverse("members:poster", args=[world.shop.slug, "a4", fmt]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="alices-cafe-join-poster-a4.{fmt}"'
    if fmt == "pdf":
        assert response.content.startswith(b"%PDF")
        return
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))
    assert code.text.endswith(reverse("members:join", args=[world.shop.slug]))
    path = "/" + code.text.split("/", 3)[3]
    assert client.get(path).status_code == 200


def test_unknown_layout_or_format_is_404(world):
    client = world.client(world.bob)
    assert client.get(reverse("members:poster", args=[world.shop.slug, "a3", "png"])).status_code == 404
    assert client.get(reverse("members:poster", args=[world.shop.slug, "a4", "gif"])).status_code == 404


@needs_poppler
def test_the_pdf_poster_says_what_the_card_gives_as_text(world, tmp_path):
    StampProgramFactory(shop=world.shop, stamps_needed=10, reward="Free latte")

    response = world.client(world.bob).get(reverse("members:poster", args=[world.shop.slug, "a4", "pdf"]))

    text = " ".join(pdf_text(tmp_path, response.content).split())
    assert "10 stamps → Free latte" in text
    assert "Alice's Café" in text
    assert reverse("members:join", args=[world.shop.slug]) in text


def shop_settings(shop, **changes) -> dict:
    """The shop's settings form as the owner posts it, with ``changes``."""
    return {
        "name": shop.name, "slug": shop.slug, "brand_colour": shop.brand_colour, "currency": "TWD",
        "time_zone": "Asia/Taipei", "join_asks_first": "email", **changes,
    }  # fmt: skip


@needs_poppler
def test_owner_adds_a_second_language_and_the_poster_says_it_in_both(world, tmp_path):
    StampProgramFactory(shop=world.shop, stamps_needed=10, reward="Free latte")
    client = world.client(world.alice)
    settings = shop_settings(world.shop, language="zh-hant", poster_second_language="en")
    assert client.post(reverse("members:shop_settings", args=[world.shop.slug]), settings).status_code == 302

    response = client.get(reverse("members:poster", args=[world.shop.slug, "tent", "pdf"]))

    text = pdf_text(tmp_path, response.content)
    assert len(re.findall(rb"/Type\s*/Page\b", response.content)) == 1
    for language in ("zh-hant", "en"):
        with translation.override(language):
            call_to_action = gettext("Scan to join our loyalty card")
        # Once on each side of the tent.
        assert text.count(call_to_action) == 2, language


def test_a_second_language_not_offered_is_refused(world):
    client = world.client(world.alice)
    data = shop_settings(world.shop, language="en", poster_second_language="fr")

    response = client.post(reverse("members:shop_settings", args=[world.shop.slug]), data)

    assert response.status_code == 200
    assert "poster_second_language" in response.context["form"].errors
    world.shop.refresh_from_db()
    assert world.shop.poster_second_language == ""
