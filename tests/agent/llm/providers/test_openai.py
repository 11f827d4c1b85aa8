"""An OpenAI-compatible endpoint end to end: the real OpenAIModel (and openai SDK) against a local HTTP server that
speaks /v1/chat/completions, streamed (server-sent events) and not, with tool calls and usage."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from agent.keyword import KeywordClassifier
from agent.llm.errors import AgentProviderError, AgentThrottledError, AgentTimeoutError, FailureCause
from agent.llm.providers.openai import KEYLESS, openai_model
from agent.llm.routing_agent import RoutingAgent
from agent.llm.tools import RoutingTools
from agent.taxonomy import Taxonomy
from datalayer.errors import SettingsError
from datalayer.settings import Settings
from tests.agent.llm.fake_http import Reply, ScriptedServer
from tests.agent.llm.support import PERSONAL, MemoryStores, context, customer, verdict_input

API_KEY = "sk-test-0123456789"


@pytest.fixture
def endpoint(settings: Settings, http_server: ScriptedServer) -> Settings:
    return settings.derive(
        agent_provider="openai",
        agent_base_url=f"{http_server.url}/v1",
        agent_api_key=API_KEY,
        agent_model_id="qwen2.5-7b-instruct",
        agent_temperature=0.1,
        agent_max_tokens=512,
        agent_read_timeout_s=0.4,
    )


def routing_agent(settings: Settings, taxonomy: Taxonomy, *, stream: bool = False) -> RoutingAgent:
    stores = MemoryStores(customers=[customer()])
    tools = RoutingTools(taxonomy, KeywordClassifier(taxonomy), stores, stores, stores, history_limit=5)
    return RoutingAgent(openai_model(settings, stream=stream), tools.tools, taxonomy, settings)


def completion(name: str, arguments: dict, *, prompt_tokens: int = 800, completion_tokens: int = 40) -> dict:
    """A non-streamed chat completion whose answer is one tool call."""
    call = {"id": f"call-{name}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "qwen2.5-7b-instruct",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def streamed(name: str, arguments: dict, *, prompt_tokens: int = 800, completion_tokens: int = 40) -> Reply:
    """The same answer as server-sent events: the call's arguments in two pieces, then the usage chunk."""
    text = json.dumps(arguments)

    def chunk(choices: list[dict], **extra: Any) -> bytes:
        body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": choices}
        return f"data: {json.dumps({**body, **extra})}\n\n".encode()

    def delta(delta: dict, finish: str | None = None) -> list[dict]:
        return [{"index": 0, "delta": delta, "finish_reason": finish}]

    start = {"index": 0, "id": f"call-{name}", "type": "function", "function": {"name": name, "arguments": ""}}
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": 0}
    events = [
        chunk(delta({"role": "assistant", "content": None, "tool_calls": [start]})),
        chunk(delta({"tool_calls": [{"index": 0, "function": {"arguments": text[:10]}}]})),
        chunk(delta({"tool_calls": [{"index": 0, "function": {"arguments": text[10:]}}]})),
        chunk(delta({}, "tool_calls")),
        chunk([], usage=usage),
        b"data: [DONE]\n\n",
    ]
    return Reply(200, headers={"Content-Type": "text/event-stream"}, chunks=events)


def test_settings_build_the_client(endpoint: Settings) -> None:
    model = openai_model(endpoint)
    assert model.client_args["base_url"] == endpoint.agent_base_url
    assert model.client_args["max_retries"] == 0
    timeout = model.client_args["timeout"]
    assert (timeout.connect, timeout.read) == (endpoint.agent_connect_timeout_s, 0.4)
    assert model.config["params"] == {"temperature": 0.1, "max_tokens": 512}
    assert model.config["model_id"] == "qwen2.5-7b-instruct" and model.config["stream"] is False
    assert API_KEY not in repr(endpoint) and API_KEY not in str(model.config)


def test_without_a_base_url_there_is_no_model(settings: Settings) -> None:
    with pytest.raises(SettingsError, match="AGENT_BASE_URL"):
        openai_model(settings.derive(agent_provider="openai"))


def test_a_tool_round_trip_then_a_verdict(endpoint: Settings, taxonomy: Taxonomy, http_server: ScriptedServer) -> None:
    http_server.add(
        Reply(200, completion("check_vip_status", {"customer_id": "CUST-ENT-0001"}, prompt_tokens=700)),
        Reply(200, completion("RoutingVerdict", verdict_input(), prompt_tokens=900, completion_tokens=55)),
    )

    answer = routing_agent(endpoint, taxonomy).decide(context())

    assert answer.verdict.team == "Network Operations"
    assert (answer.input_tokens, answer.output_tokens, answer.model_calls) == (1_600, 95, 2)
    assert answer.tool_calls == {"check_vip_status": 1} and answer.model_id == "qwen2.5-7b-instruct"
    first, second = (request.json() for request in http_server.requests)
    assert http_server.requests[0].path == "/v1/chat/completions"
    assert (first["model"], first["temperature"], first["max_tokens"], first["stream"]) == (
        "qwen2.5-7b-instruct",
        0.1,
        512,
        False,
    )
    names = [tool["function"]["name"] for tool in first["tools"]]
    assert names[:7] == ["classify_issue", "extract_entities", "check_vip_status", "check_service_status",
                         "calculate_priority", "route_to_team", "get_historical_context"]  # fmt: skip
    assert names[7] == "RoutingVerdict"
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and json.loads(tool_message["content"])["customer"]["vip"] is True


def test_streamed_answers_work_too(endpoint: Settings, taxonomy: Taxonomy, http_server: ScriptedServer) -> None:
    http_server.add(streamed("RoutingVerdict", verdict_input(team="Billing Support", category="Billing Dispute")))

    answer = routing_agent(endpoint, taxonomy, stream=True).decide(context())

    assert (answer.verdict.team, answer.verdict.category) == ("Billing Support", "Billing Dispute")
    assert (answer.input_tokens, answer.output_tokens, answer.model_calls) == (800, 40, 1)
    request = http_server.requests[0].json()
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}


def test_the_key_is_a_bearer_token_and_no_personal_data_reaches_the_endpoint(
    endpoint: Settings, taxonomy: Taxonomy, http_server: ScriptedServer
) -> None:
    http_server.add(
        Reply(200, completion("get_historical_context", {"customer_id": "CUST-ENT-0001"})),
        Reply(200, completion("RoutingVerdict", verdict_input())),
    )
    routing_agent(endpoint, taxonomy).decide(context())
    assert [r.headers["authorization"] for r in http_server.requests] == [f"Bearer {API_KEY}"] * 2
    for request in http_server.requests:
        body = request.body.decode()
        assert not [value for value in PERSONAL if value in body]
        assert API_KEY not in body
    assert "[PHONE-1]" in http_server.requests[0].body.decode()


def test_a_keyless_endpoint_gets_a_placeholder_key(
    endpoint: Settings, taxonomy: Taxonomy, http_server: ScriptedServer
) -> None:
    http_server.add(Reply(200, completion("RoutingVerdict", verdict_input())))
    routing_agent(endpoint.derive(agent_api_key=None), taxonomy).decide(context())
    assert http_server.requests[0].headers["authorization"] == f"Bearer {KEYLESS}"


def test_masking_off_sends_the_text_as_is(endpoint: Settings, taxonomy: Taxonomy, http_server: ScriptedServer) -> None:
    http_server.add(Reply(200, completion("RoutingVerdict", verdict_input())))
    routing_agent(endpoint.derive(agent_mask_pii=False), taxonomy).decide(context())
    assert "(617) 555-0142" in http_server.requests[0].body.decode()


def test_http_429_is_throttling_without_retries(
    endpoint: Settings, taxonomy: Taxonomy, http_server: ScriptedServer
) -> None:
    http_server.add(*[Reply(429, {"error": {"message": "Rate limit reached", "type": "rate_limit"}})] * 3)
    with pytest.raises(AgentThrottledError) as caught:
        routing_agent(endpoint, taxonomy).decide(context())
    assert caught.value.cause is FailureCause.THROTTLED
    assert len(http_server.requests) == 1


@pytest.mark.parametrize(
    ("status", "cause"),
    [
        (500, FailureCause.SERVER_ERROR),
        (502, FailureCause.SERVER_ERROR),
        (401, FailureCause.ACCESS_DENIED),
        (404, FailureCause.MODEL_NOT_FOUND),
        (400, FailureCause.BAD_REQUEST),
    ],
)
def test_other_http_errors_are_provider_errors(
    endpoint: Settings, taxonomy: Taxonomy, http_server: ScriptedServer, status: int, cause: FailureCause
) -> None:
    http_server.add(*[Reply(status, {"error": {"message": "nope"}})] * 3)
    with pytest.raises(AgentProviderError) as caught:
        routing_agent(endpoint, taxonomy).decide(context())
    assert caught.value.cause is cause
    assert API_KEY not in str(caught.value)
    assert len(http_server.requests) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_hung_answer_times_out_at_the_read_timeout(
    endpoint: Settings, taxonomy: Taxonomy, http_server: ScriptedServer, stream: bool
) -> None:
    http_server.add(Reply(hang=True))
    start = time.perf_counter()
    with pytest.raises(AgentTimeoutError) as caught:
        routing_agent(endpoint, taxonomy, stream=stream).decide(context())
    assert caught.value.cause is FailureCause.READ_TIMEOUT
    assert 0.4 <= time.perf_counter() - start < 2.0
    assert len(http_server.requests) == 1


def test_a_stream_that_stalls_midway_times_out(
    endpoint: Settings, taxonomy: Taxonomy, http_server: ScriptedServer
) -> None:
    first_chunk = streamed("RoutingVerdict", verdict_input()).chunks[:1]  # type: ignore[index]
    http_server.add(Reply(200, headers={"Content-Type": "text/event-stream"}, chunks=first_chunk, hang=True))
    with pytest.raises(AgentTimeoutError) as caught:
        routing_agent(endpoint, taxonomy, stream=True).decide(context())
    assert caught.value.cause is FailureCause.READ_TIMEOUT
    assert len(http_server.requests) == 1


def test_a_refused_connection(endpoint: Settings, taxonomy: Taxonomy) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AgentProviderError) as caught:
        routing_agent(endpoint.derive(agent_base_url=f"http://127.0.0.1:{port}/v1"), taxonomy).decide(context())
    assert caught.value.cause is FailureCause.CONNECTION_FAILED
