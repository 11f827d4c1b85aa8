"""The data layer's stores and events against in-process moto (fixtures in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _moto(moto_environment: None) -> None:
    """Every test here runs in the test stage with fake credentials."""
