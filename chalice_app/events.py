"""Ticket events on the EventBridge bus: TicketReceived (API → routing queue) and TicketRouted (worker → anyone).

``put_events`` can answer HTTP 200 and still drop an entry (``FailedEntryCount``); that counts as a failure
here, because a dropped TicketReceived is a ticket nobody routes.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalice_app import aws
from chalice_app.records import TicketStatus
from datalayer.settings import Settings
from datalayer.types import RoutingDecision, Ticket

TICKET_RECEIVED = "TicketReceived"
TICKET_ROUTED = "TicketRouted"


class PublishError(Exception):
    """EventBridge did not accept the event: a dependency failure (the API answers 503)."""


class EventPublisher:
    """Puts one event per call on ``settings.event_bus`` with source ``settings.event_source``."""

    def __init__(self, settings: Settings, events_client: Any = None) -> None:
        self._settings = settings
        self._client_override = events_client

    @cached_property
    def _client(self) -> Any:
        return self._client_override if self._client_override is not None else aws.client("events", self._settings)

    def publish_received(self, ticket: Ticket) -> None:
        self._put(TICKET_RECEIVED, {"ticket": ticket.model_dump(mode="json")})

    def publish_routed(self, ticket_id: str, decision: RoutingDecision, status: TicketStatus | str) -> None:
        self._put(
            TICKET_ROUTED,
            {
                "ticket_id": ticket_id,
                "status": TicketStatus(status).value,
                "team": decision.team,
                "category": decision.category,
                "confidence": decision.confidence,
                "priority": decision.priority.level.value,
                "model_version": decision.model_version,
            },
        )

    def _put(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry = {
            "Source": self._settings.event_source,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, separators=(",", ":")),
            "EventBusName": self._settings.event_bus,
        }
        try:
            answer = self._client.put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as exc:
            raise PublishError(f"{detail_type} not published: {exc}") from exc
        if answer.get("FailedEntryCount", 0):
            failed = next((e for e in answer.get("Entries", []) if e.get("ErrorCode")), {})
            code, message = failed.get("ErrorCode", "unknown"), failed.get("ErrorMessage", "")
            raise PublishError(f"{detail_type} rejected by EventBridge: {code} {message}".rstrip())
