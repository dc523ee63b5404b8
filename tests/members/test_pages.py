"""Pages render in a fixed number of queries and in the portal's own layout."""

import pytest
from django.urls import reverse

from ..factories import MemberFactory


def test_landing_page_for_visitors(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert "Create your shop" in response.content.decode()


def test_home_lists_my_shops(world, django_assert_num_queries):
    client = world.client(world.dave)
    client.get("/")
    # The user, their roles, and whether they hold cards as a customer (the session comes from the cache).
    with django_assert_num_queries(3):
        response = client.get("/")
    body = response.content.decode()
    assert "Dave&#x27;s Bakery" in body
    assert "Alice" not in body


def test_shop_home(world, alice_client, django_assert_num_queries):
    url = reverse("members:shop_home", args=[world.shop.slug])
    alice_client.get(url)
    # the user with their role, the shop switcher, members, staff; the first day's steps kept, and
    # whether the first stamp and the first campaign happened since
    with django_assert_num_queries(7):
        response = alice_client.get(url)
    assert response.status_code == 200
    # Once every step is done, one query says so.
    from members import onboarding

    for step in onboarding.STEPS:
        onboarding.record(world.shop, step)
    with django_assert_num_queries(5):
        response = alice_client.get(url)
    assert "Your first day" not in response.content.decode()
    # The shop's brand colour reaches the page through the nonce'd style.
    assert world.shop.brand_colour in response.content.decode()
    assert "nonce=" in response.content.decode()


@pytest.mark.parametrize("count", [1, 30])
def test_member_list_queries_do_not_grow_with_members(world, django_assert_num_queries, count):
    MemberFactory.create_batch(count, shop=world.shop)
    MemberFactory(shop=world.other_shop, name="Outsider Olga")
    client = world.client(world.bob)
    url = reverse("members:member_list", args=[world.shop.slug])
    client.get(url)
    # the user with their role, the shop switcher, the members
    with django_assert_num_queries(3):
        response = client.get(url)
    assert response.content.decode().count("<tr>") == count + 1
    assert "Outsider Olga" not in response.content.decode()


def test_member_search_and_htmx_fragment(world):
    MemberFactory(shop=world.shop, name="Yi-Ting Chang")
    MemberFactory(shop=world.shop, name="Liam Smith")
    client = world.client(world.bob)
    url = reverse("members:member_list", args=[world.shop.slug])
    response = client.get(url, {"q": "yi-ting"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="results">')
    assert "Yi-Ting Chang" in body and "Liam Smith" not in body


def test_allauth_pages_use_the_portal_layout(client, db):
    for name in ["account_login", "account_signup", "account_reset_password", "account_request_login_code"]:
        response = client.get(reverse(name))
        body = response.content.decode()
        assert response.status_code == 200, name
        assert 'class="skip-link"' in body, name
        assert "css/site.css" in body, name


def test_csp_header_allows_only_our_own_scripts(client, db):
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_language_switcher_changes_the_language(client, db):
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"}, follow=True)
    assert '<html lang="zh-hans">' in response.content.decode()


def test_a_big_shops_member_count_is_kept_a_few_minutes(world, alice_client, monkeypatch):
    """Counting a million members takes longer than the shop's home may: above a bound the count is
    kept (and says when it was counted); below it, every visit counts exactly."""
    from members.views import shop as shop_views

    url = reverse("members:shop_home", args=[world.shop.slug])
    MemberFactory.create_batch(3, shop=world.shop)
    body = alice_client.get(url).content.decode()
    assert "<dd>3</dd>" in body.replace("\n", "")
    monkeypatch.setattr(shop_views, "EXACT_UP_TO", 2)
    assert "counted at" in alice_client.get(url).content.decode()
    MemberFactory(shop=world.shop)
    body = alice_client.get(url).content.decode()
    assert "<dd>3 <small" in body and "counted at" in body  # kept, not counted again
