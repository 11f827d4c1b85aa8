"""Shared fixtures: small models trained once per session from hand-written fixtures."""

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
def tiny_messages_csv() -> Path:
    """24 hand-written short messages with a ``channel`` column (social), 6 per team."""
    return FIXTURES / "tiny_messages.csv"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, tiny_csv: Path) -> Path:
    """TF-IDF + sentence-encoder model trained on 40 hand-written tickets (a few seconds)."""
    out = tmp_path_factory.mktemp("tiny-model")
    train(load_labelled(tiny_csv), out, folds=3)
    return out


@pytest.fixture(scope="session")
def two_channel_model(tmp_path_factory: pytest.TempPathFactory, tiny_csv: Path, tiny_messages_csv: Path) -> Path:
    """Trained on the tickets (channel web: the file has no channel column) and the messages (social), 20 % of
    each held out to ``holdout.csv`` beside the model directory."""
    root = tmp_path_factory.mktemp("two-channel")
    train(
        [load_labelled(tiny_csv), load_labelled(tiny_messages_csv)],
        root / "model",
        holdout=0.2,
        holdout_out=root / "holdout.csv",
        folds=3,
    )
    return root / "model"
