"""Idempotency-Key: a retry answers exactly the first result and does nothing twice; the same
key with another request is 422; answers are kept a day."""

from datetime import timedelta

import pytest
from django.utils import timezone

from rewards.api import idempotency
from rewards.models import ApiRequest, LedgerEntry, Member
from tests.factories import CatalogueRewardFactory

pytestmark = pytest.mark.usefixtures("ledger_reconciles")


def _path(world, member, **more):
    return {"shop_slug": world.shop.slug, "member_id": member.public_id, **more}


def test_a_replayed_key_answers_the_first_result_and_writes_nothing_more(api, keys, world, member, program):
    headers = {"Idempotency-Key": "visit-42"}
    first = api.call("visit_record", keys.counter, data={"count": 2}, headers=headers, **_path(world, member))
    assert first.status_code == 200 and "Idempotent-Replayed" not in first
    rows = LedgerEntry.objects.count()
    again = api.call("visit_record", keys.counter, data={"count": 2}, headers=headers, **_path(world, member))
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert LedgerEntry.objects.count() == rows == 1
    # Another key's same Idempotency-Key is another request.
    other = api.call("visit_record", keys.admin, data={"count": 2}, headers=headers, **_path(world, member))
    assert other.json()["group"] != first.json()["group"]


def test_the_same_key_with_another_body_is_422_and_changes_nothing(api, keys, world, member, program):
    headers = {"Idempotency-Key": "visit-43"}
    api.call("visit_record", keys.counter, data={"count": 1}, headers=headers, **_path(world, member))
    response = api.call("visit_record", keys.counter, data={"count": 3}, headers=headers, **_path(world, member))
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    elsewhere = api.call("member_create", keys.counter, data={"name": "X", "phone": "0912345678"}, headers=headers,
                         shop_slug=world.shop.slug)  # fmt: skip
    assert elsewhere.status_code == 422
    assert LedgerEntry.objects.count() == 1
    assert not Member.objects.filter(name="X").exists()


def test_a_refusal_is_replayed_too(api, keys, world, member, rule):
    cake = CatalogueRewardFactory(shop=world.shop, cost_points=10)
    headers = {"Idempotency-Key": "cake-1"}
    path = _path(world, member, reward_id=cake.public_id)
    first = api.call("reward_redeem", keys.counter, headers=headers, **path)
    assert first.status_code == 409
    api.call("purchase_record", keys.counter, data={"amount": "500", "receipt_id": "R1"}, **_path(world, member))
    again = api.call("reward_redeem", keys.counter, headers=headers, **path)
    assert (again.status_code, again.json()) == (409, first.json())
    fresh = api.call("reward_redeem", keys.counter, headers={"Idempotency-Key": "cake-2"}, **path)
    assert fresh.status_code == 200


def test_a_created_member_is_answered_again_with_201(api, keys, world):
    headers = {"Idempotency-Key": "join-1"}
    data = {"name": "Lin", "email": "lin@example.com"}
    first = api.call("member_create", keys.counter, data=data, headers=headers, shop_slug=world.shop.slug)
    again = api.call("member_create", keys.counter, data=data, headers=headers, shop_slug=world.shop.slug)
    assert (again.status_code, again.json()) == (201, first.json())


def test_bad_input_is_not_kept(api, keys, world, member, rule):
    headers = {"Idempotency-Key": "buy-1"}
    bad = api.call("purchase_record", keys.counter, data={"amount": "12.5", "receipt_id": "R1"}, headers=headers,
                   **_path(world, member))  # fmt: skip
    assert bad.status_code == 422
    good = api.call("purchase_record", keys.counter, data={"amount": "12", "receipt_id": "R1"}, headers=headers,
                    **_path(world, member))  # fmt: skip
    assert good.status_code == 200


@pytest.mark.parametrize("value", ["x" * 256, "tab\there"])
def test_an_unusable_key_is_400(api, keys, world, member, program, value):
    response = api.call(
        "visit_record", keys.counter, data={}, headers={"Idempotency-Key": value}, **_path(world, member)
    )
    assert response.status_code == 400
    assert not LedgerEntry.objects.exists()


def test_answers_are_kept_a_day(api, keys, world, member, program):
    api.call("visit_record", keys.counter, data={}, headers={"Idempotency-Key": "old"}, **_path(world, member))
    api.call("visit_record", keys.counter, data={}, headers={"Idempotency-Key": "new"}, **_path(world, member))
    ApiRequest.objects.filter(idempotency_key="old").update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency.purge() == 1
    assert list(ApiRequest.objects.values_list("idempotency_key", flat=True)) == ["new"]


def test_the_daily_beat_purges_them(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["api-requests"]
    assert entry == {"task": "rewards.tasks.purge_api_requests", "schedule": 24 * 60 * 60}
