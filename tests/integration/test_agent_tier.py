"""The cascade end to end against the embedded AWS: an unsure ticket waits for the agent, showing its provisional
decision, and ends with the agent's decision exactly once, its cost recorded; a sure one never reaches the agent.

The agent is strands' real OpenAI-compatible client talking over HTTP to ``infra.llm_stub`` (a test endpoint).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.llm_stub import StubServer
from infra.local import LocalStack
from infra.observe import Observer, observe

pytestmark = pytest.mark.integration

WAIT_S = 45.0
SURE = {
    "ticket_id": "AG-SURE",
    "customer_id": "CUST-CON-0002",
    "channel": "email",
    "subject": "Refund",
    "description": "I was billed twice: refund the duplicate charge and the late fee on my bill.",
}
UNSURE = {
    "ticket_id": "AG-UNSURE",
    "customer_id": "CUST-CON-0002",
    "channel": "chat",
    "subject": "hello",
    "description": "My bill is wrong and my internet keeps dropping.",
}


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, headers={"x-api-key": stack.api_key}, timeout=10) as http:
        yield http


@pytest.fixture(scope="module")
def routed(stack: LocalStack) -> Iterator[Observer]:
    assert stack.settings is not None
    observer = observe(stack.settings, "TicketRouted", "it-agent-tier-routed")
    yield observer
    observer.close()


def until_final(client: httpx.Client, ticket_id: str, seen: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        view = client.get(f"/tickets/{ticket_id}").raise_for_status().json()
        seen.add(view["status"])
        if view["status"] == "awaiting_agent":
            assert view["decision"] is not None and view["decision"]["deferred_reason"]  # the provisional decision
        if view["status"] in ("routed", "needs_review"):
            return view
        time.sleep(0.05)
    pytest.fail(f"{ticket_id} not decided in {WAIT_S:.0f} s")


def test_an_unsure_ticket_is_decided_by_the_agent_exactly_once(client, routed: Observer, llm: StubServer) -> None:
    asked = llm.requests
    assert client.post("/tickets", json=UNSURE).status_code == 202
    seen: set[str] = set()

    view = until_final(client, "AG-UNSURE", seen)

    decision = view["decision"]
    assert "awaiting_agent" in seen
    assert decision["tier"] == "agent" and decision["deferred_reason"]
    assert decision["agent"]["model_id"] == "switchboard-stub" and decision["agent"]["fallback"] is None
    assert decision["agent"]["input_tokens"] > 0 and decision["agent"]["cost_usd"] > 0
    assert llm.requests == asked + 1  # one model call
    events = routed.drain(until=lambda e: any(x["detail"]["ticket_id"] == "AG-UNSURE" for x in e), timeout_s=WAIT_S)
    routed.drain(until=lambda _events: False, timeout_s=1.5)  # anything more would be a second announcement
    assert [e["detail"]["ticket_id"] for e in events].count("AG-UNSURE") == 1


def test_a_sure_ticket_never_reaches_the_agent(client, llm: StubServer) -> None:
    asked = llm.requests
    assert client.post("/tickets", json=SURE).status_code == 202

    view = until_final(client, "AG-SURE", set())

    assert view["decision"]["tier"] == "local" and view["decision"]["agent"] is None
    assert view["team"] == "Billing Support" and llm.requests == asked
