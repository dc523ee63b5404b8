"""Every endpoint's authorisation: no key, a revoked or made-up key: 401; a key of another shop:
404, the same answer as a shop that does not exist; a scope too low: 403. Nothing changes."""

import pytest

from members.tokens import member_qr_payload
from rewards.models import ApiKey, ApiRequest, LedgerEntry, Voucher
from tests.factories import CatalogueRewardFactory, MemberFactory, VoucherFactory

from .conftest import operation

pytestmark = pytest.mark.usefixtures("ledger_reconciles")

# operation id -> the scope it needs
SCOPES = {
    "lookup": "read",
    "member_get": "read",
    "member_history": "read",
    "member_create": "counter",
    "visit_record": "counter",
    "purchase_record": "counter",
    "voucher_redeem": "counter",
    "reward_redeem": "counter",
    "refund": "admin",
}


@pytest.fixture
def calls(world, member, program, rule):
    """Each endpoint with valid arguments and body for Alice's café."""
    voucher = VoucherFactory(member=member)
    reward = CatalogueRewardFactory(shop=world.shop, cost_points=0)
    path = {"shop_slug": world.shop.slug, "member_id": member.public_id}
    return {
        "lookup": ({"shop_slug": world.shop.slug}, {"q": member_qr_payload(member)}),
        "member_get": (path, None),
        "member_history": (path, None),
        "member_create": ({"shop_slug": world.shop.slug}, {"name": "Lin", "phone": "0912 345 678"}),
        "visit_record": (path, {}),
        "purchase_record": (path, {"amount": "120", "receipt_id": "R-9"}),
        "voucher_redeem": ({**path, "code": voucher.code}, None),
        "reward_redeem": ({**path, "reward_id": reward.public_id}, None),
        "refund": (path, {"receipt_id": "R-1", "amount": "10"}),
    }


def _state():
    return (
        LedgerEntry.objects.count(),
        list(Voucher.objects.values_list("pk", "status")),
        ApiRequest.objects.count(),
        list(ApiKey.objects.order_by("pk").values_list("pk", "revoked_at")),
    )


def test_every_operation_is_covered_here():
    from .conftest import openapi

    ids = {op["operationId"] for methods in openapi()["paths"].values() for op in methods.values()}
    assert ids == set(SCOPES)
    for operation_id in SCOPES:
        assert "401" in operation(operation_id)["responses"]


@pytest.mark.parametrize("operation_id", sorted(SCOPES))
@pytest.mark.parametrize(
    "who", ["none", "malformed", "made_up", "revoked", "third_shop", "other_shop", "unknown_shop", "too_low"]
)
def test_refused(api, keys, world, calls, operation_id, who):
    path, data = calls[operation_id]
    key = {
        "none": None,
        "malformed": "Basic abc",
        "made_up": "lk_deadbeef_" + "x" * 43,
        "revoked": keys.revoked,
        "third_shop": keys.third_shop,
        "other_shop": keys.other_shop,
        "unknown_shop": keys.admin,
        "too_low": {"read": None, "counter": keys.read, "admin": keys.counter}[SCOPES[operation_id]],
    }[who]
    if who == "too_low" and key is None:
        pytest.skip("the lowest scope has none below it")
    if who == "unknown_shop":
        path = {**path, "shop_slug": "no-such-shop"}
    before = _state()
    response = api.call(operation_id, key, data=data, **path)
    expected = {"none": 401, "malformed": 401, "made_up": 401, "revoked": 401, "too_low": 403}.get(who, 404)
    assert response.status_code == expected, response.content
    if expected == 404:
        # Another shop's key learns nothing: the same body as a shop that does not exist.
        assert response.json() == {"code": "not_found", "message": "Not found.", "errors": None}
    assert response.json()["code"] == {401: "unauthorized", 403: "forbidden", 404: "not_found"}[expected]
    assert _state() == before


def test_a_bearer_header_without_the_key_is_401(api, world, member):
    response = api.call(
        "member_get", None, headers={"Authorization": "Bearer "}, shop_slug=world.shop.slug, member_id=member.public_id
    )
    assert response.status_code == 401


def test_another_shops_member_through_ones_own_shop_is_404(api, keys, world):
    daves = MemberFactory(shop=world.other_shop)
    response = api.call("member_get", keys.admin, shop_slug=world.shop.slug, member_id=daves.public_id)
    assert response.status_code == 404
    response = api.call("visit_record", keys.admin, data={}, shop_slug=world.shop.slug, member_id=daves.public_id)
    assert response.status_code == 404
    assert not LedgerEntry.objects.filter(member=daves).exists()


def test_a_key_records_its_use_at_most_once_a_minute(api, keys, world, member, django_assert_num_queries):
    key = ApiKey.objects.get(name="Till read")
    assert key.last_used_at is None
    api.call("member_get", keys.read, shop_slug=world.shop.slug, member_id=member.public_id)
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    api.call("member_get", keys.read, shop_slug=world.shop.slug, member_id=member.public_id)
    key.refresh_from_db()
    assert key.last_used_at == first
