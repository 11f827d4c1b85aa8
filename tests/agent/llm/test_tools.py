"""The seven tools answer from the same functions and stores as the fast path: change a row, the answer changes.

Stores run on in-process moto; the classifier is the keyword baseline (no model files needed).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from strands.types.tools import AgentTool, ToolContext

from agent.exceptions import TaxonomyError
from agent.keyword import KeywordClassifier
from agent.llm.masking import Masker
from agent.llm.tools import TICKET_SCOPE, RoutingTools, TicketScope
from agent.taxonomy import Taxonomy
from datalayer.customers import CustomerStore
from datalayer.service_status import ServiceStatusStore
from datalayer.settings import Settings
from datalayer.tickets import TicketStore
from tests.agent.llm.support import EMAIL, context, customer, outage, ticket
from tests.factories import make_decision

SEVEN = [
    "classify_issue",
    "extract_entities",
    "check_vip_status",
    "check_service_status",
    "calculate_priority",
    "route_to_team",
    "get_historical_context",
]


@pytest.fixture
def routing_tools(
    taxonomy: Taxonomy,
    customers: CustomerStore,
    service_status: ServiceStatusStore,
    store: TicketStore,
    settings: Settings,
) -> dict[str, AgentTool]:
    tools = RoutingTools(
        taxonomy, KeywordClassifier(taxonomy), customers, service_status, store, history_limit=settings.history_limit
    ).tools
    return {t.tool_name: t for t in tools}


def in_scope(masker: Masker | None = None, **overrides: Any) -> ToolContext:
    """The tool context strands builds from the runner's invocation_state."""
    scope = TicketScope(context(**overrides), masker or Masker())
    return ToolContext(tool_use={"toolUseId": "t-1", "name": "x", "input": {}}, agent=None, invocation_state={
        TICKET_SCOPE: scope
    })  # type: ignore[arg-type]  # fmt: skip


def through_strands(tool: AgentTool, tool_input: dict[str, Any]) -> dict[str, Any]:
    """Run a tool the way the agent loop does (input validated against its spec) and return its ToolResult."""

    async def run() -> Any:
        events = [e async for e in tool.stream({"toolUseId": "t-1", "name": tool.tool_name, "input": tool_input}, {})]
        return events[-1]["tool_result"]

    return asyncio.run(run())


def test_seven_tools_with_the_taxonomy_in_their_specs(routing_tools: dict[str, AgentTool], taxonomy: Taxonomy) -> None:
    assert list(routing_tools) == SEVEN
    priority = routing_tools["calculate_priority"].tool_spec["inputSchema"]["json"]["properties"]["team"]
    assert priority["enum"] == taxonomy.team_names
    route = routing_tools["route_to_team"].tool_spec["inputSchema"]["json"]["properties"]["name"]
    assert route["enum"] == [*taxonomy.team_names, *taxonomy.team_of]


def test_a_second_taxonomy_changes_the_tool_enums(three_teams: Taxonomy, customers: CustomerStore) -> None:
    tools = RoutingTools(three_teams, KeywordClassifier(three_teams), customers, None, None, history_limit=5).tools  # type: ignore[arg-type]
    spec = {t.tool_name: t.tool_spec for t in tools}["calculate_priority"]
    assert spec["inputSchema"]["json"]["properties"]["team"]["enum"] == ["Depot Crew", "Refund Desk", "Front Office"]


def test_a_classifier_of_another_taxonomy_is_refused(taxonomy: Taxonomy, three_teams: Taxonomy) -> None:
    with pytest.raises(TaxonomyError, match="other teams"):
        RoutingTools(three_teams, KeywordClassifier(taxonomy), None, None, None, history_limit=5)  # type: ignore[arg-type]


def test_check_vip_status_reads_the_customers_table(
    routing_tools: dict[str, AgentTool], customers: CustomerStore
) -> None:
    check = routing_tools["check_vip_status"]
    assert check(customer_id="CUST-ENT-0001") == {"customer": None}
    customers.put(customer(vip=False, account_type="business"))
    answer = check(customer_id="CUST-ENT-0001")
    assert answer["customer"]["vip"] is False and answer["enterprise_sla"] is False
    customers.put(customer(vip=True, account_type="enterprise"))
    answer = check(customer_id="CUST-ENT-0001")
    assert answer["customer"]["vip"] is True and answer["enterprise_sla"] is True


def test_check_service_status_reads_the_outages_where_the_customer_is(
    routing_tools: dict[str, AgentTool], customers: CustomerStore, service_status: ServiceStatusStore
) -> None:
    check = routing_tools["check_service_status"]
    customers.put(customer(region="Springfield"))
    assert check(customer_id="CUST-ENT-0001") == {"customer_found": True, "health": "healthy", "active_outages": []}
    service_status.declare(outage(started_at=None))
    service_status.declare(outage(outage_id="OUT-7", region="Shelbyville", started_at=None))
    answer = check(customer_id="CUST-ENT-0001")
    assert answer["health"] == "outage"
    assert [o["outage_id"] for o in answer["active_outages"]] == ["OUT-42"]
    service_status.end("Springfield", "OUT-42")
    assert check(customer_id="CUST-ENT-0001")["health"] == "healthy"


def test_get_historical_context_reads_the_tickets_table_masked(
    routing_tools: dict[str, AgentTool], store: TicketStore
) -> None:
    history = routing_tools["get_historical_context"]
    assert history(customer_id="CUST-ENT-0001", tool_context=in_scope()) == {"tickets": []}
    store.create_if_absent(ticket("T-0998", subject=f"Refund please, mail {EMAIL}"))
    store.record_decision(
        "T-0998", make_decision("T-0998", team="Billing Support", category="Billing Dispute"), "routed",
        announce_within_s=60,
    )  # fmt: skip
    store.create_if_absent(ticket("T-1001"))  # the ticket at hand: left out
    masker = Masker()
    masker.text(f"first mention of {EMAIL}")  # numbering continues the ticket's own
    answer = history(customer_id="CUST-ENT-0001", tool_context=in_scope(masker))
    assert [(t["ticket_id"], t["team"], t["subject"]) for t in answer["tickets"]] == [
        ("T-0998", "Billing Support", "Refund please, mail [EMAIL-1]")
    ]


def test_calculate_priority_applies_the_fast_path_rules_to_the_ticket_at_hand(
    routing_tools: dict[str, AgentTool],
) -> None:
    calculate = routing_tools["calculate_priority"]
    vip_in_outage = calculate(team="Network Operations", tool_context=in_scope())
    assert vip_in_outage["level"] == "P0"
    assert any("Active outage: OUT-42" in reason for reason in vip_in_outage["reasons"])
    routine = calculate(
        team="Account Management",
        tool_context=in_scope(customer=customer(vip=False, account_type="consumer"), service=None),
    )
    assert routine["level"] in ("P2", "P3")


def test_route_to_team_looks_up_team_or_category_and_validates_the_name(routing_tools: dict[str, AgentTool]) -> None:
    route = routing_tools["route_to_team"]
    assert route(name="Billing Dispute") == {
        "team": "Billing Support",
        "category": "Billing Dispute",
        "description": route(name="Billing Support")["description"],
        "severity": "medium",
    }
    refused = through_strands(route, {"name": "Sales"})
    assert refused["status"] == "error" and "Input should be" in refused["content"][0]["text"]


def test_calculate_priority_refuses_a_team_outside_the_taxonomy(routing_tools: dict[str, AgentTool]) -> None:
    refused = through_strands(routing_tools["calculate_priority"], {"team": "Sales"})
    assert refused["status"] == "error"


def test_classify_issue_is_the_fast_router_classifier(routing_tools: dict[str, AgentTool]) -> None:
    answer = routing_tools["classify_issue"](text="I was charged twice on my bill, I want a refund")
    assert answer["teams"][0]["team"] == "Billing Support" and answer["teams"][0]["category"] == "Billing Dispute"
    assert sum(team["probability"] for team in answer["teams"]) == pytest.approx(1.0, abs=1e-3)
    assert answer["out_of_scope"] is False


def test_extract_entities_masks_personal_data(routing_tools: dict[str, AgentTool]) -> None:
    answer = routing_tools["extract_entities"](text=f"mail {EMAIL}, error RDK-03003", tool_context=in_scope())
    assert answer["emails"] == ["[EMAIL-1]"] and answer["error_codes"] == ["RDK-03003"]


def test_tools_refuse_to_run_without_a_ticket(routing_tools: dict[str, AgentTool]) -> None:
    empty = ToolContext(tool_use={"toolUseId": "t", "name": "x", "input": {}}, agent=None, invocation_state={})  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="RoutingAgent"):
        routing_tools["calculate_priority"](team="Billing Support", tool_context=empty)
