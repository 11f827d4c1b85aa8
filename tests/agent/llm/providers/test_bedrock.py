"""Bedrock end to end through the real BedrockModel and its real bedrock-runtime client.

botocore's Stubber answers ``converse`` on that client (so the request strands builds is checked as Bedrock would
receive it), and a local HTTP server plays Bedrock where the wire matters: one HTTP attempt per call, a real read
timeout, a refused connection. The stores behind the tools are in-process moto.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber

from agent.keyword import KeywordClassifier
from agent.llm.errors import (
    AgentError,
    AgentOutputError,
    AgentProviderError,
    AgentThrottledError,
    AgentTimeoutError,
    FailureCause,
)
from agent.llm.providers.bedrock import bedrock_model
from agent.llm.routing_agent import RoutingAgent
from agent.llm.tools import RoutingTools
from agent.taxonomy import Taxonomy
from datalayer.customers import CustomerStore
from datalayer.service_status import ServiceStatusStore
from datalayer.settings import Settings
from datalayer.tickets import TicketStore
from tests.agent.llm.fake_http import Reply, ScriptedServer
from tests.agent.llm.support import (
    PERSONAL,
    MemoryStores,
    context,
    converse,
    customer,
    outage,
    tool_use,
    verdict_use,
)

SEVEN = [
    "classify_issue",
    "extract_entities",
    "check_vip_status",
    "check_service_status",
    "calculate_priority",
    "route_to_team",
    "get_historical_context",
]


@dataclass
class StubbedBedrock:
    """A RoutingAgent on the real BedrockModel, whose client answers from a Stubber; ``requests`` are the Converse
    parameters strands sent, in order."""

    agent: RoutingAgent
    stubber: Stubber
    requests: list[dict[str, Any]]

    def answers(self, *responses: dict[str, Any]) -> None:
        for response in responses:
            self.stubber.add_response("converse", response)


def stubbed(settings: Settings, taxonomy: Taxonomy, tools: RoutingTools | None = None) -> Iterator[StubbedBedrock]:
    model = bedrock_model(settings)
    requests: list[dict[str, Any]] = []
    model.client.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse",
        lambda params, **_: requests.append(json.loads(json.dumps(params))),
    )
    if tools is None:
        stores = MemoryStores()
        tools = RoutingTools(taxonomy, KeywordClassifier(taxonomy), stores, stores, stores, history_limit=5)
    with Stubber(model.client) as stubber:
        yield StubbedBedrock(RoutingAgent(model, tools.tools, taxonomy, settings), stubber, requests)
        stubber.assert_no_pending_responses()


@pytest.fixture
def tuned(agent_settings: Settings) -> Settings:
    """Settings whose inference values differ from the defaults, so the request shows they were read."""
    return agent_settings.derive(
        agent_temperature=0.2, agent_max_tokens=777, agent_region="eu-west-1", agent_max_turns=3
    )


@pytest.fixture
def bedrock(tuned: Settings, taxonomy: Taxonomy) -> Iterator[StubbedBedrock]:
    yield from stubbed(tuned, taxonomy)


@pytest.fixture
def bedrock_on_moto(
    tuned: Settings,
    taxonomy: Taxonomy,
    customers: CustomerStore,
    service_status: ServiceStatusStore,
    store: TicketStore,
) -> Iterator[StubbedBedrock]:
    tools = RoutingTools(taxonomy, KeywordClassifier(taxonomy), customers, service_status, store, history_limit=5)
    yield from stubbed(tuned, taxonomy, tools)


# -- the client ----------------------------------------------------------------------------------------------


def test_client_has_our_timeouts_one_attempt_and_no_streaming(tuned: Settings) -> None:
    model = bedrock_model(tuned.derive(agent_connect_timeout_s=1.5, agent_read_timeout_s=7.0))
    config = model.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.5, 7.0)  # not strands' 120 s default
    assert config.retries["total_max_attempts"] == 1  # one attempt in all: max_attempts would count retries
    assert model.client.meta.region_name == "eu-west-1"
    assert model.config["streaming"] is False
    assert (model.config["temperature"], model.config["max_tokens"]) == (0.2, 777)
    assert bedrock_model(tuned.derive(agent_region=None)).client.meta.region_name == tuned.region


# -- a typical ticket: one call ----------------------------------------------------------------------------------


def test_a_typical_ticket_is_one_converse_call(bedrock: StubbedBedrock, taxonomy: Taxonomy, tuned: Settings) -> None:
    bedrock.answers(converse(verdict_use(second_team="Billing Support"), input_tokens=2_300, output_tokens=95))

    answer = bedrock.agent.decide(context())

    assert len(bedrock.requests) == 1
    assert (answer.verdict.team, answer.verdict.category, answer.verdict.second_team) == (
        "Network Operations",
        "Network Outage",
        "Billing Support",
    )
    assert (answer.input_tokens, answer.output_tokens, answer.model_calls) == (2_300, 95, 1)
    assert answer.model_id == tuned.agent_model_id
    assert answer.cost_usd == pytest.approx((2_300 * 1.0 + 95 * 5.0) / 1e6)
    assert answer.tool_calls == {}
    assert answer.latency_ms >= 0


def test_the_request_carries_taxonomy_tools_settings_and_the_masked_ticket(
    bedrock: StubbedBedrock, taxonomy: Taxonomy, tuned: Settings
) -> None:
    bedrock.answers(converse(verdict_use()))
    bedrock.agent.decide(context())
    request = bedrock.requests[0]

    assert request["modelId"] == tuned.agent_model_id
    assert request["inferenceConfig"] == {"maxTokens": 777, "temperature": 0.2}
    system = request["system"][0]["text"]
    assert all(team in system for team in taxonomy.team_names)
    assert all(rule in system for rule in taxonomy.routing_rules)

    specs = {tool["toolSpec"]["name"]: tool["toolSpec"] for tool in request["toolConfig"]["tools"]}
    assert list(specs) == [*SEVEN, "RoutingVerdict"]  # the seven tools, then the structured-output tool
    schema = {name: spec["inputSchema"]["json"]["properties"] for name, spec in specs.items()}
    assert schema["calculate_priority"]["team"]["enum"] == taxonomy.team_names
    assert schema["route_to_team"]["name"]["enum"] == [*taxonomy.team_names, *taxonomy.team_of]
    assert schema["RoutingVerdict"]["team"]["enum"] == taxonomy.team_names
    assert request["toolConfig"]["toolChoice"] == {"auto": {}}

    [message] = request["messages"]
    text = message["content"][0]["text"]
    assert message["role"] == "user" and "<subject>Internet down again, call [PHONE-1]</subject>" in text
    assert "OUT-42" in text and "Customer CUST-ENT-0001: enterprise account, VIP" in text
    wire = json.dumps(request)
    assert not [value for value in PERSONAL if value in wire]


def test_a_second_taxonomy_changes_what_is_sent(tuned: Settings, three_teams: Taxonomy) -> None:
    for bedrock in stubbed(tuned, three_teams):
        bedrock.answers(
            converse(verdict_use(team="Refund Desk", category="Refund Request")),
        )
        answer = bedrock.agent.decide(context(top_teams=[("Refund Desk", 0.5)]))
        assert answer.verdict.team == "Refund Desk"
        request = bedrock.requests[0]
        assert "Depot Crew (category: Lost Parcel)" in request["system"][0]["text"]
        specs = {tool["toolSpec"]["name"]: tool["toolSpec"] for tool in request["toolConfig"]["tools"]}
        verdict = specs["RoutingVerdict"]["inputSchema"]["json"]["properties"]
        assert verdict["team"]["enum"] == ["Depot Crew", "Refund Desk", "Front Office"]


# -- a tool round trip ------------------------------------------------------------------------------------------


def test_tool_round_trip_reads_the_store_then_decides(
    bedrock_on_moto: StubbedBedrock, customers: CustomerStore, service_status: ServiceStatusStore
) -> None:
    customers.put(customer())
    service_status.declare(outage(outage_id="OUT-77", started_at=None, customers_affected=50))
    bedrock_on_moto.answers(
        converse(
            tool_use("check_service_status", {"customer_id": "CUST-ENT-0001"}), input_tokens=2_000, output_tokens=40
        ),
        converse(verdict_use(), input_tokens=2_400, output_tokens=80),
    )

    answer = bedrock_on_moto.agent.decide(context(service=None))

    assert len(bedrock_on_moto.requests) == 2
    tool_result = bedrock_on_moto.requests[1]["messages"][-1]["content"][0]["toolResult"]
    assert tool_result["toolUseId"] == "tu-1" and tool_result["status"] == "success"
    result = json.loads(tool_result["content"][0]["text"])
    assert result["health"] == "outage" and [o["outage_id"] for o in result["active_outages"]] == ["OUT-77"]
    assert answer.verdict.team == "Network Operations"
    assert (answer.input_tokens, answer.output_tokens, answer.model_calls) == (4_400, 120, 2)  # summed over calls
    assert answer.tool_calls == {"check_service_status": 1}


def test_a_text_answer_is_forced_into_the_verdict_tool(bedrock: StubbedBedrock) -> None:
    """A model that answers in prose gets one more call with the verdict tool forced (strands' own retry)."""
    bedrock.answers(converse({"text": "It is a network outage."}, stop="end_turn"), converse(verdict_use()))
    answer = bedrock.agent.decide(context())
    assert answer.model_calls == 2
    forced = bedrock.requests[1]["toolConfig"]["toolChoice"]
    assert forced in ({"tool": {"name": "RoutingVerdict"}}, {"any": {}})  # strands 1.62 names the tool, 1.42 "any"


# -- failures ----------------------------------------------------------------------------------------------------


def test_invalid_output_is_retried_at_most_max_turns_times(bedrock: StubbedBedrock, tuned: Settings) -> None:
    invalid = converse(verdict_use(team="Sales"), input_tokens=1_000, output_tokens=50)
    bedrock.answers(*[invalid] * tuned.agent_max_turns)

    with pytest.raises(AgentOutputError) as caught:
        bedrock.agent.decide(context())

    assert caught.value.cause is FailureCause.TURN_LIMIT
    assert len(bedrock.requests) == tuned.agent_max_turns == 3
    assert caught.value.usage.model_calls == 3 and caught.value.usage.input_tokens == 3_000  # for the budget
    feedback = bedrock.requests[1]["messages"][-1]["content"][0]["toolResult"]
    assert feedback["status"] == "error" and "team" in feedback["content"][0]["text"]  # the model is told why


def test_the_token_cap_stops_a_run(tuned: Settings, taxonomy: Taxonomy) -> None:
    for bedrock in stubbed(tuned.derive(agent_max_total_tokens=1_000), taxonomy):
        bedrock.answers(converse(verdict_use(category="Billing Dispute"), input_tokens=1_200, output_tokens=30))
        with pytest.raises(AgentOutputError) as caught:
            bedrock.agent.decide(context())
        assert caught.value.cause is FailureCause.TOKEN_LIMIT
        assert len(bedrock.requests) == 1


def test_an_answer_cut_off_at_max_tokens(bedrock: StubbedBedrock) -> None:
    bedrock.answers(converse({"text": "The team is"}, stop="max_tokens"))
    with pytest.raises(AgentOutputError) as caught:
        bedrock.agent.decide(context())
    assert caught.value.cause is FailureCause.TRUNCATED


@pytest.mark.parametrize(
    ("code", "status", "message", "error", "cause"),
    [
        ("ThrottlingException", 429, "Too many requests", AgentThrottledError, FailureCause.THROTTLED),
        ("ServiceQuotaExceededException", 429, "Quota", AgentThrottledError, FailureCause.QUOTA_EXCEEDED),
        ("ModelNotReadyException", 429, "Not ready", AgentThrottledError, FailureCause.MODEL_NOT_READY),
        ("ModelTimeoutException", 408, "Took too long", AgentTimeoutError, FailureCause.MODEL_TIMEOUT),
        ("InternalServerException", 500, "Boom", AgentProviderError, FailureCause.SERVER_ERROR),
        ("ServiceUnavailableException", 503, "Down", AgentProviderError, FailureCause.SERVER_ERROR),
        ("AccessDeniedException", 403, "You don't have access", AgentProviderError, FailureCause.ACCESS_DENIED),
        ("ResourceNotFoundException", 404, "No such model", AgentProviderError, FailureCause.MODEL_NOT_FOUND),
        (
            "ValidationException",
            400,
            "The provided model identifier is invalid.",
            AgentProviderError,
            FailureCause.MODEL_NOT_FOUND,
        ),
        ("ValidationException", 400, "Malformed input request", AgentProviderError, FailureCause.BAD_REQUEST),
    ],
)
def test_provider_errors_map_to_our_exceptions(
    bedrock: StubbedBedrock, code: str, status: int, message: str, error: type[AgentError], cause: FailureCause
) -> None:
    bedrock.stubber.add_client_error(
        "converse", service_error_code=code, service_message=message, http_status_code=status
    )

    with pytest.raises(error) as caught:
        bedrock.agent.decide(context())

    assert caught.value.cause is cause
    assert len(bedrock.requests) == 1  # strands retries nothing (a second call would find no stubbed answer)
    chain = [caught.value.__cause__, getattr(caught.value.__cause__, "__cause__", None)]
    assert any(isinstance(link, ClientError) for link in chain)


def test_a_read_timeout_raised_by_the_call(tuned: Settings, taxonomy: Taxonomy) -> None:
    model = bedrock_model(tuned)

    def time_out(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://bedrock-runtime.eu-west-1.amazonaws.com/model/x/converse")

    model.client.meta.events.register("before-call.bedrock-runtime.Converse", time_out)
    stores = MemoryStores()
    tools = RoutingTools(taxonomy, KeywordClassifier(taxonomy), stores, stores, stores, history_limit=5)
    with pytest.raises(AgentTimeoutError) as caught:
        RoutingAgent(model, tools.tools, taxonomy, tuned).decide(context())
    assert caught.value.cause is FailureCause.READ_TIMEOUT
    assert isinstance(caught.value.__cause__, ReadTimeoutError)


# -- over HTTP: the wire ----------------------------------------------------------------------------------------


def over_http(settings: Settings, taxonomy: Taxonomy, url: str) -> RoutingAgent:
    stores = MemoryStores()
    tools = RoutingTools(taxonomy, KeywordClassifier(taxonomy), stores, stores, stores, history_limit=5)
    return RoutingAgent(bedrock_model(settings, endpoint_url=url), tools.tools, taxonomy, settings)


def test_over_http_a_signed_converse_request(http_server: ScriptedServer, tuned: Settings, taxonomy: Taxonomy) -> None:
    http_server.add(Reply(200, converse(verdict_use())))
    answer = over_http(tuned, taxonomy, http_server.url).decide(context())
    [request] = http_server.requests
    assert request.path == "/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse"
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert not [value for value in PERSONAL if value in request.body.decode()]
    assert answer.verdict.team == "Network Operations"


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (429, "ThrottlingException", AgentThrottledError),
        (503, "ServiceUnavailableException", AgentProviderError),
        (500, "InternalServerException", AgentProviderError),
    ],
)
def test_over_http_no_hidden_retries(
    http_server: ScriptedServer, tuned: Settings, taxonomy: Taxonomy, status: int, code: str, error: type[AgentError]
) -> None:
    """botocore's standard mode would retry these; the client makes exactly one attempt, strands none more."""
    http_server.add(*[Reply(status, {"message": "no"}, {"x-amzn-ErrorType": code})] * 5)
    with pytest.raises(error):
        over_http(tuned, taxonomy, http_server.url).decide(context())
    assert len(http_server.requests) == 1


def test_over_http_a_hung_answer_times_out_at_the_read_timeout(
    http_server: ScriptedServer, tuned: Settings, taxonomy: Taxonomy
) -> None:
    http_server.add(Reply(hang=True))
    agent = over_http(tuned.derive(agent_read_timeout_s=0.3), taxonomy, http_server.url)
    start = time.perf_counter()
    with pytest.raises(AgentTimeoutError) as caught:
        agent.decide(context())
    assert caught.value.cause is FailureCause.READ_TIMEOUT
    assert 0.3 <= time.perf_counter() - start < 2.0
    assert len(http_server.requests) == 1


def test_over_http_a_refused_connection(tuned: Settings, taxonomy: Taxonomy) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AgentProviderError) as caught:
        over_http(tuned, taxonomy, f"http://127.0.0.1:{port}").decide(context())
    assert caught.value.cause is FailureCause.CONNECTION_FAILED
