"""The runner: nothing leaks between tickets, nothing of a ticket reaches a log, every failure is one of ours."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from strands.types.exceptions import (
    ContextWindowOverflowException,
    EventLoopException,
    ModelThrottledException,
    StructuredOutputException,
)

from agent.keyword import KeywordClassifier
from agent.llm.errors import AgentOutputError, AgentProviderError, AgentThrottledError, FailureCause
from agent.llm.logs import model_traffic, quiet_model_libraries
from agent.llm.providers.bedrock import bedrock_model
from agent.llm.providers.openai import openai_model
from agent.llm.routing_agent import RoutingAgent, _failure
from agent.llm.tools import RoutingTools
from agent.taxonomy import Taxonomy
from datalayer.settings import Settings
from tests.agent.llm.fake_http import Reply, ScriptedServer
from tests.agent.llm.support import MemoryStores, context, converse, ticket, tool_use, verdict_use


def tools_for(taxonomy: Taxonomy) -> RoutingTools:
    stores = MemoryStores()
    return RoutingTools(taxonomy, KeywordClassifier(taxonomy), stores, stores, stores, history_limit=5)


@pytest.fixture
def stubbed(agent_settings: Settings, taxonomy: Taxonomy) -> Iterator[tuple[RoutingAgent, Stubber, list[dict]]]:
    model = bedrock_model(agent_settings)
    requests: list[dict[str, Any]] = []
    model.client.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse",
        lambda params, **_: requests.append(json.loads(json.dumps(params))),
    )
    with Stubber(model.client) as stubber:
        yield RoutingAgent(model, tools_for(taxonomy).tools, taxonomy, agent_settings), stubber, requests


def test_each_ticket_starts_a_fresh_conversation(stubbed: tuple[RoutingAgent, Stubber, list[dict]]) -> None:
    agent, stubber, requests = stubbed
    stubber.add_response("converse", converse(tool_use("route_to_team", {"name": "Billing Dispute"})))
    stubber.add_response("converse", converse(verdict_use()))
    stubber.add_response("converse", converse(verdict_use(team="Billing Support", category="Billing Dispute")))

    first = agent.decide(context(ticket("T-1", subject="Outage on Elm", description="Whole street is down")))
    second = agent.decide(context(ticket("T-2", subject="Refund", description="Charged twice for May")))

    assert (first.model_calls, second.model_calls) == (2, 1)
    assert (first.input_tokens, second.input_tokens) == (1_800, 900)  # usage is per ticket, not cumulative
    assert (first.tool_calls, second.tool_calls) == ({"route_to_team": 1}, {})
    [message] = requests[2]["messages"]  # the second ticket's only call: one user message
    assert "Charged twice for May" in message["content"][0]["text"]
    assert "Whole street is down" not in json.dumps(requests[2]) and "route_to_team" not in json.dumps(
        requests[2]["messages"]
    )


def test_limits_come_from_the_settings(agent_settings: Settings, taxonomy: Taxonomy) -> None:
    settings = agent_settings.derive(agent_max_turns=7, agent_max_total_tokens=9_000)
    agent = RoutingAgent(bedrock_model(settings), [], taxonomy, settings)
    assert agent.limits == {"turns": 7, "total_tokens": 9_000}


# -- logs ----------------------------------------------------------------------------------------------------

TICKET_WORDS = ("Internet down again", "No internet since 8am", "RDK-03003", "[PHONE-1]", "(617) 555-0142")


def leaked(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{record.name}: {record.getMessage()[:120]}"
        for record in caplog.records
        if any(word in record.getMessage() for word in TICKET_WORDS)
    ]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, as a Lambda with AWS_LAMBDA_LOG_LEVEL=DEBUG would have them."""
    levels = {name: logging.getLogger(name).level for name in ("strands", "openai")}
    caplog.set_level(logging.DEBUG)
    yield caplog
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_no_ticket_text_in_any_log_at_debug_bedrock(
    debug_logs: pytest.LogCaptureFixture, http_server: ScriptedServer, agent_settings: Settings, taxonomy: Taxonomy
) -> None:
    http_server.add(Reply(200, converse(verdict_use())), Reply(200, converse(verdict_use())))
    agent = RoutingAgent(
        bedrock_model(agent_settings, endpoint_url=http_server.url), tools_for(taxonomy).tools, taxonomy, agent_settings
    )

    logging.getLogger("strands").setLevel(logging.DEBUG)  # what the libraries do when nobody quiets them
    agent.decide(context(ticket("T-1")))
    assert any(line.startswith("strands.") for line in leaked(debug_logs)), "the canary: strands logs requests"
    assert not [line for line in leaked(debug_logs) if line.startswith("botocore.")]  # filtered during the run

    debug_logs.clear()
    RoutingAgent(agent.model, agent.tools, taxonomy, agent_settings).decide(context(ticket("T-2")))
    assert len(debug_logs.records) > 10  # DEBUG records were written: botocore's, urllib3's ...
    assert leaked(debug_logs) == []


def test_no_ticket_text_in_any_log_at_debug_openai(
    debug_logs: pytest.LogCaptureFixture, http_server: ScriptedServer, settings: Settings, taxonomy: Taxonomy
) -> None:
    endpoint = settings.derive(agent_provider="openai", agent_base_url=f"{http_server.url}/v1", agent_api_key="sk-x1")
    arguments = json.dumps(verdict_use()["toolUse"]["input"])
    call = {"id": "c1", "type": "function", "function": {"name": "RoutingVerdict", "arguments": arguments}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": message}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
    http_server.add(Reply(200, body))
    RoutingAgent(openai_model(endpoint), tools_for(taxonomy).tools, taxonomy, endpoint).decide(context())
    assert leaked(debug_logs) == []
    assert not [r for r in debug_logs.records if "sk-x1" in r.getMessage()]


def test_botocore_body_logs_are_dropped_only_during_a_run() -> None:
    endpoint = logging.getLogger("botocore.endpoint")
    quiet_model_libraries()  # what every RoutingAgent does when it is built
    record = logging.LogRecord("botocore.endpoint", logging.DEBUG, __file__, 1, "body %s", ("secret",), None)
    assert endpoint.filter(record)
    with model_traffic():
        assert not endpoint.filter(record)
    assert endpoint.filter(record)


# -- failures are ours -------------------------------------------------------------------------------------


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Converse"
    )


def raised_from(error: Exception, cause: BaseException) -> Exception:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "kind", "cause"),
    [
        (raised_from(ModelThrottledException("t"), client_error("ThrottlingException", 429)), AgentThrottledError,
         FailureCause.THROTTLED),
        (raised_from(ModelThrottledException("q"), client_error("ServiceQuotaExceededException", 429)),
         AgentThrottledError, FailureCause.QUOTA_EXCEEDED),
        (ModelThrottledException("openai 429"), AgentThrottledError, FailureCause.THROTTLED),
        (ContextWindowOverflowException("too long"), AgentOutputError, FailureCause.CONTEXT_OVERFLOW),
        (StructuredOutputException("no json"), AgentOutputError, FailureCause.INVALID_OUTPUT),
        (EventLoopException(client_error("InternalServerException", 500)), AgentProviderError,
         FailureCause.SERVER_ERROR),
        (raised_from(RuntimeError("wrapped"), client_error("AccessDeniedException", 403)), AgentProviderError,
         FailureCause.ACCESS_DENIED),
        (client_error("SomethingNewException", 502), AgentProviderError, FailureCause.SERVER_ERROR),
        (client_error("SomethingNewException", 429), AgentThrottledError, FailureCause.THROTTLED),
        (KeyError("bug"), AgentProviderError, FailureCause.UNEXPECTED),
    ],
)  # fmt: skip
def test_every_failure_maps_to_one_of_ours(error: Exception, kind: type, cause: FailureCause) -> None:
    failure = _failure(error)
    assert type(failure) is kind and failure.cause is cause
