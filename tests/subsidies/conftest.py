"""The subsidy tests' fixtures."""

from __future__ import annotations

import pytest

from orchestrator.subsidies import ledger
from tests.subsidies import with_budget


@pytest.fixture
def ample_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Shouguang budget no test of the session spends: other tests' filings share the month."""
    monkeypatch.setattr(ledger, "load_reference", lambda: with_budget(10**9))
