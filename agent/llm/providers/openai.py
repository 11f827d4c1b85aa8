"""Any OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp server, Ollama, a LiteLLM proxy) through
strands' ``OpenAIModel``.

* The endpoint is ``agent_base_url``; the key ``agent_api_key`` is a ``SecretStr`` that is unwrapped only into the
  client's arguments (sent as ``Authorization: Bearer``), never logged or put in an error message. Without a key
  the client sends a placeholder, which keyless servers ignore; the process environment (``OPENAI_API_KEY``) is
  not read, settings are the one place configuration comes from.
* One client timeout (connect from ``agent_connect_timeout_s``, read from ``agent_read_timeout_s``) and
  ``max_retries=0``: the openai SDK retries twice by default, and the worker retries with its own policy.
* No streaming by default, as on Bedrock: the read timeout then bounds the whole answer. ``stream=True`` works
  too (usage is requested with ``stream_options.include_usage``).

``openai_error`` maps what the SDK (and httpx under it) raises to the agent's errors; strands itself turns
HTTP 429 into ``ModelThrottledException`` and context-length errors into ``ContextWindowOverflowException``.
"""

from __future__ import annotations

import httpx
import openai
from strands.models.openai import OpenAIModel

from agent.llm.errors import AgentError, AgentProviderError, AgentThrottledError, AgentTimeoutError, FailureCause
from datalayer.errors import SettingsError
from datalayer.settings import Settings

KEYLESS = "not-needed"
"""What the client sends as the key when ``agent_api_key`` is not set (the SDK refuses to run without one)."""


def openai_model(settings: Settings, *, stream: bool = False) -> OpenAIModel:
    """The OpenAI-compatible model ``settings`` configure; ``SettingsError`` without ``agent_base_url``."""
    if not settings.agent_base_url:
        raise SettingsError("agent_provider openai needs SWITCHBOARD_AGENT_BASE_URL (the endpoint's /v1 URL)")
    api_key = settings.agent_api_key.get_secret_value() if settings.agent_api_key else KEYLESS
    return OpenAIModel(
        client_args={
            "base_url": settings.agent_base_url,
            "api_key": api_key,
            "timeout": httpx.Timeout(settings.agent_read_timeout_s, connect=settings.agent_connect_timeout_s),
            "max_retries": 0,
        },
        model_id=settings.agent_model_id,
        params={"temperature": settings.agent_temperature, "max_tokens": settings.agent_max_tokens},
        stream=stream,
    )


def openai_error(error: BaseException) -> AgentError | None:
    """The agent error an openai SDK (or httpx) exception means; None for anything else."""
    if isinstance(error, openai.APITimeoutError | httpx.TimeoutException):
        connect = isinstance(error, httpx.ConnectTimeout) or isinstance(error.__cause__, httpx.ConnectTimeout)
        if connect:
            return AgentTimeoutError("endpoint connect timed out", cause=FailureCause.CONNECT_TIMEOUT)
        return AgentTimeoutError("endpoint read timed out", cause=FailureCause.READ_TIMEOUT)
    if isinstance(error, openai.APIConnectionError | httpx.TransportError):
        return AgentProviderError("endpoint unreachable", cause=FailureCause.CONNECTION_FAILED)
    if not isinstance(error, openai.APIStatusError):
        return None
    status = error.status_code
    message = f"endpoint answered HTTP {status}"
    if status == 429:
        return AgentThrottledError(message, cause=FailureCause.THROTTLED)
    if status in (401, 403):
        return AgentProviderError(message, cause=FailureCause.ACCESS_DENIED)
    if status == 404:
        return AgentProviderError(message, cause=FailureCause.MODEL_NOT_FOUND)
    cause = FailureCause.SERVER_ERROR if status >= 500 else FailureCause.BAD_REQUEST
    return AgentProviderError(message, cause=cause)
