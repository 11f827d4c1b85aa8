"""Puts the contract's events (``datalayer.events``) on the stage's EventBridge bus.

``put_events`` can answer HTTP 200 and still drop an entry (``FailedEntryCount``); that counts as a failure
here, because a dropped TicketReceived is a ticket nobody routes.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from datalayer import aws
from datalayer.errors import PublishError
from datalayer.events import EventDetail, TicketReceivedDetail, TicketRoutedDetail
from datalayer.settings import Settings
from datalayer.types import RoutingDecision, Ticket


class EventPublisher:
    """One event per call on ``settings.event_bus`` with source ``settings.event_source``."""

    def __init__(self, settings: Settings, events_client: Any = None) -> None:
        self._settings = settings
        self._client_override = events_client

    @cached_property
    def _client(self) -> Any:
        return self._client_override if self._client_override is not None else aws.client("events", self._settings)

    def publish_received(self, ticket: Ticket, correlation_id: str | None = None) -> None:
        self.publish(TicketReceivedDetail(ticket=ticket, correlation_id=correlation_id))

    def publish_routed(
        self, ticket_id: str, decision: RoutingDecision, status: str, correlation_id: str | None = None
    ) -> None:
        self.publish(TicketRoutedDetail.of(ticket_id, decision, status, correlation_id))

    def publish(self, detail: EventDetail) -> None:
        entry = {
            "Source": self._settings.event_source,
            "DetailType": detail.DETAIL_TYPE,
            "Detail": detail.model_dump_json(),
            "EventBusName": self._settings.event_bus,
        }
        try:
            answer = self._client.put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as exc:
            raise PublishError(f"{detail.DETAIL_TYPE} not published: {exc}") from exc
        if answer.get("FailedEntryCount", 0):
            failed = next((e for e in answer.get("Entries", []) if e.get("ErrorCode")), {})
            code, message = failed.get("ErrorCode", "unknown"), failed.get("ErrorMessage", "")
            raise PublishError(f"{detail.DETAIL_TYPE} rejected by EventBridge: {code} {message}".rstrip())
