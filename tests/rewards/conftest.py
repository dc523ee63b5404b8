import pytest


@pytest.fixture(autouse=True)
def _ledger_reconciles(ledger_reconciles):
    """After every rewards test, each cached balance equals the sum of its ledger (tests/conftest.py)."""
