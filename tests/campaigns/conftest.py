from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import Campaign

# The rewards suite's fixtures: the ledger reconciles after every test here too.
from ..rewards.conftest import _ledger_reconciles, member, program  # noqa: F401

TAIPEI = ZoneInfo("Asia/Taipei")


def at(text: str, tz=TAIPEI) -> datetime:
    """A moment written as the shop's wall clock: at("2027-03-10 09:30")."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


@pytest.fixture
def make(world):
    def make(kind, shop=None, **fields):
        defaults = {"name": Campaign.Kind(kind).label, "audience": Campaign.Audience.ALL}
        return Campaign.objects.create(shop=shop or world.shop, kind=kind, **{**defaults, **fields})

    return make
