"""End to end against a moto server: HTTP in, decision stored, one TicketRouted out; faults end in the DLQ.

Everything is submitted once (module fixture ``scenario``) and the tests then check its results, so the slow
part, five 1-second deliveries of the failing messages, is paid once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from agent.classifier import load_classifier
from agent.router import Router
from datalayer import aws
from datalayer.publisher import EventPublisher
from datalayer.service_status import ServiceStatusStore
from datalayer.types import CustomerContext, Outage, RoutingDecision, ServiceStatus, Ticket
from infra.local import LocalStack
from infra.observe import Observer, observe
from ops.dead_letter_queues import stage_queues
from ops.dead_letters import QueueReader
from ops.drain import Drain
from ops.redrive import ToQueue
from workers import routing
from workers.limits import MAX_RECEIVE_COUNT

pytestmark = pytest.mark.integration

WAIT_S = 45.0
"""Upper bound for the pipeline to settle; it normally takes under ten seconds."""
CRASH = "CRASH-ME"
OUTAGE_HERE, OUTAGE_ELSEWHERE = "OUT-SPRINGFIELD", "OUT-CHICAGO"
FINAL = {"routed", "needs_review"}
POISON_BODY = "this is not an EventBridge event"


class CrashingRouter(Router):
    """The keyword-baseline router, except for tickets whose subject asks it to crash (a bug for one kind of ticket)."""

    def __init__(self) -> None:
        super().__init__(load_classifier("keyword"))

    def route(
        self,
        ticket: Ticket,
        customer: CustomerContext | None = None,
        service: ServiceStatus | None = None,
        now: None = None,
    ) -> RoutingDecision:
        if CRASH in ticket.subject:
            raise RuntimeError("router bug triggered")
        return super().route(ticket, customer, service)


@dataclass
class Scenario:
    client: httpx.Client
    good: list[str]
    crashing: str
    observer: Observer
    sqs: Any
    stack: LocalStack

    def view(self, ticket_id: str) -> dict[str, Any]:
        return self.client.get(f"/tickets/{ticket_id}").raise_for_status().json()

    def depth(self, queue_url: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        return sum(int(attributes[n]) for n in names)


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def scenario(stack: LocalStack) -> Iterator[Scenario]:
    settings = stack.settings
    assert settings is not None and stack.provisioned is not None
    routing.use_worker_factory(lambda: routing.build_default_worker(settings, router=CrashingRouter()))
    sqs = aws.client("sqs", settings)
    outages = ServiceStatusStore(settings)
    outages.declare(Outage(outage_id=OUTAGE_HERE, region="Springfield", customers_affected=1200))
    outages.declare(Outage(outage_id=OUTAGE_ELSEWHERE, region="Chicago"))
    observer = observe(settings, "TicketRouted", "it-ticket-routed")
    tickets = [
        {"ticket_id": "IT-1", "customer_id": "CUST-ENT-0001", "subject": "Outage", "description": "Fiber down"},
        {"ticket_id": "IT-2", "customer_id": "CUST-CON-0002", "subject": "Refund", "description": "Double charge"},
        {"ticket_id": "IT-3", "customer_id": "CUST-CON-0001", "subject": "Login", "description": "Password reset"},
        {"ticket_id": "IT-4", "customer_id": "CUST-BIZ-0002", "subject": "Router", "description": "Reboots"},
        {"ticket_id": "IT-5", "customer_id": "nobody-we-know", "subject": "hello", "description": "anyone?"},
        # CUST-CON-0002 is served in Springfield, where an outage is declared above.
        {"ticket_id": "IT-6", "customer_id": "CUST-CON-0002", "subject": "Internet down", "description": "No signal"},
    ]
    crashing = {"ticket_id": "IT-CRASH", "customer_id": "CUST-CON-0002", "subject": f"{CRASH} please"}
    with httpx.Client(base_url=stack.api_url, headers={"x-api-key": stack.api_key}, timeout=10) as client:
        for body in [*tickets, crashing]:
            assert client.post("/tickets", json=body).status_code == 202
        # Duplicates: the client retries one ticket, and EventBridge delivers another one's event twice more.
        assert client.post("/tickets", json=tickets[1]).status_code == 202
        publisher = EventPublisher(settings)
        for _ in range(2):
            publisher.publish_received(Ticket.model_validate(tickets[0]))
        sqs.send_message(QueueUrl=stack.provisioned.routing_queue_url, MessageBody=POISON_BODY)

        result = Scenario(client, [t["ticket_id"] for t in tickets], crashing["ticket_id"], observer, sqs, stack)
        _wait(lambda: all(result.view(t)["status"] in FINAL for t in result.good), "final decisions")
        _wait(lambda: result.depth(stack.provisioned.routing_dlq_url) == 2, "two dead letters")
        observer.drain(until=lambda events: len(events) >= len(tickets), timeout_s=WAIT_S)
        observer.drain(until=lambda _events: False, timeout_s=1.5)  # anything extra would be a duplicate
        try:
            yield result
        finally:
            routing.use_worker_factory(routing.build_default_worker)


def test_submitted_tickets_get_a_stored_decision(scenario: Scenario) -> None:
    for ticket_id in scenario.good:
        view = scenario.view(ticket_id)
        assert view["status"] in {"routed", "needs_review"}
        assert view["decision"]["ticket_id"] == ticket_id
        assert view["team"] == view["decision"]["team"]
    assert scenario.view("IT-2")["team"] == "Billing Support"


def test_an_outage_where_the_customer_is_raises_the_priority_and_says_so(scenario: Scenario) -> None:
    decision = scenario.view("IT-6")["decision"]
    priority = decision["priority"]
    assert decision["team"] == "Network Operations"
    assert priority["level"] == "P2" and priority["factors"]["sla"] == 1.0
    assert OUTAGE_HERE in priority["decided_by"] and "raised the priority from P3 to P2" in priority["decided_by"]
    assert any(OUTAGE_HERE in line and "raised" in line for line in decision["reasoning"])
    assert OUTAGE_ELSEWHERE not in str(decision)


def test_customers_away_from_every_outage_are_routed_without_one(scenario: Scenario) -> None:
    priority = scenario.view("IT-3")["decision"]["priority"]  # CUST-CON-0001 is in Los Angeles
    assert priority["factors"]["sla"] == 0.0 and "OUT-" not in str(priority)


def test_each_ticket_is_announced_exactly_once(scenario: Scenario) -> None:
    assert scenario.observer.per_ticket() == {ticket_id: 1 for ticket_id in scenario.good}
    detail = scenario.observer.events[0]["detail"]
    fields = {"ticket_id", "status", "team", "category", "confidence", "priority", "model_version", "correlation_id"}
    assert set(detail) == fields and detail["correlation_id"]  # the API request's id, carried to the end


def test_only_the_poison_and_the_crashing_ticket_are_dead_lettered(scenario: Scenario) -> None:
    provisioned = scenario.stack.provisioned
    assert provisioned is not None
    assert scenario.depth(provisioned.routing_queue_url) == 0
    queues = stage_queues(scenario.stack.settings)
    letters = QueueReader(scenario.sqs, provisioned.routing_dlq_url, queues.resolve("routing"), queues).peek(10)
    assert sorted((letter.kind, letter.ticket_id or "") for letter in letters) == [
        ("TicketReceived", scenario.crashing), ("unreadable", "")]
    assert all(letter.receive_count >= MAX_RECEIVE_COUNT for letter in letters)
    assert {letter.body for letter in letters} >= {POISON_BODY}


def test_the_crashing_ticket_is_marked_failed_with_the_reason(scenario: Scenario) -> None:
    view = scenario.view(scenario.crashing)
    assert view["status"] == "failed"
    assert view["failure_reason"] == "RuntimeError: router bug triggered"


def test_poller_deleted_only_successful_records(scenario: Scenario) -> None:
    stats = scenario.stack.mapping.stats if scenario.stack.mapping else None
    assert stats is not None and stats.handler_errors == 0
    assert stats.failed >= 2  # the two dead letters, at least once each
    assert stats.deleted + stats.failed == stats.records


def test_redrive_moves_dead_letters_back_to_the_routing_queue(scenario: Scenario) -> None:
    """Last: the moved messages go through the worker again (and fail again, the bug is still there)."""
    provisioned = scenario.stack.provisioned
    assert provisioned is not None
    queues = stage_queues(scenario.stack.settings)

    def redrive() -> int:
        reader = QueueReader(scenario.sqs, provisioned.routing_dlq_url, queues.resolve("routing"), queues)
        return Drain(reader, ToQueue(scenario.sqs, provisioned.routing_queue_url)).run().handed_over

    assert redrive() == 2
    assert redrive() == 0
