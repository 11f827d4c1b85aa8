"""The API's wire formats as pydantic models: every response is built through one of these.

Building responses through the models is what keeps ``GET /openapi.json`` true: the document's schemas
are these models' JSON schemas, so a response cannot drift from its published shape unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from datalayer.records import SyncStatus, TicketRecord, TicketStatus, TicketSummary
from datalayer.types import RoutingDecision, Ticket

_TICKET_ID = TypeAdapter(Annotated[str, *Ticket.model_fields["ticket_id"].metadata])


def is_ticket_id(value: str) -> bool:
    """Whether ``value`` obeys the ticketing system's id rules, which are taken from ``Ticket`` itself."""
    try:
        _TICKET_ID.validate_python(value)
    except ValidationError:
        return False
    return True


def ticket_path(ticket_id: str) -> str:
    return f"/tickets/{ticket_id}"


class Links(BaseModel):
    self: str = Field(description="Path of the ticket resource, relative to the API's base URL.")


class TicketAccepted(BaseModel):
    """Answer to ``POST /tickets``: the ticket is stored and its TicketReceived event accepted."""

    ticket_id: str
    status: TicketStatus
    links: Links

    @classmethod
    def from_record(cls, record: TicketRecord) -> TicketAccepted:
        return cls(ticket_id=record.ticket_id, status=record.status, links=Links(self=ticket_path(record.ticket_id)))


class TicketListItem(BaseModel):
    ticket_id: str
    customer_id: str
    status: TicketStatus
    received_at: datetime
    team: str | None = Field(default=None, description="Set once the ticket is routed.")
    category: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    links: Links

    @classmethod
    def from_summary(cls, summary: TicketSummary) -> TicketListItem:
        return cls(
            ticket_id=summary.ticket_id,
            customer_id=summary.customer_id,
            status=summary.status,
            received_at=datetime.fromisoformat(summary.received_at),
            team=summary.team,
            category=summary.category,
            confidence=summary.confidence,
            links=Links(self=ticket_path(summary.ticket_id)),
        )


class TicketView(TicketListItem):
    """Answer to ``GET /tickets/{ticket_id}``: the submitted ticket and, once routed, the full decision."""

    updated_at: datetime
    routed_at: datetime | None = None
    model_version: str | None = None
    failure_reason: str | None = Field(default=None, description="Why routing failed (status failed).")
    ticket: Ticket
    decision: RoutingDecision | None = Field(default=None, description="Present once status is routed or needs_review.")
    sync_status: SyncStatus | None = Field(
        default=None,
        description="Where the final decision stands in the ticketing system: pending, synced, or failed (its "
        "message is in the sync dead-letter queue; sync_failure says why). Absent before the final decision.",
    )
    synced_at: datetime | None = None
    sync_failure: str | None = None

    @classmethod
    def from_record(cls, record: TicketRecord) -> TicketView:
        return cls(
            **TicketListItem.from_summary(record).model_dump(),
            updated_at=datetime.fromisoformat(record.updated_at),
            routed_at=datetime.fromisoformat(record.routed_at) if record.routed_at else None,
            model_version=record.model_version,
            failure_reason=record.failure_reason,
            ticket=record.ticket,
            decision=RoutingDecision.model_validate(record.decision) if record.decision else None,
            sync_status=record.sync_status,
            synced_at=datetime.fromisoformat(record.synced_at) if record.synced_at else None,
            sync_failure=record.sync_failure,
        )


class TicketPage(BaseModel):
    """One page of a listing, newest first."""

    items: list[TicketListItem]
    next_token: str | None = Field(description="Pass as next_token for the next page; null on the last page.")


class HealthReport(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(description='Each dependency: "ok" or "error: <AWS error code>".')


SyncStatusName = Literal["pending", "synced", "failed"]
"""``SyncStatus``'s values, spelled out so that the OpenAPI parameter is a plain enum (a test checks they agree)."""


class ListTicketsQuery(BaseModel):
    """Query of ``GET /tickets``: exactly one of customer_id, team and sync_status selects the index."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str | None = Field(default=None, min_length=1, max_length=128)
    team: str | None = Field(default=None, min_length=1, max_length=128)
    sync_status: SyncStatusName | None = None
    limit: int = Field(default=20, ge=1, le=100)
    next_token: str | None = Field(default=None, min_length=1, max_length=2048)

    @model_validator(mode="after")
    def _exactly_one_filter(self) -> ListTicketsQuery:
        if sum(value is not None for value in (self.customer_id, self.team, self.sync_status)) != 1:
            raise ValueError("give exactly one of customer_id, team and sync_status")
        return self

    @property
    def selector(self) -> tuple[Literal["customer_id", "team", "sync_status"], str]:
        """Which listing was asked for, and of whom."""
        if self.customer_id is not None:
            return "customer_id", self.customer_id
        if self.sync_status is not None:
            return "sync_status", self.sync_status
        return "team", self.team or ""

    @classmethod
    def from_params(cls, params: Mapping[str, str] | None) -> ListTicketsQuery:
        """Validate Chalice's query parameters (last value wins for a repeated name)."""
        return cls.model_validate({name: params[name] for name in params} if params else {})
