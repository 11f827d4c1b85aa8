"""Tickets in DynamoDB: the only code that reads or writes their items.

The table and its indexes are laid out in ``datalayer.tables``. Every write that must not race is conditional,
so the table itself is the lock: ``create_if_absent`` makes ``ticket_id`` idempotent and ``record_decision``
lets only one decision in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from datalayer import aws
from datalayer.clock import Clock, utc_now
from datalayer.cursor import decode_cursor, encode_cursor
from datalayer.dynamo import dynamodb_errors, is_condition_failure
from datalayer.errors import StoreError
from datalayer.records import Page, SyncStatus, TicketRecord, TicketStatus, TicketSummary, payload_hash, utc_iso
from datalayer.settings import Settings
from datalayer.tables import BY_CUSTOMER, BY_STATUS, BY_SYNC_STATUS, BY_TEAM, EXPIRES_AT, Index, tickets_table
from datalayer.types import PastTicket, RoutingDecision, Ticket


class TicketStore:
    """Data access for the API, the workers and the sweep. ``clock`` exists so tests control time."""

    def __init__(self, settings: Settings, dynamodb_resource: Any = None, clock: Clock = utc_now) -> None:
        self._settings = settings
        self._resource = dynamodb_resource
        self._clock = clock

    @cached_property
    def _db(self) -> Any:
        return self._resource if self._resource is not None else aws.dynamodb_resource(self._settings)

    @cached_property
    def _tickets(self) -> Any:
        return self._db.Table(tickets_table(self._settings).name)

    # -- tickets: API side ---------------------------------------------------------------------

    def create_if_absent(self, ticket: Ticket, correlation_id: str | None = None) -> tuple[TicketRecord, bool]:
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
            EXPIRES_AT: int(now.timestamp()) + self._settings.ticket_ttl_days * 86_400,
        }
        if correlation_id:
            item["correlation_id"] = correlation_id
        with dynamodb_errors("put_item"):
            try:
                self._tickets.put_item(Item=item, ConditionExpression="attribute_not_exists(ticket_id)")
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
                existing = self.get(ticket.ticket_id)
                if existing is None:  # expired by TTL between the two calls; the client's retry recreates it
                    raise StoreError(f"ticket {ticket.ticket_id} vanished while being read") from exc
                return existing, False
        return TicketRecord.from_item(item), True

    def get(self, ticket_id: str) -> TicketRecord | None:
        with dynamodb_errors("get_item"):
            item = self._tickets.get_item(Key={"ticket_id": ticket_id}, ConsistentRead=True).get("Item")
        return TicketRecord.from_item(item) if item else None

    def mark_published(self, ticket_id: str) -> None:
        """Record that a TicketReceived event was accepted; ``publish_count`` lets the sweep give up."""
        now = utc_iso(self._clock())
        changes = {"published": True, "published_at": now, "updated_at": now}
        if not self._update(ticket_id, changes, increment="publish_count"):
            raise StoreError(f"ticket {ticket_id} does not exist")

    # -- tickets: worker side ------------------------------------------------------------------

    def record_decision(
        self, ticket_id: str, decision: RoutingDecision, status: TicketStatus | str, *, announce_within_s: int
    ) -> bool:
        """Store the routing worker's final decision unless one exists (False): the guard that makes redelivered
        messages harmless.

        The writer gets ``announce_within_s`` to announce the decision (``mark_routed_event_sent``); until then no
        other delivery may claim the announcement (``claim_announcement``), so a concurrent duplicate cannot
        announce it a second time. A ``failed`` ticket may still be decided: on-call redrives it from the DLQ once
        the cause is fixed.
        """
        return self._decide(
            ticket_id, decision, status, (TicketStatus.RECEIVED, TicketStatus.FAILED), announce_within_s
        )

    def record_provisional(self, ticket_id: str, decision: RoutingDecision) -> bool:
        """Store the fast router's decision as provisional and mark the ticket ``awaiting_agent`` (False if the
        ticket was decided meanwhile). The API shows it until the agent tier's final decision replaces it."""
        return self._decide(
            ticket_id, decision, TicketStatus.AWAITING_AGENT, (TicketStatus.RECEIVED, TicketStatus.FAILED), None
        )

    def finalize_decision(
        self, ticket_id: str, decision: RoutingDecision, status: TicketStatus | str, *, announce_within_s: int
    ) -> bool:
        """Replace the provisional decision by the final one (the agent's, or the fast one when the agent could
        not decide); False unless the ticket is still ``awaiting_agent``."""
        return self._decide(ticket_id, decision, status, (TicketStatus.AWAITING_AGENT,), announce_within_s)

    def _decide(
        self,
        ticket_id: str,
        decision: RoutingDecision,
        status: TicketStatus | str,
        only_from: tuple[TicketStatus, ...],
        announce_within_s: int | None,
    ) -> bool:
        status = TicketStatus(status)
        if not (status.is_final or (status is TicketStatus.AWAITING_AGENT and announce_within_s is None)):
            raise ValueError(f"a decision leaves a ticket routed, needs_review or awaiting_agent, not {status}")
        moment = self._clock()
        now = utc_iso(moment)
        changes: dict[str, Any] = {
            "status": status.value,
            "team": decision.team,
            "category": decision.category,
            "confidence": Decimal(str(decision.confidence)),
            "decision": decision.model_dump_json(),
            "processing_time_ms": Decimal(str(decision.processing_ms)),
            "model_version": decision.model_version,
            "updated_at": now,
        }
        if announce_within_s is None:
            changes["deferred_at"] = now
        else:
            changes.update(
                routed_at=now,
                routed_event_sent=False,
                announce_by=utc_iso(moment + timedelta(seconds=announce_within_s)),
                sync_status=SyncStatus.PENDING.value,
            )
        return self._update(ticket_id, changes, only_from=only_from)

    def claim_announcement(self, ticket_id: str, *, announce_within_s: int) -> bool:
        """Take over announcing a stored decision whose writer missed its deadline (it crashed between the write
        and the event); False while the writer's time runs or once the event went out."""
        condition, values = "routed_event_sent = :false", {":false": False}
        return self._claim(ticket_id, "announce_by", announce_within_s, condition, {}, values)

    def claim_agent_call(self, ticket_id: str, *, lease_s: int) -> bool:
        """Become the one delivery that asks the agent about this ticket, for ``lease_s`` (the agent worker's
        timeout); False while another delivery holds the claim or once the ticket is no longer awaiting the agent.
        Concurrent deliveries of one agent message therefore make one model call."""
        return self._claim(
            ticket_id,
            "agent_claim_until",
            lease_s,
            "#state = :awaiting",
            {"#state": "status"},
            {":awaiting": TicketStatus.AWAITING_AGENT.value},
        )

    def release_agent_claim(self, ticket_id: str) -> None:
        """Give the claim up before the lease ends (the message goes back to the queue to be tried again)."""
        with dynamodb_errors("update_item"):
            self._tickets.update_item(Key={"ticket_id": ticket_id}, UpdateExpression="REMOVE agent_claim_until")

    def _claim(
        self,
        ticket_id: str,
        deadline: str,
        lease_s: int,
        condition: str,
        names: Mapping[str, str],
        values: Mapping[str, Any],
    ) -> bool:
        """Set ``deadline`` to now + ``lease_s`` if ``condition`` holds and no unexpired deadline is set."""
        moment = self._clock()
        with dynamodb_errors("update_item"):
            try:
                self._tickets.update_item(
                    Key={"ticket_id": ticket_id},
                    UpdateExpression="SET #deadline = :deadline",
                    ConditionExpression=f"attribute_exists(ticket_id) AND {condition} "
                    "AND (attribute_not_exists(#deadline) OR #deadline < :now)",
                    ExpressionAttributeNames={"#deadline": deadline, **names},
                    ExpressionAttributeValues={
                        ":deadline": utc_iso(moment + timedelta(seconds=lease_s)),
                        ":now": utc_iso(moment),
                        **values,
                    },
                )
            except ClientError as exc:
                if is_condition_failure(exc):
                    return False
                raise
        return True

    def mark_routed_event_sent(self, ticket_id: str) -> None:
        now = utc_iso(self._clock())
        if not self._update(ticket_id, {"routed_event_sent": True, "updated_at": now}):
            raise StoreError(f"ticket {ticket_id} does not exist")

    def claim_sync(self, ticket_id: str, *, lease_s: int) -> bool:
        """Become the one delivery that writes this ticket's decision to the ticketing system, for ``lease_s`` (the
        sync worker's timeout); False while another delivery holds the claim or once the ticket is synced. Two
        deliveries of one TicketRouted at once therefore never both add the decision's comment."""
        condition = "(attribute_not_exists(sync_status) OR sync_status <> :synced)"
        values = {":synced": SyncStatus.SYNCED.value}
        return self._claim(ticket_id, "sync_claim_until", lease_s, condition, {}, values)

    def release_sync_claim(self, ticket_id: str) -> None:
        """Give the claim up before the lease ends (the sync failed; its message is tried again)."""
        with dynamodb_errors("update_item"):
            self._tickets.update_item(Key={"ticket_id": ticket_id}, UpdateExpression="REMOVE sync_claim_until")

    def mark_synced(self, ticket_id: str) -> None:
        """The ticketing system holds the final decision."""
        now = utc_iso(self._clock())
        changes = {"sync_status": SyncStatus.SYNCED.value, "synced_at": now, "updated_at": now}
        if not self._update(ticket_id, changes):
            raise StoreError(f"ticket {ticket_id} does not exist")

    def mark_sync_failed(self, ticket_id: str, reason: str) -> bool:
        """The sync gave up (its message goes to the sync DLQ); False if the ticket was synced meanwhile."""
        now = utc_iso(self._clock())
        changes = {"sync_status": SyncStatus.FAILED.value, "sync_failure": reason[:1000], "updated_at": now}
        condition = "attribute_not_exists(sync_status) OR sync_status <> :synced"
        return self._update(ticket_id, changes, condition=condition, values={":synced": SyncStatus.SYNCED.value})

    def list_by_sync_status(self, sync_status: SyncStatus, limit: int = 20, cursor: str | None = None) -> Page:
        """Tickets whose decision is ``sync_status`` in the ticketing system, most recently changed first."""
        return self._newest_first(BY_SYNC_STATUS, SyncStatus(sync_status).value, limit, cursor)

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
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        """One conditional UpdateItem on an existing ticket; False when the condition does not hold.

        ``only_from``: the ticket's status must be one of these; ``condition`` (with its ``values``): one more clause.
        """
        extra_condition, extra_values = condition, values or {}
        names = {f"#a{i}": name for i, name in enumerate(changes)}
        all_values: dict[str, Any] = {f":a{i}": value for i, value in enumerate(changes.values())}
        expression = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(changes)))
        if increment:
            expression += " ADD #inc :one"
            names["#inc"], all_values[":one"] = increment, 1
        full_condition = "attribute_exists(ticket_id)"
        if only_from:
            full_condition += " AND #state IN (" + ", ".join(f":from{i}" for i in range(len(only_from))) + ")"
            names["#state"] = "status"
            all_values.update({f":from{i}": state.value for i, state in enumerate(only_from)})
        if extra_condition:
            full_condition += f" AND ({extra_condition})"
            all_values.update(extra_values)
        with dynamodb_errors("update_item"):
            try:
                self._tickets.update_item(
                    Key={"ticket_id": ticket_id},
                    UpdateExpression=expression,
                    ConditionExpression=full_condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=all_values,
                )
            except ClientError as exc:
                if is_condition_failure(exc):
                    return False
                raise
        return True

    # -- tickets: listings and the sweep -------------------------------------------------------

    def list_by_customer(self, customer_id: str, limit: int = 20, cursor: str | None = None) -> Page:
        """The customer's tickets, newest first. Raises ``InvalidCursorError`` for a foreign cursor."""
        return self._newest_first(BY_CUSTOMER, customer_id, limit, cursor)

    def list_by_team(self, team: str, limit: int = 20, cursor: str | None = None) -> Page:
        """Tickets routed to ``team``, newest first (only decided tickets have a team)."""
        return self._newest_first(BY_TEAM, team, limit, cursor)

    def _newest_first(self, index: Index, value: str, limit: int, cursor: str | None) -> Page:
        hash_name, range_name = index.hash_key, index.range_key
        projection = {f"#p{i}": name for i, name in enumerate(TicketSummary.ATTRIBUTES)}
        query: dict[str, Any] = {
            "IndexName": index.name,
            "KeyConditionExpression": Key(hash_name).eq(value),
            "ScanIndexForward": False,
            "Limit": limit,
            "ProjectionExpression": ", ".join(projection),
            "ExpressionAttributeNames": projection,
        }
        if cursor is not None:
            key_names = frozenset({"ticket_id", hash_name, range_name})
            query["ExclusiveStartKey"] = decode_cursor(cursor, key_names=key_names, partition=(hash_name, value))
        with dynamodb_errors("query"):
            answer = self._tickets.query(**query)
        last_key = answer.get("LastEvaluatedKey")
        return Page(
            items=[TicketSummary.from_item(item) for item in answer.get("Items", [])],
            next_cursor=encode_cursor(last_key) if last_key else None,
        )

    def history(self, customer_id: str, limit: int, *, exclude: str | None = None) -> list[PastTicket]:
        """The customer's latest ``limit`` tickets, newest first, leaving out ``exclude`` (the ticket at hand)."""
        if limit <= 0:
            return []
        query: dict[str, Any] = {
            "IndexName": BY_CUSTOMER.name,
            "KeyConditionExpression": Key(BY_CUSTOMER.hash_key).eq(customer_id),
            "ScanIndexForward": False,
            "Limit": limit + 1,
            "ProjectionExpression": "ticket_id, received_at, #s, team, category, payload",
            "ExpressionAttributeNames": {"#s": "status"},
        }
        with dynamodb_errors("query"):
            items = self._tickets.query(**query).get("Items", [])
        past = [
            PastTicket(
                ticket_id=item["ticket_id"],
                received_at=item["received_at"],
                status=item["status"],
                subject=Ticket.model_validate_json(item["payload"]).subject[:120],
                team=item.get("team"),
                category=item.get("category"),
            )
            for item in items
            if item["ticket_id"] != exclude
        ]
        return past[:limit]

    def received_between(self, status: TicketStatus, since: datetime, until: datetime) -> Iterator[TicketRecord]:
        """Every ticket in ``status`` received in [since, until), oldest first (reports; pages through all)."""
        query: dict[str, Any] = {
            "IndexName": BY_STATUS.name,
            "KeyConditionExpression": Key(BY_STATUS.hash_key).eq(TicketStatus(status).value)
            & Key(BY_STATUS.range_key).between(utc_iso(since), utc_iso(until - timedelta(microseconds=1))),
        }
        while True:
            with dynamodb_errors("query"):
                answer = self._tickets.query(**query)
            yield from (TicketRecord.from_item(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def find_stuck(self, older_than_seconds: int, limit: int | None = None) -> list[TicketRecord]:
        """Tickets still ``received`` after ``older_than_seconds`` and not (re)published within it, oldest first.

        The second condition gives the worker a full period after each publication, so that one sweep
        does not republish what the previous sweep has just republished.
        """
        limit = limit if limit is not None else self._settings.sweep_batch_size
        cutoff = utc_iso(self._clock() - timedelta(seconds=older_than_seconds))
        query: dict[str, Any] = {
            "IndexName": BY_STATUS.name,
            "KeyConditionExpression": Key(BY_STATUS.hash_key).eq(TicketStatus.RECEIVED.value)
            & Key(BY_STATUS.range_key).lt(cutoff),
            "FilterExpression": Attr("published_at").not_exists() | Attr("published_at").lt(cutoff),
            "ScanIndexForward": True,
            "Limit": limit,
        }
        found: list[TicketRecord] = []
        while len(found) < limit:
            with dynamodb_errors("query"):
                answer = self._tickets.query(**query)
            found.extend(TicketRecord.from_item(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                break
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return found[:limit]
