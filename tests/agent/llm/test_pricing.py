"""Cost from the prices in the settings."""

from __future__ import annotations

import pytest

from agent.llm.pricing import cost_usd
from datalayer.settings import Settings


def test_cost_uses_the_settings_prices(settings: Settings) -> None:
    assert cost_usd(1_000_000, 0, settings) == pytest.approx(1.0)  # Claude Haiku 4.5 defaults: $1 / $5 per Mtok
    assert cost_usd(2_000, 300, settings) == pytest.approx(0.0035)
    dearer = settings.derive(agent_price_input_per_mtok=3.0, agent_price_output_per_mtok=15.0)
    assert cost_usd(2_000, 300, dearer) == pytest.approx(0.0105)
    assert cost_usd(0, 0, settings) == 0.0


def test_negative_tokens_are_a_bug(settings: Settings) -> None:
    with pytest.raises(ValueError, match="negative"):
        cost_usd(-1, 0, settings)
