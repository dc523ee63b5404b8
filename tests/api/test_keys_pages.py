"""The owner's API keys page: a new key is shown once, lists never show a secret, revoking stops
the key at once; other shops get 404, staff and managers 403."""

import re

import pytest
from django.urls import reverse

from rewards.api.keys import api_key_create
from rewards.models import ApiKey

pytestmark = pytest.mark.django_db


def _url(world, name="rewards:api_keys", *args):
    return reverse(name, args=[world.shop.slug, *args])


def test_a_new_key_is_shown_once_and_works(world, member, api):
    owner = world.client(world.alice)
    response = owner.post(_url(world), {"name": "Till 1", "scope": "read"})
    assert response.status_code == 200
    page = response.content.decode()
    secret = re.search(r'value="(lk_[0-9a-f]{8}_[A-Za-z0-9_-]{40,})"', page).group(1)
    key = ApiKey.objects.get(shop=world.shop)
    assert (key.name, key.scope, key.created_by) == ("Till 1", "read", world.alice)
    assert secret not in key.hash and len(key.hash) == 64
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    listed = owner.get(_url(world)).content.decode()
    assert "Till 1" in listed and f"lk_{key.prefix}_" in listed and secret not in listed
    ok = api.call("member_get", secret, shop_slug=world.shop.slug, member_id=member.public_id)
    assert ok.status_code == 200
    assert "Never" not in owner.get(_url(world)).content.decode()  # last used is shown


def test_a_key_needs_a_name_and_a_scope(world):
    response = world.client(world.alice).post(_url(world), {"name": "", "scope": "root"})
    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_revoke_stops_the_key(world, member, api):
    key, secret = api_key_create(shop=world.shop, name="Till", scope="counter", by=world.alice)
    response = world.client(world.alice).post(_url(world, "rewards:api_key_revoke", key.public_id))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    refused = api.call("member_get", secret, shop_slug=world.shop.slug, member_id=member.public_id)
    assert refused.status_code == 401
    assert "Revoked" in world.client(world.alice).get(_url(world)).content.decode()
    # both are in the shop's audit trail, by the key's name and start, never its secret
    trail = world.client(world.alice).get(reverse("members:audit_list", args=[world.shop.slug])).content.decode()
    assert "Created an API key" in trail and "Revoked an API key" in trail
    assert key.prefix in trail and secret not in trail


@pytest.mark.parametrize("who", ["bob", "carol"])
def test_managers_and_staff_get_403(world, who):
    client = world.client(getattr(world, who))
    assert client.get(_url(world)).status_code == 403
    assert client.post(_url(world), {"name": "Mine", "scope": "admin"}).status_code == 403
    key, _secret = api_key_create(shop=world.shop, name="Till", scope="counter", by=world.alice)
    assert client.post(_url(world, "rewards:api_key_revoke", key.public_id)).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
    assert ApiKey.objects.count() == 1


def test_another_shops_owner_gets_404(world):
    dave = world.client(world.dave)
    key, _secret = api_key_create(shop=world.shop, name="Till", scope="counter", by=world.alice)
    assert dave.get(_url(world)).status_code == 404
    assert dave.post(_url(world, "rewards:api_key_revoke", key.public_id)).status_code == 404
    # Nor through his own shop.
    own = reverse("rewards:api_key_revoke", args=[world.other_shop.slug, key.public_id])
    assert dave.post(own).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_the_settings_page_links_to_the_keys(world):
    page = world.client(world.alice).get(reverse("members:shop_settings", args=[world.shop.slug]))
    assert _url(world) in page.content.decode()


def test_the_list_runs_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    for n in range(5):
        api_key_create(shop=world.shop, name=f"Till {n}", scope="read", by=world.alice)
    client = world.client(world.alice)
    client.get(_url(world))
    with django_assert_max_num_queries(12):
        client.get(_url(world))
