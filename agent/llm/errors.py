"""The agent tier's own errors: every way a decision can fail, each with a ``cause`` a worker maps to a policy.

The runner neither retries nor swallows: it raises exactly one of these, with the provider's or strands'
exception chained as ``__cause__``. The class says what to do, ``cause`` says why:

* ``AgentOutputError``: the model answered but gave no valid verdict within the caps (invalid output until the
  turn or token cap, an answer cut off at ``agent_max_tokens``, a ticket too long for the model). Retrying the
  same ticket is unlikely to help: finalise it without the agent.
* ``AgentThrottledError``: the provider is rate-limiting or out of quota. Retry later, with backoff.
* ``AgentTimeoutError``: no answer in time (connect or read timeout, or the model's own timeout). Retry.
* ``AgentProviderError``: anything else from the provider (5xx, access denied, unknown model, unreachable
  endpoint, a request it refused) or from strands itself. Counts toward the circuit breaker.

``usage`` holds what the run spent before it failed, for the daily budget. Messages never contain ticket text.
"""

from __future__ import annotations

from enum import StrEnum

from agent.llm.answer import TokenUsage


class FailureCause(StrEnum):
    # AgentOutputError
    INVALID_OUTPUT = "invalid_output"
    """The model ended without a valid verdict (strands' forced structured-output retry failed too)."""
    TURN_LIMIT = "turn_limit"
    """``agent_max_turns`` model calls were made without a valid verdict (invalid answers are retried until then)."""
    TOKEN_LIMIT = "token_limit"
    """``agent_max_total_tokens`` were spent without a valid verdict."""
    TRUNCATED = "truncated"
    """An answer was cut off at ``agent_max_tokens``."""
    CONTEXT_OVERFLOW = "context_overflow"
    """The request is longer than the model's context window."""
    # AgentThrottledError
    THROTTLED = "throttled"
    QUOTA_EXCEEDED = "quota_exceeded"
    MODEL_NOT_READY = "model_not_ready"
    # AgentTimeoutError
    READ_TIMEOUT = "read_timeout"
    CONNECT_TIMEOUT = "connect_timeout"
    MODEL_TIMEOUT = "model_timeout"
    # AgentProviderError
    SERVER_ERROR = "server_error"
    ACCESS_DENIED = "access_denied"
    MODEL_NOT_FOUND = "model_not_found"
    CONNECTION_FAILED = "connection_failed"
    BAD_REQUEST = "bad_request"
    UNEXPECTED = "unexpected"
    """Neither the provider's nor strands' known failures: a bug, in strands or here."""


class AgentError(Exception):
    """Base of every error the agent tier raises; ``str(error)`` is fit for a log line and a ticket's record."""

    def __init__(self, message: str, *, cause: FailureCause, usage: TokenUsage | None = None) -> None:
        super().__init__(message)
        self.cause = cause
        self.usage = usage or TokenUsage()


class AgentOutputError(AgentError):
    """No valid verdict: invalid output until a cap, a truncated answer, or a ticket too long for the model."""


class AgentThrottledError(AgentError):
    """The provider refused for rate or quota (Bedrock ThrottlingException/ServiceQuotaExceededException, HTTP 429)."""


class AgentTimeoutError(AgentError):
    """No answer within ``agent_connect_timeout_s`` / ``agent_read_timeout_s`` (or the model timed out itself)."""


class AgentProviderError(AgentError):
    """Anything else from the provider: 5xx, access denied, model not found, connection refused, bad request."""
