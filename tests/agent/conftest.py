"""Shared fixtures: a small model trained once per session from a hand-written fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.datasets import load_labelled
from agent.train import train

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="session")
def tiny_csv() -> Path:
    return FIXTURES / "tiny_tickets.csv"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, tiny_csv: Path) -> Path:
    """TF-IDF + sentence-encoder model trained on 40 hand-written tickets (a few seconds)."""
    out = tmp_path_factory.mktemp("tiny-model")
    train(load_labelled(tiny_csv), out, folds=3)
    return out
