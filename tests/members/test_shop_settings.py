import os

from django.urls import reverse

from members.models import Shop

from ..images import image_upload


def url(shop):
    return reverse("members:shop_settings", args=[shop.slug])


def test_owner_changes_the_shop(world, alice_client):
    response = alice_client.post(
        url(world.shop),
        {
            "name": "Alice's Coffee",
            "slug": "alices-coffee",
            "brand_colour": "#112233",
            "currency": "USD",
            "time_zone": "Europe/Berlin",
            "language": "zh-hans",
            "join_asks_first": "phone",
            "logo": image_upload(),
        },
    )
    assert response.status_code == 302
    world.shop.refresh_from_db()
    assert (world.shop.name, world.shop.slug, world.shop.currency) == ("Alice's Coffee", "alices-coffee", "USD")
    assert world.shop.join_asks_first == "phone"
    assert response["Location"] == reverse("members:shop_settings", args=["alices-coffee"])
    assert world.shop.logo


def test_replacing_the_logo_removes_the_old_file(world, alice_client, django_capture_on_commit_callbacks):
    data = {
        "name": world.shop.name,
        "slug": world.shop.slug,
        "brand_colour": "#112233",
        "currency": "TWD",
        "time_zone": "Asia/Taipei",
        "language": "en",
        "join_asks_first": "email",
    }
    alice_client.post(url(world.shop), {**data, "logo": image_upload()})
    world.shop.refresh_from_db()
    first = world.shop.logo.path
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(url(world.shop), {**data, "logo": image_upload(colour="blue")})
    world.shop.refresh_from_db()
    assert world.shop.logo.path != first
    assert not os.path.exists(first)


def test_invalid_settings_change_nothing(world, alice_client):
    before = Shop.objects.values().get(pk=world.shop.pk)
    response = alice_client.post(
        url(world.shop),
        {
            "name": "",
            "slug": world.other_shop.slug,
            "brand_colour": "#112233",
            "currency": "USD",
            "time_zone": "Asia/Taipei",
            "language": "en",
            "join_asks_first": "email",
        },
    )
    assert response.status_code == 200
    assert Shop.objects.values().get(pk=world.shop.pk) == before
    # The page's own links still use the shop's real address.
    assert reverse("members:staff_list", args=[world.shop.slug]) in response.content.decode()


def test_wrong_method(world, alice_client):
    assert alice_client.delete(url(world.shop)).status_code == 405


def test_delete_needs_the_slug_typed(world, alice_client):
    delete_url = reverse("members:shop_delete", args=[world.shop.slug])
    response = alice_client.post(delete_url, {"confirm": "nope"})
    assert response.status_code == 400
    assert Shop.objects.filter(pk=world.shop.pk).exists()
    response = alice_client.post(delete_url, {"confirm": world.shop.slug})
    assert response.status_code == 302
    assert not Shop.objects.filter(pk=world.shop.pk).exists()
    assert Shop.objects.filter(pk=world.other_shop.pk).exists()
