import uuid

import pytest

from rewards import ledger

from ..factories import MemberFactory


@pytest.fixture(autouse=True)
def _ledger_reconciles(request):
    """After every rewards test, each cached balance equals the sum of its ledger."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (marker and marker.kwargs.get("transaction"))
    # Set up the database first so that this check runs before it is torn down.
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    assert ledger.drift() == []


@pytest.fixture
def program(world):
    from rewards.models import StampProgram

    return StampProgram.objects.create(
        shop=world.shop, name="Coffee card", reward="Free latte", stamps_needed=10, min_minutes_between_visits=0
    )


@pytest.fixture
def member(world):
    return MemberFactory(shop=world.shop, name="Mia Chen")


def key() -> str:
    return uuid.uuid4().hex
