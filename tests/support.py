"""Helpers shared by the API's tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from chalice.test import Client

from datalayer.settings import Settings

API_KEY = "test-key-1"
OTHER_API_KEY = "test-key-2"
AUTH = {"x-api-key": API_KEY, "content-type": "application/json"}


class FakeClock:
    """Starts at a fixed instant and moves one second per reading, so every write has a distinct time."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class Clients:
    """boto3 clients built once per test session.

    Building a client costs more than most requests to moto, and moto intercepts a client whatever account
    (``mock_aws`` context) is active, so every test reuses these instead of building its own.
    """

    dynamodb: Any
    dynamodb_resource: Any
    events: Any
    sqs: Any

    def client(self, service: str, region_name: str | None = None) -> Any:
        """The ``boto3.Session.client`` subset ``infra.resources.provision`` calls."""
        return {"dynamodb": self.dynamodb, "events": self.events, "sqs": self.sqs}[service]


@dataclass(frozen=True)
class Aws:
    """The mocked account: the test stage's settings, the session's clients and the routing queue."""

    settings: Settings
    clients: Clients
    routing_queue_url: str

    def received_events(self) -> list[dict[str, Any]]:
        """Drain the routing queue: the TicketReceived events EventBridge delivered through the stage's rule."""
        sqs = self.clients.sqs
        events: list[dict[str, Any]] = []
        while True:
            answer = sqs.receive_message(QueueUrl=self.routing_queue_url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.routing_queue_url, ReceiptHandle=message["ReceiptHandle"])


def ticket_payload(ticket_id: str = "TCK-1001", **overrides: Any) -> dict[str, Any]:
    payload = {
        "ticket_id": ticket_id,
        "customer_id": "CUST-CON-0002",
        "subject": "No internet since this morning",
        "description": "The router shows a red light and nothing loads.",
        "created_at": "2026-11-25T14:55:00+00:00",
        "channel": "email",
    }
    payload.update(overrides)
    return payload


def post_ticket(client: Client, payload: Any, headers: dict[str, str] | None = None) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.http.post("/tickets", headers=AUTH if headers is None else headers, body=body)


class BrokenEvents:
    """An EventBridge client whose put_events fails the way boto3 does when the service errors."""

    def put_events(self, **_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "InternalException", "Message": "boom"}}, "PutEvents")
