"""Each key has its own requests per minute: past them, 429 with Retry-After."""

import pytest

pytestmark = pytest.mark.django_db


def test_past_the_limit_is_429_with_retry_after(api, keys, world, member, settings):
    settings.API_REQUESTS_PER_MINUTE = 3
    path = {"shop_slug": world.shop.slug, "member_id": member.public_id}
    for _n in range(3):
        assert api.call("member_get", keys.read, **path).status_code == 200
    refused = api.call("member_get", keys.read, **path)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Writes count too, and are refused before anything is done.
    assert api.call("visit_record", keys.read, data={}, **path).status_code == 429
    # Another key has its own minute.
    assert api.call("member_get", keys.counter, **path).status_code == 200
