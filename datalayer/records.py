"""What the tickets table holds, as typed objects, and the rules that make its keys comparable."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from datalayer.types import Ticket


class TicketStatus(StrEnum):
    """Life cycle of a ticket.

    The API writes ``received``. The routing worker moves it on once: to ``routed`` or ``needs_review`` when the
    fast router's decision is final, or to ``awaiting_agent`` when the fast router is unsure and the cascade sends
    the ticket to the agent tier; the ticket then shows the fast (provisional) decision until the agent worker
    moves it, once, to ``routed`` or ``needs_review``. ``failed``: routing gave up (the reason is on the ticket).
    """

    RECEIVED = "received"
    AWAITING_AGENT = "awaiting_agent"
    ROUTED = "routed"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (TicketStatus.ROUTED, TicketStatus.NEEDS_REVIEW)


class SyncStatus(StrEnum):
    """Where a final decision stands in the ticketing system: written ``pending`` with the decision, ``synced`` once
    the system accepted it, ``failed`` when the sync gave up (its message is in the sync DLQ: redrive it)."""

    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"


def utc_iso(moment: datetime) -> str:
    """ISO-8601 in UTC with microseconds: one fixed width, so that string order is time order in the GSIs."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def payload_hash(ticket: Ticket) -> str:
    """SHA-256 of the ticket's canonical JSON; equal hashes mean a resubmission, different ones a conflict."""
    canonical = json.dumps(ticket.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _float(value: Any) -> float | None:
    """DynamoDB numbers arrive as ``Decimal``; JSON and pydantic want floats."""
    return None if value is None else float(Decimal(value))


@dataclass(frozen=True, kw_only=True)
class TicketSummary:
    """The attributes a listing shows; read through a projection so a page never carries the payloads."""

    ATTRIBUTES: ClassVar[tuple[str, ...]] = (
        "ticket_id",
        "customer_id",
        "status",
        "received_at",
        "updated_at",
        "team",
        "category",
        "confidence",
    )

    ticket_id: str
    customer_id: str
    status: TicketStatus
    received_at: str
    updated_at: str
    team: str | None = None
    category: str | None = None
    confidence: float | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> TicketSummary:
        return cls(**_summary_fields(item))


@dataclass(frozen=True, kw_only=True)
class TicketRecord(TicketSummary):
    """A whole tickets-table item: the submitted ticket, its publication state and the worker's decision."""

    ticket: Ticket
    payload_hash: str
    published: bool
    publish_count: int = 0
    published_at: str | None = None
    decision: dict[str, Any] | None = None
    model_version: str | None = None
    routed_at: str | None = None
    deferred_at: str | None = None
    """When the provisional decision was stored and the ticket sent to the agent tier."""
    failure_reason: str | None = None
    processing_time_ms: float | None = None
    routed_event_sent: bool = False
    correlation_id: str | None = None
    """The id the API gave the request that brought the ticket in; every log line and event about it carries it."""
    sync_status: SyncStatus | None = None
    synced_at: str | None = None
    sync_failure: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> TicketRecord:
        decision = item.get("decision")
        return cls(
            **_summary_fields(item),
            ticket=Ticket.model_validate_json(item["payload"]),
            payload_hash=item["payload_hash"],
            published=bool(item.get("published", False)),
            publish_count=int(item.get("publish_count", 0)),
            published_at=item.get("published_at"),
            decision=json.loads(decision) if decision else None,
            model_version=item.get("model_version"),
            routed_at=item.get("routed_at"),
            deferred_at=item.get("deferred_at"),
            failure_reason=item.get("failure_reason"),
            processing_time_ms=_float(item.get("processing_time_ms")),
            routed_event_sent=bool(item.get("routed_event_sent", False)),
            correlation_id=item.get("correlation_id"),
            sync_status=SyncStatus(item["sync_status"]) if item.get("sync_status") else None,
            synced_at=item.get("synced_at"),
            sync_failure=item.get("sync_failure"),
        )


def _summary_fields(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "ticket_id": item["ticket_id"],
        "customer_id": item["customer_id"],
        "status": TicketStatus(item["status"]),
        "received_at": item["received_at"],
        "updated_at": item.get("updated_at", item["received_at"]),
        "team": item.get("team"),
        "category": item.get("category"),
        "confidence": _float(item.get("confidence")),
    }


@dataclass(frozen=True)
class Page:
    """One page of a listing, newest first; ``next_cursor`` is None on the last page."""

    items: list[TicketSummary]
    next_cursor: str | None
