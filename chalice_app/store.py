"""Tickets and customers in DynamoDB: the only code that reads or writes their items.

The tables and indexes themselves are defined in ``infra/resources.py``; this module relies on the
layout agreed there (tickets keyed by ``ticket_id``; GSIs by_customer, by_team and by_status sorted by
``received_at``). Every write that must not race is conditional, so the table itself is the lock:
``create_if_absent`` makes ``ticket_id`` idempotent and ``record_decision`` lets only one decision in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import BotoCoreError, ClientError

from chalice_app import aws
from chalice_app.cursor import decode_cursor, encode_cursor
from chalice_app.records import Page, TicketRecord, TicketStatus, TicketSummary, payload_hash, utc_iso
from datalayer.settings import Settings
from datalayer.types import CustomerContext, RoutingDecision, Ticket

Clock = Callable[[], datetime]

_INDEX_KEYS: dict[str, tuple[str, str]] = {
    "by_customer": ("customer_id", "received_at"),
    "by_team": ("team", "received_at"),
    "by_status": ("status", "received_at"),
}
_DECIDED = frozenset({TicketStatus.ROUTED, TicketStatus.NEEDS_REVIEW})


class StoreError(Exception):
    """DynamoDB failed or refused a request: a dependency failure (the API answers 503), never bad input."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


def _is_condition_failure(exc: ClientError) -> bool:
    return _error_code(exc) == "ConditionalCheckFailedException"


@contextmanager
def _dynamodb(action: str) -> Iterator[None]:
    """Turn boto errors into ``StoreError`` so callers handle one exception type per dependency."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"DynamoDB {action} failed: {_error_code(exc)}") from exc


class TicketStore:
    """Data access for the API, the worker and the sweep. ``clock`` exists so tests control time."""

    def __init__(self, settings: Settings, dynamodb_resource: Any = None, clock: Clock = _utc_now) -> None:
        self._settings = settings
        self._resource = dynamodb_resource
        self._clock = clock

    @cached_property
    def _db(self) -> Any:
        return self._resource if self._resource is not None else aws.dynamodb_resource(self._settings)

    @cached_property
    def _tickets(self) -> Any:
        return self._db.Table(self._settings.tickets_table)

    @cached_property
    def _customers(self) -> Any:
        return self._db.Table(self._settings.customers_table)

    # -- tickets: API side ---------------------------------------------------------------------

    def create_if_absent(self, ticket: Ticket) -> tuple[TicketRecord, bool]:
        """Store a new ticket as ``received``; if its id exists, return the stored record and False."""
        now = self._clock()
        stamp = utc_iso(now)
        item = {
            "ticket_id": ticket.ticket_id,
            "customer_id": ticket.customer_id,
            "status": TicketStatus.RECEIVED.value,
            "received_at": stamp,
            "updated_at": stamp,
            "payload": ticket.model_dump_json(),
            "payload_hash": payload_hash(ticket),
            "published": False,
            "publish_count": 0,
            "sync_status": "pending",
            "expires_at": int(now.timestamp()) + self._settings.ticket_ttl_days * 86_400,
        }
        with _dynamodb("put_item"):
            try:
                self._tickets.put_item(Item=item, ConditionExpression="attribute_not_exists(ticket_id)")
            except ClientError as exc:
                if not _is_condition_failure(exc):
                    raise
                existing = self.get(ticket.ticket_id)
                if existing is None:  # expired by TTL between the two calls; the client's retry recreates it
                    raise StoreError(f"ticket {ticket.ticket_id} vanished while being read") from exc
                return existing, False
        return TicketRecord.from_item(item), True

    def get(self, ticket_id: str) -> TicketRecord | None:
        with _dynamodb("get_item"):
            item = self._tickets.get_item(Key={"ticket_id": ticket_id}, ConsistentRead=True).get("Item")
        return TicketRecord.from_item(item) if item else None

    def mark_published(self, ticket_id: str) -> None:
        """Record that a TicketReceived event was accepted; ``publish_count`` lets the sweep give up."""
        now = utc_iso(self._clock())
        changes = {"published": True, "published_at": now, "updated_at": now}
        if not self._update(ticket_id, changes, increment="publish_count"):
            raise StoreError(f"ticket {ticket_id} does not exist")

    # -- tickets: worker side ------------------------------------------------------------------

    def record_decision(self, ticket_id: str, decision: RoutingDecision, status: TicketStatus | str) -> bool:
        """Store the decision unless one exists (False): the guard that makes redelivered messages harmless."""
        status = TicketStatus(status)
        if status not in _DECIDED:
            raise ValueError(f"a decision leaves a ticket routed or needs_review, not {status}")
        now = utc_iso(self._clock())
        changes = {
            "status": status.value,
            "team": decision.team,
            "category": decision.category,
            "confidence": Decimal(str(decision.confidence)),
            "decision": decision.model_dump_json(),
            "processing_time_ms": Decimal(str(decision.processing_ms)),
            "model_version": decision.model_version,
            "routed_at": now,
            "updated_at": now,
            "routed_event_sent": False,
        }
        # A ``failed`` ticket may still be decided: on-call redrives it from the DLQ once the cause is fixed.
        return self._update(ticket_id, changes, only_from=(TicketStatus.RECEIVED, TicketStatus.FAILED))

    def mark_routed_event_sent(self, ticket_id: str) -> None:
        now = utc_iso(self._clock())
        if not self._update(ticket_id, {"routed_event_sent": True, "updated_at": now}):
            raise StoreError(f"ticket {ticket_id} does not exist")

    def mark_failed(self, ticket_id: str, reason: str) -> bool:
        """Give a ticket up as ``failed``; False if it was decided meanwhile (a decision beats a failure)."""
        now = utc_iso(self._clock())
        changes = {"status": TicketStatus.FAILED.value, "failure_reason": reason[:1000], "updated_at": now}
        return self._update(ticket_id, changes, only_from=(TicketStatus.RECEIVED,))

    def _update(
        self,
        ticket_id: str,
        changes: Mapping[str, Any],
        *,
        only_from: tuple[TicketStatus, ...] = (),
        increment: str | None = None,
    ) -> bool:
        """One conditional UpdateItem on an existing ticket; False when the condition does not hold."""
        names = {f"#a{i}": name for i, name in enumerate(changes)}
        values: dict[str, Any] = {f":a{i}": value for i, value in enumerate(changes.values())}
        expression = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(changes)))
        if increment:
            expression += " ADD #inc :one"
            names["#inc"], values[":one"] = increment, 1
        condition = "attribute_exists(ticket_id)"
        if only_from:
            condition += " AND #state IN (" + ", ".join(f":from{i}" for i in range(len(only_from))) + ")"
            names["#state"] = "status"
            values.update({f":from{i}": state.value for i, state in enumerate(only_from)})
        with _dynamodb("update_item"):
            try:
                self._tickets.update_item(
                    Key={"ticket_id": ticket_id},
                    UpdateExpression=expression,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if _is_condition_failure(exc):
                    return False
                raise
        return True

    # -- tickets: listings and the sweep -------------------------------------------------------

    def list_by_customer(self, customer_id: str, limit: int = 20, cursor: str | None = None) -> Page:
        """The customer's tickets, newest first. Raises ``InvalidCursorError`` for a foreign cursor."""
        return self._newest_first("by_customer", customer_id, limit, cursor)

    def list_by_team(self, team: str, limit: int = 20, cursor: str | None = None) -> Page:
        """Tickets routed to ``team``, newest first (only decided tickets have a team)."""
        return self._newest_first("by_team", team, limit, cursor)

    def _newest_first(self, index: str, value: str, limit: int, cursor: str | None) -> Page:
        hash_name, range_name = _INDEX_KEYS[index]
        projection = {f"#p{i}": name for i, name in enumerate(TicketSummary.ATTRIBUTES)}
        query: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": Key(hash_name).eq(value),
            "ScanIndexForward": False,
            "Limit": limit,
            "ProjectionExpression": ", ".join(projection),
            "ExpressionAttributeNames": projection,
        }
        if cursor is not None:
            key_names = frozenset({"ticket_id", hash_name, range_name})
            query["ExclusiveStartKey"] = decode_cursor(cursor, key_names=key_names, partition=(hash_name, value))
        with _dynamodb("query"):
            answer = self._tickets.query(**query)
        last_key = answer.get("LastEvaluatedKey")
        return Page(
            items=[TicketSummary.from_item(item) for item in answer.get("Items", [])],
            next_cursor=encode_cursor(last_key) if last_key else None,
        )

    def find_stuck(self, older_than_seconds: int, limit: int | None = None) -> list[TicketRecord]:
        """Tickets still ``received`` after ``older_than_seconds`` and not (re)published within it, oldest first.

        The second condition gives the worker a full period after each publication, so that one sweep
        does not republish what the previous sweep has just republished.
        """
        limit = limit if limit is not None else self._settings.sweep_batch_size
        cutoff = utc_iso(self._clock() - timedelta(seconds=older_than_seconds))
        query: dict[str, Any] = {
            "IndexName": "by_status",
            "KeyConditionExpression": Key("status").eq(TicketStatus.RECEIVED.value) & Key("received_at").lt(cutoff),
            "FilterExpression": Attr("published_at").not_exists() | Attr("published_at").lt(cutoff),
            "ScanIndexForward": True,
            "Limit": limit,
        }
        found: list[TicketRecord] = []
        while len(found) < limit:
            with _dynamodb("query"):
                answer = self._tickets.query(**query)
            found.extend(TicketRecord.from_item(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                break
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return found[:limit]

    # -- customers -----------------------------------------------------------------------------

    def get_customer(self, customer_id: str) -> CustomerContext | None:
        with _dynamodb("get_item"):
            item = self._customers.get_item(Key={"customer_id": customer_id}).get("Item")
        if not item:
            return None
        fields = {
            name: float(value) if isinstance(value, Decimal) else value
            for name, value in item.items()
            if name in CustomerContext.model_fields
        }
        return CustomerContext.model_validate(fields)

    def put_customer(self, customer: CustomerContext) -> None:
        item = {
            name: Decimal(str(value)) if isinstance(value, float) else value
            for name, value in customer.model_dump(mode="json").items()
        }
        with _dynamodb("put_item"):
            self._customers.put_item(Item=item)
