"""What a run costs in US dollars, from the per-million-token prices in the settings.

One function so that the answer's ``cost_usd`` and a worker's daily budget agree. No prompt caching is
configured, so there are no cache-read or cache-write tokens to price.
"""

from __future__ import annotations

from datalayer.settings import Settings

_PER_MILLION = 1_000_000


def cost_usd(input_tokens: int, output_tokens: int, settings: Settings) -> float:
    """Dollars for the given tokens at ``agent_price_input_per_mtok`` and ``agent_price_output_per_mtok``."""
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError("token counts cannot be negative")
    dollars = (
        input_tokens * settings.agent_price_input_per_mtok + output_tokens * settings.agent_price_output_per_mtok
    ) / _PER_MILLION
    return round(dollars, 8)
