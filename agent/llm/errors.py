"""How the agent tier fails: one exception per way, each naming its cause (placeholder until the agent core lands)."""

from __future__ import annotations


class AgentError(Exception):
    """Base of every way the agent can fail to decide."""

    cause = "agent_error"

    def __init__(self, message: str, *, tokens: int = 0, cost_usd: float = 0.0) -> None:
        super().__init__(message)
        self.tokens = tokens
        self.cost_usd = cost_usd


class AgentOutputError(AgentError):
    cause = "invalid_output"


class AgentThrottledError(AgentError):
    cause = "throttled"


class AgentTimeoutError(AgentError):
    cause = "timeout"


class AgentProviderError(AgentError):
    cause = "provider_error"
