"""In-memory stand-ins for the worker's router, store and publisher, each able to fail on demand.

They follow the contract of ``datalayer.tickets.TicketStore`` and ``datalayer.publisher.EventPublisher``: in
particular ``record_decision`` is conditional on status "received", which is what makes duplicates harmless.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from datalayer.events import AgentRequest
from datalayer.types import EVERYWHERE, CustomerContext, Outage, RoutingDecision, ServiceStatus, Ticket
from tests.factories import make_decision

_ids = itertools.count(1)


def ticket(ticket_id: str | None = None, *, customer_id: str = "CUST-CON-0002", text: str = "No internet") -> Ticket:
    return Ticket(
        ticket_id=ticket_id or f"T-{next(_ids):05d}",
        customer_id=customer_id,
        subject=text,
        description=f"{text} since this morning.",
        created_at=datetime(2026, 11, 25, 15, 0, tzinfo=UTC),
    )


def event_body(t: Ticket, detail_type: str = "TicketReceived") -> str:
    """The SQS body EventBridge delivers: the whole event envelope."""
    return json.dumps(
        {
            "version": "0",
            "id": f"evt-{t.ticket_id}",
            "detail-type": detail_type,
            "source": "switchboard.tickets",
            "account": "123456789012",
            "time": "2026-11-25T15:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {"ticket": t.model_dump(mode="json"), "correlation_id": f"corr-{t.ticket_id}"},
        }
    )


def sqs_record(body: str, *, message_id: str | None = None, receive_count: int = 1) -> dict[str, Any]:
    """One Lambda SQS record with its own messageId (chalice's generated events all share one)."""
    message_id = message_id or f"msg-{next(_ids):05d}"
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1795620000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1795620000100",
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:switchboard-dev-routing",
        "awsRegion": "us-east-1",
    }


class FakeRouter:
    def __init__(
        self,
        *,
        fail_for: set[str] | None = None,
        review_for: set[str] | None = None,
        unsure_for: set[str] | None = None,
    ) -> None:
        self.fail_for = fail_for or set()
        self.review_for = review_for or set()
        self.unsure_for = unsure_for or set()
        self.calls: list[str] = []

    def route(
        self, ticket: Ticket, customer: CustomerContext | None = None, service: ServiceStatus | None = None
    ) -> RoutingDecision:
        self.calls.append(ticket.ticket_id)
        if ticket.ticket_id in self.fail_for:
            raise RuntimeError(f"router crashed on {ticket.ticket_id}")
        decision = make_decision(ticket.ticket_id, requires_manual_review=ticket.ticket_id in self.review_for)
        if ticket.ticket_id in self.unsure_for:
            decision = decision.model_copy(
                update={"unsure_reasons": ["confidence 0.55 is below the web channel's 0.80"]}
            )
        return decision


class FakeStore:
    """Ticket rows as the API leaves them (status "received"), plus the worker's writes."""

    def __init__(self, tickets: Iterable[Ticket] = ()) -> None:
        self.now = 0.0
        """Seconds on the store's clock; tests advance it to let an announcement deadline pass."""
        self.items: dict[str, dict[str, Any]] = {}
        self.decision_writes: list[str] = []
        self.lost_races = 0
        self._lock = threading.Lock()
        for t in tickets:
            self.add(t)

    def add(self, t: Ticket) -> None:
        self.items[t.ticket_id] = {
            "ticket_id": t.ticket_id,
            "customer_id": t.customer_id,
            "status": "received",
            "received_at": "2026-11-25T15:00:00.000000+00:00",
        }

    def get(self, ticket_id: str) -> SimpleNamespace | None:
        """A snapshot shaped like ``TicketRecord`` (attributes, decision as a dict)."""
        item = self.items.get(ticket_id)
        if item is None:
            return None
        decision = json.loads(item["decision"]) if "decision" in item else None
        return SimpleNamespace(
            status=item["status"],
            routed_event_sent=item.get("routed_event_sent", False),
            decision=decision,
            received_at=item["received_at"],
        )

    def record_decision(
        self, ticket_id: str, decision: RoutingDecision, status: str, *, announce_within_s: int
    ) -> bool:
        with self._lock:
            item = self.items[ticket_id]
            if item["status"] != "received":
                self.lost_races += 1
                return False
            item.update(
                status=status,
                team=decision.team,
                decision=decision.model_dump_json(),
                routed_event_sent=False,
                announce_by=self.now + announce_within_s,
            )
            self.decision_writes.append(ticket_id)
            return True

    def claim_announcement(self, ticket_id: str, *, announce_within_s: int) -> bool:
        with self._lock:
            item = self.items[ticket_id]
            if item["routed_event_sent"] or item["announce_by"] > self.now:
                return False
            item["announce_by"] = self.now + announce_within_s
            return True

    def record_provisional(self, ticket_id: str, decision: RoutingDecision) -> bool:
        with self._lock:
            item = self.items[ticket_id]
            if item["status"] not in ("received", "failed"):
                self.lost_races += 1
                return False
            item.update(status="awaiting_agent", decision=decision.model_dump_json())
            return True

    def mark_routed_event_sent(self, ticket_id: str) -> None:
        self.items[ticket_id]["routed_event_sent"] = True

    def mark_failed(self, ticket_id: str, reason: str) -> bool:
        item = self.items[ticket_id]
        if item["status"] != "received":
            return False
        item.update(status="failed", failure_reason=reason)
        return True


class FakeCustomers:
    def __init__(self, customers: Iterable[CustomerContext] = ()) -> None:
        self.customers = {c.customer_id: c for c in customers}

    def get(self, customer_id: str) -> CustomerContext | None:
        return self.customers.get(customer_id)


class FakeServiceStatus:
    """Outages by region, as ``ServiceStatusStore.status_for`` would report them for a customer."""

    def __init__(self, outages: Iterable[Outage] = ()) -> None:
        self.outages = list(outages)
        self.asked_for: list[CustomerContext | None] = []

    def status_for(self, customer: CustomerContext | None) -> ServiceStatus:
        self.asked_for.append(customer)
        region = customer.region if customer else None
        return ServiceStatus.of(o for o in self.outages if o.region in {EVERYWHERE, region})


class FakeAgentQueue:
    def __init__(self, *, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[AgentRequest] = []

    def send(self, request: AgentRequest) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("SQS unavailable")
        self.sent.append(request)


class FakePublisher:
    def __init__(self, *, failures: int = 0) -> None:
        self.failures = failures
        self.events: list[tuple[str, str, str]] = []
        self.correlation_ids: list[str | None] = []

    def publish_routed(
        self, ticket_id: str, decision: RoutingDecision, status: str, correlation_id: str | None = None
    ) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("EventBridge unavailable")
        self.events.append((ticket_id, decision.team, status))
        self.correlation_ids.append(correlation_id)


class MetricRecorder:
    """A ``MetricSink`` that keeps what it is told: (name, value, dimensions)."""

    def __init__(self) -> None:
        self.metrics: list[tuple[str, float, dict[str, str]]] = []

    def add(self, name: str, value: float, unit: Any = None, **dimensions: str) -> None:
        self.metrics.append((name, value, dimensions))

    def names(self) -> list[str]:
        return [name for name, _, _ in self.metrics]
