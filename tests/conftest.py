"""Named people, as in every test of this suite.

Alice owns "Alice's Café", Bob manages it and Carol works its counter. Dave
owns another shop and is the outsider who must never see Alice's things.
"""

import uuid
from dataclasses import dataclass

import pytest
from django.test import Client

from members.models import Shop, User
from members.roles import Role
from rewards import ledger

from .factories import MemberFactory, ShopFactory, StaffFactory, StampProgramFactory, UserFactory


@dataclass
class World:
    shop: Shop
    alice: User
    bob: User
    carol: User
    other_shop: Shop
    dave: User

    def client(self, user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client


@pytest.fixture
def world(db) -> World:
    shop = ShopFactory(name="Alice's Café", slug="alices-cafe")
    alice = StaffFactory(shop=shop, role=Role.OWNER, user__email="alice@example.com").user
    bob = StaffFactory(shop=shop, role=Role.MANAGER, user__email="bob@example.com").user
    carol = StaffFactory(shop=shop, role=Role.STAFF, user__email="carol@example.com").user
    other_shop = ShopFactory(name="Dave's Bakery", slug="daves-bakery")
    dave = StaffFactory(shop=other_shop, role=Role.OWNER, user__email="dave@example.com").user
    return World(shop, alice, bob, carol, other_shop, dave)


@pytest.fixture
def alice_client(world) -> Client:
    return world.client(world.alice)


@pytest.fixture
def program(world):
    """Alice's coffee card: ten stamps for a free latte, with no wait between visits."""
    return StampProgramFactory(
        shop=world.shop, name="Coffee card", reward="Free latte", stamps_needed=10, min_minutes_between_visits=0
    )


@pytest.fixture
def member(world):
    """Mia Chen, a member of Alice's café."""
    return MemberFactory(shop=world.shop, name="Mia Chen")


def key() -> str:
    """A fresh idempotency key for a counter action."""
    return uuid.uuid4().hex


@pytest.fixture
def ledger_reconciles(request):
    """After the test, each cached balance equals the sum of its ledger.

    Every test of the rewards and campaigns packages uses it (their conftest); elsewhere a module
    asks for it with ``pytestmark = pytest.mark.usefixtures("ledger_reconciles")``.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (marker and marker.kwargs.get("transaction"))
    # Set up the database first so that this check runs before it is torn down.
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    assert ledger.drift() == []


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters, cached sessions and shops' held settings must not leak between tests."""
    from django.core.cache import cache

    from members.config import forget

    cache.clear()
    forget()


@pytest.fixture(autouse=True)
def _language_of_its_own():
    """A request in Chinese leaves the thread speaking Chinese; the next test starts in English."""
    from django.utils import translation

    yield
    translation.deactivate()
