"""API and counter spending the same points at once, on PostgreSQL with real threads, each with
its own connection: the member's lock is the same for both, so nothing is ever overdrawn."""

import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from members.models import Member
from members.roles import Role
from rewards import ledger, services
from rewards.api.keys import api_key_create
from rewards.models import ApiRequest, LedgerEntry

from ..factories import CatalogueRewardFactory, MemberFactory, PointsRuleFactory, ShopFactory, StaffFactory
from .conftest import check_against_schema

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="locking is proven on PostgreSQL only"),
]


def race(actions):
    """Run each action in its own thread, released at the same instant; return results or errors."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(i):
        try:
            barrier.wait()
            results[i] = actions[i]()
        except Exception as error:
            results[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def cafe():
    shop = ShopFactory()
    owner = StaffFactory(shop=shop, role=Role.OWNER).user
    barista = StaffFactory(shop=shop, role=Role.STAFF).user
    PointsRuleFactory(shop=shop)
    member = MemberFactory(shop=shop)
    # 100 points: enough for exactly one cake.
    services.purchase_record(member=member, amount=Decimal(1000), staff=barista, idempotency_key="start")
    cake = CatalogueRewardFactory(shop=shop, name="Cake", cost_points=100)
    _key, secret = api_key_create(shop=shop, name="Till", scope="counter", by=owner)
    return shop, barista, member, cake, secret


def _api_spend(shop, member, cake, secret, idempotency_key=None):
    def spend():
        headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
        if idempotency_key:
            headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
        url = f"/api/v1/shops/{shop.slug}/members/{member.public_id}/rewards/{cake.public_id}/redeem"
        response = Client().post(url, "{}", content_type="application/json", **headers)
        check_against_schema("reward_redeem", response)
        return ("api", response.status_code, response.json())

    return spend


def _counter_spend(shop, member, cake, client):
    def spend():
        url = reverse("rewards:counter_reward", args=[shop.slug, member.public_id])
        response = client.post(url, {"reward": str(cake.public_id), "key": uuid.uuid4().hex, "confirmed": "1"})
        return ("counter", response.status_code, None)

    return spend


@pytest.mark.parametrize("round", range(3))
def test_api_and_counter_spending_the_same_points_never_overdraw(cafe, round):
    shop, barista, member, cake, secret = cafe
    clients = []
    for _n in range(4):
        client = Client()
        client.force_login(barista)
        clients.append(client)
    actions = [_api_spend(shop, member, cake, secret) for _n in range(4)]
    actions += [_counter_spend(shop, member, cake, client) for client in clients]
    results = race(actions)
    assert not [r for r in results if isinstance(r, Exception)], results
    wins = [r for r in results if r[1] == 200]
    refusals = [r for r in results if r[1] == 409]
    assert len(wins) == 1 and len(refusals) == 7, results
    assert {r[2]["code"] for r in refusals if r[0] == "api"} <= {"not_enough_points"}
    assert Member.objects.get(pk=member.pk).points == 0
    assert LedgerEntry.objects.filter(member=member, reason="redeem").count() == 1
    assert ledger.drift() == []


def test_one_idempotency_key_sent_twice_at_once_acts_once(cafe):
    shop, _barista, member, cake, secret = cafe
    results = race([_api_spend(shop, member, cake, secret, idempotency_key="tap-1") for _n in range(6)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {r[1] for r in results} == {200}
    # Every answer names the same one action.
    assert len({r[2]["group"] for r in results}) == 1
    assert LedgerEntry.objects.filter(member=member, reason="redeem").count() == 1
    assert Member.objects.get(pk=member.pk).points == 0
    assert ApiRequest.objects.count() == 1
    assert ledger.drift() == []
