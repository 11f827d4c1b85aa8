"""The model providers of the agent tier, one per file as in strands' own ``models/``: ``bedrock`` (Amazon Bedrock
Converse) and ``openai`` (any OpenAI-compatible chat-completions endpoint).

``build_model(settings)`` is the one place a provider is chosen (``Settings.agent_provider``); ``provider_error``
turns a provider's own exception into one of ``agent.llm.errors``. Each provider module is imported only when it
is needed: the openai SDK alone takes about half a second to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.llm.errors import AgentError
from datalayer.settings import AgentProvider, Settings

if TYPE_CHECKING:
    from strands.models import Model


def build_model(settings: Settings) -> Model | None:
    """The strands model ``settings`` configure; None for provider ``none`` (the cascade then runs local-only)."""
    if settings.agent_provider is AgentProvider.BEDROCK:
        from agent.llm.providers.bedrock import bedrock_model

        return bedrock_model(settings)
    if settings.agent_provider is AgentProvider.OPENAI:
        from agent.llm.providers.openai import openai_model

        return openai_model(settings)
    return None


def provider_error(error: BaseException) -> AgentError | None:
    """The agent error a provider SDK's exception means, or None when it is not one of theirs."""
    package = type(error).__module__.split(".")[0]
    if package == "botocore":
        from agent.llm.providers.bedrock import bedrock_error

        return bedrock_error(error)
    if package in ("openai", "httpx", "httpcore"):
        from agent.llm.providers.openai import openai_error

        return openai_error(error)
    return None
