"""What a decision by the agent returns, and what it spent: the worker stores the first and budgets the second."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.llm.verdict import Verdict


@dataclass(frozen=True)
class TokenUsage:
    """Tokens and model calls of one ticket's run; a failed run reports what it spent before failing."""

    input_tokens: int = 0
    output_tokens: int = 0
    model_calls: int = 0


@dataclass(frozen=True)
class AgentAnswer:
    """A valid verdict and the cost of getting it.

    ``model_calls`` counts requests to the model (one per turn: a tool round trip or a retry of invalid output
    is one more); ``tool_calls`` counts the tools the model used, by name, without the verdict itself.
    ``latency_ms`` is the wall-clock time of the whole run, tools included.
    """

    verdict: Verdict
    input_tokens: int
    output_tokens: int
    model_calls: int
    model_id: str
    latency_ms: float
    cost_usd: float
    tool_calls: Mapping[str, int] = field(default_factory=dict)
