"""Pages cost the same number of SQL queries whatever the size of the shop: the counter (a look-up
and an action), the card, the member page and the members list, with every feature on, for a shop
of one member and for the same shop with fifty. The clock is the benchmark's business
(tests/bench); the shape is pinned here."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.tokens import card_token
from rewards import services
from rewards.models import TierPolicy

from ..conftest import key
from ..factories import (
    CampaignFactory,
    CatalogueRewardFactory,
    MemberFactory,
    PointsRuleFactory,
    TierFactory,
    TierPolicyFactory,
)

pytestmark = pytest.mark.usefixtures("ledger_reconciles")


def history(member, program, staff, n):
    """A member with a few visits, purchases and a full card behind them."""
    for i in range(n):
        services.stamp_add(member=member, program=program, count=3, staff=staff, idempotency_key=key())
        services.purchase_record(member=member, amount=Decimal(120 + i), staff=staff, idempotency_key=key())


@pytest.fixture
def shop(world, program):
    PointsRuleFactory(shop=world.shop, step_amount=10, purchase_stamps=program, bill_points=100, bill_value=10)
    TierPolicyFactory(shop=world.shop, basis=TierPolicy.Basis.POINTS)
    TierFactory(shop=world.shop, name="Silver", threshold=50)
    CatalogueRewardFactory(shop=world.shop, name="Cookie", cost_points=20)
    CampaignFactory(shop=world.shop, kind="boost", name="Double days", multiplier=2)
    return world.shop


def costs(world, program, member) -> dict[str, int]:
    client = world.client(world.alice)
    slug = world.shop.slug
    pages = {
        "counter look-up": ("get", reverse("rewards:counter", args=[slug]) + f"?q={member.code}"),
        "card": ("get", reverse("rewards:card", args=[card_token(member)])),
        "member page": ("get", reverse("rewards:member_detail", args=[slug, member.public_id])),
        "members list": ("get", reverse("members:member_list", args=[slug])),
        "+1 stamp": ("post", reverse("rewards:counter_stamp", args=[slug, member.public_id])),
    }
    counted = {}
    for name, (method, url) in pages.items():
        data = {"program": program.public_id, "count": 1, "key": key()} if method == "post" else None
        with CaptureQueriesContext(connection) as queries:
            response = getattr(client, method)(url, data, HTTP_HX_REQUEST="true")
        assert response.status_code == 200, name
        counted[name] = len(queries)
    return counted


def test_pages_cost_the_same_queries_for_one_member_and_for_fifty(world, program, shop):
    first = MemberFactory(shop=shop, name="First Member")
    history(first, program, world.carol, 3)
    # Every setting held once (the shop's events among them), as on a server that has been running.
    world.client(world.alice).get(reverse("rewards:counter", args=[world.shop.slug]) + f"?q={first.code}")
    alone = costs(world, program, first)
    for n in range(49):
        other = MemberFactory(shop=shop, name=f"Member {n}")
        history(other, program, world.carol, 1 + n % 3)
    assert costs(world, program, first) == alone
