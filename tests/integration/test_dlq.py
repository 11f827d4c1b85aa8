"""On-call's loop through the local stack: a poison ticket dead-lettered by the routing worker, seen with
``switchboard dlq show``, the bug fixed, ``switchboard dlq redrive``, the ticket decided once.

The commands run as on-call runs them: their own process, the stack's moto URL as ``--endpoint-url`` and no AWS
credentials in the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from agent.classifier import load_classifier
from agent.router import Router
from datalayer import aws
from datalayer.types import CustomerContext, RoutingDecision, ServiceStatus, Ticket
from infra.local import LocalStack
from infra.observe import Observer, observe
from workers import routing

pytestmark = pytest.mark.integration

WAIT_S = 45.0
MARKER = "DLQ-POISON"


class BuggyRouter(Router):
    """The keyword router with a bug for one kind of ticket, until it is fixed."""

    def __init__(self) -> None:
        super().__init__(load_classifier("keyword"))
        self.fixed = False

    def route(self, ticket: Ticket, customer: CustomerContext | None = None, service: ServiceStatus | None = None,
              now: None = None) -> RoutingDecision:
        if MARKER in ticket.subject and not self.fixed:
            raise RuntimeError("router bug: cannot route a DLQ-POISON ticket")
        return super().route(ticket, customer, service)


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.25)


def switchboard(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    """``switchboard dlq …`` in its own process, with no AWS credentials at all."""
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("AWS_", "SWITCHBOARD_"))}
    return subprocess.run([sys.executable, "-m", "ops", "dlq", *args, "--endpoint-url", stack.moto_endpoint],
                          capture_output=True, text=True, timeout=120, env={**environment, "COLUMNS": "200"},
                          check=False)


@pytest.fixture
def router() -> Iterator[BuggyRouter]:
    buggy = BuggyRouter()
    routing.use_worker_factory(lambda: routing.build_default_worker(router=buggy))
    try:
        yield buggy
    finally:
        routing.use_worker_factory(routing.build_default_worker)


@pytest.fixture
def routed(stack: LocalStack) -> Iterator[Observer]:
    assert stack.settings is not None
    observer = observe(stack.settings, "TicketRouted", "it-dlq-ticket-routed")
    try:
        yield observer
    finally:
        observer.close()


def test_a_poison_ticket_is_dead_lettered_fixed_redriven_and_decided_once(
    stack: LocalStack, router: BuggyRouter, routed: Observer
) -> None:
    settings = stack.settings
    assert settings is not None
    sqs = aws.client("sqs", settings)
    dlq_url = sqs.get_queue_url(QueueName=settings.routing_dlq)["QueueUrl"]

    def dead_letters() -> int:
        attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    with httpx.Client(base_url=stack.api_url, headers={"x-api-key": stack.api_key}, timeout=10) as client:

        def view() -> dict[str, Any]:
            return client.get("/tickets/IT-DLQ-1").raise_for_status().json()

        ticket = {"ticket_id": "IT-DLQ-1", "customer_id": "CUST-CON-0002", "subject": f"{MARKER}: bill wrong",
                  "description": "I was charged twice, call me on 555-201-7788"}
        assert client.post("/tickets", json=ticket).status_code == 202
        _wait(lambda: view()["status"] == "failed" and dead_letters() == 1, "the ticket in the routing DLQ")

        shown = switchboard(stack, "show", "routing", "--json")
        assert shown.returncode == 0, shown.stderr
        [letter] = json.loads(shown.stdout)
        assert letter["ticket_id"] == "IT-DLQ-1" and letter["ticket_status"] == "failed"
        assert letter["error"] == "RuntimeError: router bug: cannot route a DLQ-POISON ticket"
        assert letter["worker"] == "route_tickets" and letter["receive_count"] >= 5

        router.fixed = True
        moved = switchboard(stack, "redrive", "routing")
        assert moved.returncode == 0, moved.stderr
        assert f"moved 1 message(s) from {settings.routing_dlq} to {settings.routing_queue}" in moved.stdout

        _wait(lambda: view()["status"] == "routed", "the redriven ticket's decision")
        assert view()["team"] == "Billing Support"
        routed.drain(until=lambda events: len(events) >= 1, timeout_s=WAIT_S)
        routed.drain(until=lambda _events: False, timeout_s=1.5)  # anything more would be a second decision
        assert routed.per_ticket() == {"IT-DLQ-1": 1}
        assert dead_letters() == 0

    audit = switchboard(stack, "audit", "--json")
    assert audit.returncode == 0, audit.stderr
    assert [(r["action"], r["count"]) for r in json.loads(audit.stdout)][-2:] == [("show", 1), ("redrive", 1)]
