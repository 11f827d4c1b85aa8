"""The local stack keeps its data: tickets, decisions and queued work survive a restart and a crash of moto.

moto keeps everything in memory, and its own request recorder would replay polls and deletes as well, so the
local stack keeps its state beside it, in ``.switchboard/local/`` (``--reset`` deletes it):

* **the intake journal** (``journal.jsonl``): every ticket the API accepts is appended, and flushed to disk,
  *before* it is stored and before the client hears 202. Whatever happens afterwards, an accepted ticket is in the
  journal, and replaying the journal through the idempotent ingestion path (store unless stored, publish unless
  published) brings back every ticket that is missing;
* **snapshots** (``snapshot.json``): every few seconds and at a clean stop, every table (tickets with their
  decisions, customers, outages, the agent's budget and circuit) and the messages waiting in the dead-letter
  queues, written to a new file and renamed over the old one, so a crash mid-write leaves the previous snapshot.

At start, and when moto has died and is started again, ``restore`` loads the last snapshot, replays the journal,
and resumes the work that was queued: tickets still ``received`` are published again, tickets awaiting the agent
are sent to it again, decisions not yet in the ticketing system go to the sync again. Every worker is idempotent,
so work done twice is done once. After a clean stop nothing is lost; after a crash of the whole stack, accepted
tickets are not lost and the decisions of the last few seconds are made again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from threading import Lock
from typing import Any

from datalayer import aws
from datalayer.agent_queue import AgentQueue
from datalayer.events import AgentRequest
from datalayer.journal import IntakeJournal
from datalayer.publisher import EventPublisher
from datalayer.records import SyncStatus, TicketStatus
from datalayer.settings import AgentProvider, Settings
from datalayer.tables import all_tables
from datalayer.tickets import TicketStore
from datalayer.types import RoutingDecision
from infra.resources import define

DEFAULT_DIRECTORY = Path(".switchboard") / "local"
SNAPSHOT_FORMAT = 1


@dataclass(frozen=True)
class Restored:
    """What a restore brought back and set going again."""

    items: int
    dead_letters: int
    journal_replayed: int
    republished: int
    agent_requests: int
    syncs: int


class LocalState:
    """The journal and the snapshot of one local stack."""

    def __init__(self, directory: Path = DEFAULT_DIRECTORY) -> None:
        self.directory = directory
        self.journal = IntakeJournal(directory / "journal.jsonl")
        self.snapshot_path = directory / "snapshot.json"
        self._lock = Lock()

    def reset(self) -> None:
        """Start clean: forget every ticket, decision and queued message."""
        for path in (self.journal.path, self.snapshot_path):
            path.unlink(missing_ok=True)

    def save(self, settings: Settings) -> int:
        """Write every table and every dead letter to a new snapshot; returns how many items it holds."""
        dynamodb, sqs = aws.client("dynamodb", settings), aws.client("sqs", settings)
        tables = {table.name: list(_scan(dynamodb, table.name)) for table in all_tables(settings)}
        dead_letters = {queue.name: _peek(sqs, queue.name) for queue in define(settings).dead_letter_queues}
        snapshot = {
            "format": SNAPSHOT_FORMAT,
            "taken_at": datetime.now(UTC).isoformat(),
            "tables": tables,
            "dead_letters": dead_letters,
        }
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = self.snapshot_path.with_suffix(".partial")
            partial.write_text(json.dumps(snapshot), encoding="utf-8")
            partial.replace(self.snapshot_path)
        return sum(len(items) for items in tables.values())

    def restore(self, settings: Settings) -> Restored:
        """Load the snapshot into freshly provisioned resources, replay the journal, resume the queued work."""
        items = dead_letters = 0
        if self.snapshot_path.exists():
            snapshot = json.loads(self.snapshot_path.read_text(encoding="utf-8"))
            dynamodb, sqs = aws.client("dynamodb", settings), aws.client("sqs", settings)
            for table, rows in snapshot.get("tables", {}).items():
                items += _put_all(dynamodb, table, rows)
            for queue, messages in snapshot.get("dead_letters", {}).items():
                dead_letters += _send_all(sqs, queue, messages)
        republished, agent_requests, syncs = _resume(settings)  # before the replay, which publishes what it adds
        replayed = self._replay(settings)
        return Restored(items, dead_letters, replayed, republished, agent_requests, syncs)

    def _replay(self, settings: Settings) -> int:
        """The idempotent ingestion path for every journaled ticket: store unless stored, publish unless published."""
        store, publisher, brought_back = TicketStore(settings), EventPublisher(settings), 0
        for ticket, correlation_id in self.journal.entries():
            record, created = store.create_if_absent(ticket, correlation_id)
            if not record.published:
                publisher.publish_received(record.ticket, record.correlation_id)
                store.mark_published(record.ticket_id)
            brought_back += created
        return brought_back


def _resume(settings: Settings) -> tuple[int, int, int]:
    """Queued work whose messages were lost with moto: publish, ask the agent, sync, again."""
    store, publisher = TicketStore(settings), EventPublisher(settings)
    republished = 0
    for record in store.find_stuck(0, limit=10_000):
        publisher.publish_received(record.ticket, record.correlation_id)
        store.mark_published(record.ticket_id)
        republished += 1
    epoch, now = datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC)
    agent_requests = 0
    if settings.agent_provider is not AgentProvider.NONE:
        queue = AgentQueue(settings)
        for record in store.received_between(TicketStatus.AWAITING_AGENT, epoch, now):
            reason = (record.decision or {}).get("deferred_reason") or "unsure"
            queue.send(
                AgentRequest(
                    ticket_id=record.ticket_id,
                    deferred_reason=reason,
                    correlation_id=record.correlation_id,
                    received_at=record.received_at,
                )
            )
            agent_requests += 1
    syncs = 0
    for summary in _all_pages(store, SyncStatus.PENDING):
        record = store.get(summary.ticket_id)
        if record is not None and record.decision is not None and record.routed_event_sent:
            decision = RoutingDecision.model_validate(record.decision)
            publisher.publish_routed(record.ticket_id, decision, record.status.value, record.correlation_id)
            syncs += 1
    return republished, agent_requests, syncs


def _all_pages(store: TicketStore, status: SyncStatus) -> Iterator[Any]:
    cursor = None
    while True:
        page = store.list_by_sync_status(status, limit=100, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _scan(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    query: dict[str, Any] = {"TableName": table}
    while True:
        answer = dynamodb.scan(**query)
        yield from answer.get("Items", [])
        if "LastEvaluatedKey" not in answer:
            return
        query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _put_all(dynamodb: Any, table: str, rows: list[dict[str, Any]]) -> int:
    for start in range(0, len(rows), 25):
        requests = [{"PutRequest": {"Item": row}} for row in rows[start : start + 25]]
        pending: dict[str, Any] = {table: requests}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return len(rows)


def _peek(sqs: Any, queue: str) -> list[dict[str, Any]]:
    """Every message of a dead-letter queue, left in place (made visible again at once)."""
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    seen: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    empty = 0
    while empty < 2:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, MessageAttributeNames=["All"]
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        empty = 0 if fresh else empty + 1
        for message in fresh:
            seen[message["MessageId"]] = {"body": message["Body"], "attributes": message.get("MessageAttributes", {})}
            handles.append(message["ReceiptHandle"])
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
            for i, h in enumerate(handles[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
    return list(seen.values())


def _send_all(sqs: Any, queue: str, messages: list[dict[str, Any]]) -> int:
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    for message in messages:
        send: dict[str, Any] = {"QueueUrl": url, "MessageBody": message["body"]}
        if message.get("attributes"):
            send["MessageAttributes"] = message["attributes"]
        sqs.send_message(**send)
    return len(messages)
