import io

import pytest
import zxingcpp
from django.urls import reverse
from PIL import Image


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
