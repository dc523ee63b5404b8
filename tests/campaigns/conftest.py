from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import Campaign

from ..factories import CampaignFactory

TAIPEI = ZoneInfo("Asia/Taipei")


def at(text: str, tz=TAIPEI) -> datetime:
    """A moment written as the shop's wall clock: at("2027-03-10 09:30")."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


@pytest.fixture(autouse=True)
def _ledger_reconciles(ledger_reconciles):
    """As in the rewards suite: the ledger reconciles after every campaigns test (tests/conftest.py)."""


@pytest.fixture
def make(world):
    def make(kind, shop=None, **fields):
        defaults = {"name": Campaign.Kind(kind).label, "audience": Campaign.Audience.ALL}
        return CampaignFactory(shop=shop or world.shop, kind=kind, **{**defaults, **fields})

    return make
