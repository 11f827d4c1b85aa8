"""EventPublisher: the event shapes the contract fixes, and put_events' partial failures treated as failures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from datalayer.errors import PublishError
from datalayer.publisher import EventPublisher
from datalayer.settings import Settings
from datalayer.types import PriorityLevel, Ticket
from tests.factories import make_decision
from tests.support import BrokenEvents, ticket_payload


class RecordingEvents:
    def __init__(self, answer: dict[str, Any] | None = None) -> None:
        self.entries: list[dict[str, Any]] = []
        self.answer = answer or {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries += Entries
        return self.answer


def test_ticket_received_carries_the_ticket(settings: Settings) -> None:
    events = RecordingEvents()
    ticket = Ticket.model_validate(ticket_payload("TCK-1"))

    EventPublisher(settings, events_client=events).publish_received(ticket)

    [entry] = events.entries
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "switchboard.tickets",
        "TicketReceived",
        settings.event_bus,
    )
    assert Ticket.model_validate(json.loads(entry["Detail"])["ticket"]) == ticket


def test_ticket_routed_carries_the_headline_of_the_decision(settings: Settings) -> None:
    events = RecordingEvents()
    decision = make_decision("TCK-1", team="Billing Support", category="Billing Dispute", priority=PriorityLevel.P1)

    EventPublisher(settings, events_client=events).publish_routed("TCK-1", decision, "needs_review", "req-42")

    [entry] = events.entries
    assert entry["DetailType"] == "TicketRouted"
    assert json.loads(entry["Detail"]) == {
        "ticket_id": "TCK-1",
        "status": "needs_review",
        "team": "Billing Support",
        "category": "Billing Dispute",
        "confidence": decision.confidence,
        "priority": "P1",
        "model_version": decision.model_version,
        "correlation_id": "req-42",
    }


def test_a_dropped_entry_is_a_publish_error(settings: Settings) -> None:
    dropped = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}]}
    publisher = EventPublisher(settings, events_client=RecordingEvents(dropped))

    with pytest.raises(PublishError, match="ThrottlingException"):
        publisher.publish_received(Ticket.model_validate(ticket_payload()))


def test_a_failed_call_is_a_publish_error(settings: Settings) -> None:
    with pytest.raises(PublishError, match="InternalException"):
        EventPublisher(settings, events_client=BrokenEvents()).publish_received(Ticket.model_validate(ticket_payload()))
