"""Every shop-scoped URL: other shops get 404, lower roles 403, strangers the log-in page."""

import pytest
from django.urls import reverse

from members.models import Invitation, Shop, StaffMember
from members.roles import PERMISSIONS, RANK, Role
from rewards.models import LedgerEntry, MemberCard, Voucher

from ..tenancy import SHOP_URLS, walk_urls

SHOP_PREFIX = "s/<slug:shop_slug>/"


def shop_patterns():
    return [(name, pattern.callback) for route, name, pattern in walk_urls() if route.startswith(SHOP_PREFIX)]


def test_every_shop_url_has_a_cross_tenant_case():
    found = {name for name, _callback in shop_patterns()}
    assert found, "no shop-scoped URLs found: did the prefix change?"
    missing = found - set(SHOP_URLS)
    assert not missing, f"add these to tests/tenancy.py SHOP_URLS: {sorted(missing)}"
    assert not set(SHOP_URLS) - found, "SHOP_URLS names URLs that no longer exist"


def test_every_shop_url_uses_the_tenancy_decorator():
    for name, callback in shop_patterns():
        assert getattr(callback, "shop_permission", None) in PERMISSIONS, f"{name} is not wrapped in @shop_view"


def _permission(name):
    return dict(shop_patterns())[name].shop_permission


def _state():
    """What a request must not change when it is refused."""
    return (
        list(Shop.objects.order_by("pk").values_list("pk", "name", "slug")),
        list(StaffMember.objects.order_by("pk").values_list("pk", "role")),
        list(Invitation.objects.order_by("pk").values_list("pk", "role", "expires_at")),
        list(LedgerEntry.objects.order_by("pk").values_list("pk", flat=True)),
        list(Voucher.objects.order_by("pk").values_list("pk", "status")),
        list(MemberCard.objects.order_by("pk").values_list("pk", "stamps")),
    )


def _call(client, name, case, shop_slug, kwargs):
    # Objects may bring form data of their own (ids of the shop's objects) as "_data".
    kwargs = dict(kwargs)
    data = {**case.data, **kwargs.pop("_data", {})}
    url = reverse(name, kwargs={"shop_slug": shop_slug, **kwargs})
    return getattr(client, case.method)(url, data)


@pytest.mark.parametrize("name", sorted(SHOP_URLS))
def test_other_shop_gets_404_and_changes_nothing(world, name):
    case = SHOP_URLS[name]
    kwargs = case.objects(world.shop)
    before = _state()
    response = _call(world.client(world.dave), name, case, world.shop.slug, kwargs)
    assert response.status_code == 404
    assert _state() == before


@pytest.mark.parametrize("name", sorted(SHOP_URLS))
def test_other_shops_object_through_own_shop_gets_404(world, name):
    case = SHOP_URLS[name]
    kwargs = case.objects(world.shop)
    if not {k for k in kwargs if k.endswith("_id")}:
        pytest.skip("URL has no object of its own")
    before = _state()
    response = _call(world.client(world.dave), name, case, world.other_shop.slug, kwargs)
    assert response.status_code == 404
    assert _state() == before


@pytest.mark.parametrize("name", sorted(SHOP_URLS))
def test_role_too_low_gets_403(world, name):
    case = SHOP_URLS[name]
    lowest = PERMISSIONS[_permission(name)][0]
    below = [user for user, role in ((world.carol, Role.STAFF), (world.bob, Role.MANAGER)) if RANK[role] < RANK[lowest]]
    if not below:
        pytest.skip("every role may use this URL")
    kwargs = case.objects(world.shop)
    for user in below:
        before = _state()
        response = _call(world.client(user), name, case, world.shop.slug, kwargs)
        assert response.status_code == 403, user.email
        assert _state() == before


@pytest.mark.parametrize("name", sorted(SHOP_URLS))
def test_lowest_allowed_role_gets_in(world, name):
    case = SHOP_URLS[name]
    lowest = PERMISSIONS[_permission(name)][0]
    user = {Role.STAFF: world.carol, Role.MANAGER: world.bob, Role.OWNER: world.alice}[lowest]
    response = _call(world.client(user), name, case, world.shop.slug, case.objects(world.shop))
    assert response.status_code in (200, 302), response.content[:500]


@pytest.mark.parametrize("name", sorted(SHOP_URLS))
def test_anonymous_is_sent_to_log_in(world, name):
    case = SHOP_URLS[name]
    response = _call(world.client(None), name, case, world.shop.slug, case.objects(world.shop))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_unknown_shop_is_the_same_404(world):
    response = world.client(world.alice).get("/s/no-such-shop/")
    assert response.status_code == 404


def test_a_shop_page_loads_the_user_with_their_role_and_still_checks_the_session(world, django_assert_num_queries):
    """The user and their role come in one query; the session is held to what Django's own check
    asks: a password changed elsewhere, or an account switched off, logs the session out."""
    url = reverse("members:shop_home", args=[world.shop.slug])
    client = world.client(world.alice)
    client.get(url)
    # user and role, members (bounded count), staff, the shop switcher; the first day's steps
    # (all done: one query)
    from members import onboarding

    for step in onboarding.STEPS:
        onboarding.record(world.shop, step)
    with django_assert_num_queries(5):
        assert client.get(url).status_code == 200

    world.alice.set_password("a-new-password-2026")
    world.alice.save()
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(url).status_code == 302  # the old session is gone, not just refused once

    carol = world.client(world.carol)
    assert carol.get(url).status_code == 200
    world.carol.is_active = False
    world.carol.save()
    assert carol.get(url).status_code == 302

    # A user with a role at another shop only: the same 404 as ever.
    assert world.client(world.dave).get(url).status_code == 404
