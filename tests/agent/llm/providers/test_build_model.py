"""One place chooses the provider: ``build_model(settings)``."""

from __future__ import annotations

from strands.models.bedrock import BedrockModel
from strands.models.openai import OpenAIModel

from agent.llm.providers import build_model, provider_error
from datalayer.settings import Settings


def test_provider_none_builds_no_model(settings: Settings) -> None:
    assert settings.agent_provider == "none"
    assert build_model(settings) is None


def test_bedrock(settings: Settings) -> None:
    model = build_model(settings.derive(agent_provider="bedrock", agent_model_id="eu.anthropic.claude-x"))
    assert isinstance(model, BedrockModel) and model.config["model_id"] == "eu.anthropic.claude-x"
    assert model.client.meta.endpoint_url.startswith("https://bedrock-runtime.")  # never the stores' moto endpoint


def test_bedrock_ignores_the_stores_endpoint(settings: Settings) -> None:
    model = build_model(settings.derive(agent_provider="bedrock", endpoint_url="http://127.0.0.1:5000"))
    assert isinstance(model, BedrockModel) and "127.0.0.1" not in model.client.meta.endpoint_url


def test_openai(settings: Settings) -> None:
    model = build_model(settings.derive(agent_provider="openai", agent_base_url="http://127.0.0.1:8080/v1"))
    assert isinstance(model, OpenAIModel) and model.client_args["base_url"] == "http://127.0.0.1:8080/v1"


def test_foreign_exceptions_are_not_provider_errors() -> None:
    assert provider_error(ValueError("x")) is None
