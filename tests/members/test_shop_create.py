import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from members.models import Shop, StaffMember
from members.roles import Role

from ..images import bomb_upload, image_upload

URL = reverse("members:shop_create")


def shop_data(**overrides):
    data = {
        "name": "Morning Brew",
        "slug": "morning-brew",
        "brand_colour": "#336699",
        "currency": "TWD",
        "time_zone": "Asia/Taipei",
        "language": "zh-hant",
    }
    data.update(overrides)
    return data


@pytest.fixture
def client_user(client, user):
    client.force_login(user)
    return client, user


def test_anonymous_is_sent_to_log_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_wrong_method_is_refused(client_user):
    client, _user = client_user
    assert client.put(URL).status_code == 405


def test_creating_a_shop_makes_the_user_its_owner(client_user):
    client, user = client_user
    response = client.post(URL, shop_data(logo=image_upload(size=(1200, 800))))
    assert response.status_code == 302
    shop = Shop.objects.get(slug="morning-brew")
    assert response["Location"] == reverse("members:shop_home", args=[shop.slug])
    assert StaffMember.objects.get(shop=shop, user=user).role == Role.OWNER
    assert (shop.currency, shop.time_zone, shop.language, shop.brand_colour) == (
        "TWD",
        "Asia/Taipei",
        "zh-hant",
        "#336699",
    )
    # Re-encoded as PNG and resized to fit 512 x 512.
    with Image.open(shop.logo.path) as logo:
        assert logo.format == "PNG"
        assert max(logo.size) == 512
    assert shop.logo.name.endswith(".png") and "logo" not in shop.logo.name.rsplit("/", 1)[-1]


def test_a_jpeg_logo_is_stored_as_png_without_metadata(client_user):
    client, _user = client_user
    client.post(URL, shop_data(logo=image_upload("photo.jpg", fmt="JPEG")))
    shop = Shop.objects.get(slug="morning-brew")
    with Image.open(shop.logo.path) as logo:
        assert logo.format == "PNG"
        assert not logo.info.get("exif")


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("logo.png", b"this is not an image", content_type="image/png"), "not an image"),
        (SimpleUploadedFile("logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, content_type="image/png"), "not an image"),
        (bomb_upload(), "too large in pixels"),
        (
            SimpleUploadedFile("big.png", b"\0" * (2 * 1024 * 1024 + 1), content_type="image/png"),
            "images may be at most",
        ),
    ],
    ids=["text", "truncated-png", "decompression-bomb", "too-many-bytes"],
)
def test_a_bad_logo_gets_a_clear_error_and_creates_nothing(client_user, upload, message):
    client, _user = client_user
    response = client.post(URL, shop_data(logo=upload))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Shop.objects.exists()
    assert not StaffMember.objects.exists()


def test_a_taken_slug_is_refused(client_user, world):
    client, _user = client_user
    response = client.post(URL, shop_data(slug=world.shop.slug))
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Shop.objects.count() == 2


@pytest.mark.parametrize(
    "field,value",
    [
        ("slug", "no spaces"),
        ("brand_colour", "red"),
        ("currency", "XXX"),
        ("time_zone", "Mars/Base"),
        ("language", "fr"),
    ],
)
def test_invalid_fields_are_refused(client_user, field, value):
    client, _user = client_user
    response = client.post(URL, shop_data(**{field: value}))
    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.content.decode()
    assert not Shop.objects.exists()


def test_the_form_page_renders_in_a_fixed_number_of_queries(client_user, django_assert_max_num_queries):
    client, _user = client_user
    with django_assert_max_num_queries(4):
        response = client.get(URL)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("name", "taken", "expected"),
    [("Morning Brew", [], "morning-brew"), ("Morning Brew", ["morning-brew"], "morning-brew-2"),
     ("Café Ümlaut & Co", [], "cafe-umlaut-co"), ("晨光咖啡", [], None)],
)  # fmt: skip
def test_an_empty_web_address_is_made_from_the_name(client_user, name, taken, expected):
    from ..factories import ShopFactory

    for slug in taken:
        ShopFactory(slug=slug)
    client, user = client_user
    response = client.post(URL, shop_data(name=name, slug=""))
    shop = Shop.objects.get(name=name, staff__user=user)
    assert response.status_code == 302 and response["Location"].endswith(f"/s/{shop.slug}/")
    if expected:
        assert shop.slug == expected
    else:  # no Latin letters: a short made-up address
        assert re.fullmatch(r"shop-[a-z0-9]{6}", shop.slug)


def test_the_create_page_suggests_the_address_as_the_name_is_typed(client_user):
    client, _user = client_user
    body = client.get(URL).content.decode()
    assert 'data-slug-source="id_slug"' in body and "js/shop-create" in body
    assert "Leave it empty and we make one from the name" in body


def test_the_first_stamp_card_speaks_the_owners_language(client_user):
    from django.utils import translation

    from rewards.models import StampProgram

    client, _user = client_user
    client.cookies["django_language"] = "zh-hant"
    client.post(URL, shop_data(language="en"))
    program = StampProgram.objects.get(shop__slug="morning-brew")
    with translation.override("zh-hant"):
        assert program.name == translation.gettext("Coffee card") != "Coffee card"
