"""Readiness of the API's dependencies: can this process reach the tickets table, the bus and the queue?

Each probe is the cheapest read that fails when the resource is missing or the credentials cannot use it,
so a 503 from ``GET /health`` points at a deployment or IAM problem before tickets start failing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from datalayer import aws
from datalayer.settings import Settings

OK = "ok"


class HealthCheck:
    """Runs every probe and reports each one; clients can be injected (tests), else they are built lazily."""

    def __init__(
        self,
        settings: Settings,
        *,
        dynamodb_client: Any = None,
        events_client: Any = None,
        sqs_client: Any = None,
    ) -> None:
        self._settings = settings
        self._injected = {"dynamodb": dynamodb_client, "events": events_client, "sqs": sqs_client}

    @cached_property
    def _clients(self) -> dict[str, Any]:
        return {
            name: given if given is not None else aws.client(name, self._settings, aws.PROBE_CONFIG)
            for name, given in self._injected.items()
        }

    def _probes(self) -> dict[str, Callable[[], Any]]:
        clients, settings = self._clients, self._settings
        return {
            "tickets_table": lambda: clients["dynamodb"].describe_table(TableName=settings.tickets_table),
            "event_bus": lambda: clients["events"].describe_event_bus(Name=settings.event_bus),
            "routing_queue": lambda: clients["sqs"].get_queue_url(QueueName=settings.routing_queue),
        }

    def run(self) -> dict[str, str]:
        """``{"tickets_table": "ok", "event_bus": "error: ResourceNotFoundException", ...}``."""
        results: dict[str, str] = {}
        for name, probe in self._probes().items():
            try:
                probe()
            except ClientError as exc:
                results[name] = f"error: {exc.response.get('Error', {}).get('Code', 'ClientError')}"
            except BotoCoreError as exc:
                results[name] = f"error: {type(exc).__name__}"
            else:
                results[name] = OK
        return results
