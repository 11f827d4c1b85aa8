"""A circuit breaker for the agent tier's model provider, shared by every worker through one DynamoDB item.

After ``agent_circuit_failures`` consecutive provider errors the circuit opens: for ``agent_circuit_open_s`` every
worker finalises unsure tickets with the fast decision at once instead of waiting on a failing provider. When that
time is over, exactly one worker (a conditional write decides which) is let through to probe; its success closes
the circuit, its failure opens it again.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from datalayer import aws
from datalayer.clock import Clock, utc_now
from datalayer.dynamo import dynamodb_errors, is_condition_failure
from datalayer.settings import Settings
from datalayer.tables import control_table


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    """Open time is over; one probe call decides whether it closes."""


class ProviderCircuit:
    def __init__(self, settings: Settings, dynamodb_resource: Any = None, clock: Clock = utc_now) -> None:
        self._settings = settings
        self._resource = dynamodb_resource
        self._clock = clock
        self._key = {"key": f"circuit#{settings.agent_provider.value}"}

    @cached_property
    def _table(self) -> Any:
        resource = self._resource if self._resource is not None else aws.dynamodb_resource(self._settings)
        return resource.Table(control_table(self._settings).name)

    def state(self) -> CircuitState:
        with dynamodb_errors("get_item"):
            item = self._table.get_item(Key=self._key, ConsistentRead=True).get("Item") or {}
        if int(item.get("failures", 0)) < self._settings.agent_circuit_failures:
            return CircuitState.CLOSED
        if float(item.get("opened_until", 0)) > self._clock().timestamp():
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def allow(self) -> bool:
        """Whether this worker may call the provider now: always while closed, never while open, and for one
        worker at a time (the probe) once the open time is over."""
        state = self.state()
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.OPEN:
            return False
        now = self._clock().timestamp()
        return self._conditional(
            "SET probe_until = :until",
            "attribute_not_exists(probe_until) OR probe_until < :now",
            {":until": now + self._settings.agent_read_timeout_s * 2, ":now": now},
        )

    def record_success(self) -> None:
        """The provider answered: close the circuit (one write, and only if something is to be reset)."""
        self._conditional(
            "SET failures = :zero REMOVE opened_until, probe_until", "failures > :zero", {":zero": 0}
        )

    def record_failure(self) -> CircuitState:
        """Count a provider error; the one that reaches the threshold (or fails a probe) opens the circuit."""
        with dynamodb_errors("update_item"):
            answer = self._table.update_item(
                Key=self._key,
                UpdateExpression="ADD failures :one",
                ExpressionAttributeValues={":one": 1},
                ReturnValues="UPDATED_NEW",
            )
        if int(answer["Attributes"]["failures"]) < self._settings.agent_circuit_failures:
            return CircuitState.CLOSED
        now = self._clock()
        self._conditional(
            "SET opened_until = :until REMOVE probe_until",
            "attribute_not_exists(opened_until) OR opened_until < :now",
            {
                ":until": (now + timedelta(seconds=self._settings.agent_circuit_open_s)).timestamp(),
                ":now": now.timestamp(),
            },
        )
        return CircuitState.OPEN

    def _conditional(self, update: str, condition: str, values: dict[str, Any]) -> bool:
        with dynamodb_errors("update_item"):
            try:
                self._table.update_item(
                    Key=self._key,
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeValues={k: Decimal(str(v)) for k, v in values.items()},
                )
            except ClientError as exc:
                if is_condition_failure(exc):
                    return False
                raise
        return True
