"""The event contract: every event Switchboard puts on its bus, by name, with the schema of its detail, and the
one message a worker sends another directly.

``TicketReceived`` (API and sweep → routing queue) carries the whole ticket, so the worker needs no read to
start; ``TicketRouted`` (routing or agent worker → anyone downstream) announces a ticket's decision once it is
final, once per ticket. ``AgentRequest`` (routing worker → agent queue) names a ticket the fast router was unsure
of. The publisher, the EventBridge rules and the consumers all take names and shapes from here.

A queue record is the whole EventBridge envelope (moto ignores a target's ``InputPath``, so the deployed rule
does not use one either); ``parse_envelope`` checks the envelope and the detail against the contract.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from datalayer.errors import DataLayerError
from datalayer.types import PriorityLevel, RoutingDecision, Ticket

TICKET_RECEIVED = "TicketReceived"
TICKET_ROUTED = "TicketRouted"


class EventFormatError(DataLayerError):
    """A message is not an event of the contract; retrying cannot fix it. ``ticket_id`` when one was readable."""

    def __init__(self, reason: str, ticket_id: str | None = None) -> None:
        super().__init__(reason)
        self.ticket_id = ticket_id


class EventDetail(BaseModel):
    """Base of every detail schema; ``DETAIL_TYPE`` is the event's name on the bus."""

    model_config = ConfigDict(extra="forbid")
    DETAIL_TYPE: ClassVar[str]


class TicketReceivedDetail(EventDetail):
    DETAIL_TYPE: ClassVar[str] = TICKET_RECEIVED

    ticket: Ticket
    correlation_id: str | None = None
    """The API request's id, carried by every event and message about the ticket (logs join on it)."""


class TicketRoutedDetail(EventDetail):
    DETAIL_TYPE: ClassVar[str] = TICKET_ROUTED

    ticket_id: str
    status: str = Field(description="routed or needs_review")
    team: str
    category: str
    confidence: float = Field(ge=0, le=1)
    priority: PriorityLevel
    model_version: str
    correlation_id: str | None = None

    @classmethod
    def of(
        cls, ticket_id: str, decision: RoutingDecision, status: str, correlation_id: str | None = None
    ) -> TicketRoutedDetail:
        return cls(
            correlation_id=correlation_id,
            ticket_id=ticket_id,
            status=status,
            team=decision.team,
            category=decision.category,
            confidence=decision.confidence,
            priority=decision.priority.level,
            model_version=decision.model_version,
        )


class AgentRequest(BaseModel):
    """The agent queue's message: the ticket is read from the store, where its provisional decision waits."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: str
    deferred_reason: str
    correlation_id: str | None = None
    received_at: str | None = None
    """When the API accepted the ticket (the receipt-to-final metric starts there)."""

    @classmethod
    def parse(cls, body: str) -> AgentRequest:
        """``EventFormatError`` for anything that is not an agent request."""
        try:
            return cls.model_validate_json(body)
        except ValidationError as error:
            raise EventFormatError(f"not an agent request: {error}", _ticket_id(_json_or_none(body))) from error


def _json_or_none(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


D = TypeVar("D", bound=EventDetail)


def parse_envelope(body: str, detail_type: type[D]) -> D:
    """The detail of an EventBridge envelope of ``detail_type``; ``EventFormatError`` for anything else."""
    try:
        envelope = json.loads(body)
        name, detail = envelope["detail-type"], envelope["detail"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise EventFormatError(f"not an EventBridge event: {type(error).__name__}: {error}") from error
    if name != detail_type.DETAIL_TYPE:
        raise EventFormatError(f"unexpected detail-type {name!r}, expected {detail_type.DETAIL_TYPE!r}")
    try:
        return detail_type.model_validate(detail)
    except ValidationError as error:
        raise EventFormatError(f"invalid {name} detail: {error}", _ticket_id(detail)) from error


def _ticket_id(detail: Any) -> str | None:
    """The ticket id of a detail that failed validation, if one can be read (the worker marks that ticket)."""
    if not isinstance(detail, dict):
        return None
    candidate = detail.get("ticket_id")
    if candidate is None and isinstance(detail.get("ticket"), dict):
        candidate = detail["ticket"].get("ticket_id")
    return candidate if isinstance(candidate, str) else None
