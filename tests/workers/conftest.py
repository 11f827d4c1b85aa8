"""The worker tests need no AWS at all, except the sweep and the sync worker's, which use the shared moto fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _moto_environment(moto_environment: None) -> None:
    """The test stage with fake credentials."""
