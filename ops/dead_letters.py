"""Reading dead letters: receive them without moving them, decode each body, find why it failed, select some.

Three body shapes reach the DLQs: a TicketReceived envelope (routing DLQ, and the events DLQ), an AgentRequest
(agent DLQ) and a TicketRouted envelope (sync DLQ, events DLQ); anything else is ``unreadable`` (a poison
message). Why a message failed comes from the message when it says so, else from the ticket:

* the ``failure_reason`` message attribute, which a worker puts on a message it dead-letters at once
  (``datalayer.dead_letters``);
* ``ERROR_CODE``/``ERROR_MESSAGE``, which EventBridge puts on an event it could not deliver;
* otherwise SQS moved it after its last receive, and the worker left the reason on the ticket then:
  ``failure_reason`` (routing, agent) or ``sync_failure`` (sync) in the tickets table.

When the failure began: a message SQS moved keeps its attributes, so ``ApproximateFirstReceiveTimestamp`` is the
worker's first attempt; a message a worker or EventBridge sent to the DLQ itself is a new message, whose
``SentTimestamp`` is the moment it was given up (its first receive is on-call's first look). A dead letter's age
is counted from there. SQS counts every receive, ours included: ``receive_count`` grows each time on-call looks.

Receiving hides a message for ``hold_s``; ``QueueReader`` gives every message it holds back at once when asked
(``release``), and the hold runs out by itself if the process dies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from agent.llm.masking import Masker
from datalayer.dead_letters import FAILURE_REASON_ATTRIBUTE
from datalayer.events import TICKET_RECEIVED, TICKET_ROUTED
from ops.dead_letter_queues import Dlq, StageQueues

HOLD_SECONDS = 30
"""How long a received dead letter stays hidden from other readers while we look at it or move it."""
EMPTY_RECEIVES = 3
"""SQS short polls sample servers, so one empty answer does not prove the queue empty; three in a row, and a queue
that reports no visible message, do."""
AGENT_REQUEST = "AgentRequest"
UNREADABLE = "unreadable"
EVENT_ERROR_ATTRIBUTES = ("ERROR_CODE", "ERROR_MESSAGE")
"""What EventBridge puts on an event it could not deliver to a target (with RULE_ARN and TARGET_ARN)."""


@dataclass(frozen=True)
class DeadLetter:
    """One received dead letter, decoded. ``body`` and ``text`` are raw: print them only masked."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: Mapping[str, str]
    message_attributes: Mapping[str, Any]
    kind: str
    """``TicketReceived``, ``TicketRouted``, ``AgentRequest`` or ``unreadable``."""
    ticket_id: str | None
    reason: str | None
    """Why it failed, from the message itself; ``TicketReasons`` fills it from the ticket when the message is mute."""
    receive_count: int
    sent_at: datetime | None
    first_failure: datetime | None
    worker: str
    """The consumer that gave up on it: a Lambda function, or an EventBridge rule target."""
    text: str | None = None
    """The ticket's subject and description (TicketReceived only)."""
    ticket_status: str | None = None
    """The ticket's status now (filled by ``TicketReasons``); ``sync …`` for the sync DLQ."""

    def age(self, now: datetime) -> timedelta | None:
        return now - self.first_failure if self.first_failure else None


def decode(message: Mapping[str, Any], dlq: Dlq, queues: StageQueues) -> DeadLetter:
    """A ``ReceiveMessage`` message (with ``AttributeNames``/``MessageAttributeNames`` ``All``) as a dead letter."""
    body = message["Body"]
    attributes = message.get("Attributes", {})
    message_attributes = message.get("MessageAttributes", {})
    kind, ticket_id, text = _read_body(body)
    reason = _string_attribute(message_attributes, FAILURE_REASON_ATTRIBUTE)
    given_up_on_purpose = reason is not None or dlq.source_is_bus
    if reason is None and dlq.source_is_bus:
        code, error = (_string_attribute(message_attributes, name) for name in EVENT_ERROR_ATTRIBUTES)
        reason = ": ".join(part for part in (code, error) if part) or None
    sent_at = _timestamp(attributes, "SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=body,
        attributes=attributes,
        message_attributes=message_attributes,
        kind=kind,
        ticket_id=ticket_id,
        reason=reason,
        receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
        sent_at=sent_at,
        first_failure=sent_at if given_up_on_purpose else _timestamp(attributes, "ApproximateFirstReceiveTimestamp"),
        worker=_worker(dlq, queues, kind, message_attributes),
        text=text,
    )


def _read_body(body: str) -> tuple[str, str | None, str | None]:
    """(kind, ticket id, ticket text); lenient, because a dead letter is often exactly what the contract refuses."""
    try:
        value = json.loads(body)
    except ValueError:
        return UNREADABLE, None, None
    if not isinstance(value, dict):
        return UNREADABLE, None, None
    detail = value.get("detail")
    if isinstance(detail, dict) and value.get("detail-type") == TICKET_RECEIVED:
        ticket = detail.get("ticket") if isinstance(detail.get("ticket"), dict) else {}
        text = "\n".join(str(ticket[key]) for key in ("subject", "description") if ticket.get(key))
        return TICKET_RECEIVED, _string(ticket.get("ticket_id")), text or None
    if isinstance(detail, dict) and value.get("detail-type") == TICKET_ROUTED:
        return TICKET_ROUTED, _string(detail.get("ticket_id")), None
    if isinstance(detail, dict) and isinstance(value.get("detail-type"), str):
        return str(value["detail-type"]), _string(detail.get("ticket_id")), None
    if "deferred_reason" in value and "ticket_id" in value:
        return AGENT_REQUEST, _string(value.get("ticket_id")), None
    return UNREADABLE, _string(value.get("ticket_id")), None


def _worker(dlq: Dlq, queues: StageQueues, kind: str, message_attributes: Mapping[str, Any]) -> str:
    if not dlq.source_is_bus:
        return queues.consumer_of(dlq.source)
    target = _string_attribute(message_attributes, "TARGET_ARN")
    queue = target.rsplit(":", 1)[-1] if target else queues.targets.get(kind)
    return f"EventBridge → {queue} ({queues.consumer_of(queue)})" if queue else "EventBridge (no rule matches)"


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _string_attribute(message_attributes: Mapping[str, Any], name: str) -> str | None:
    value = message_attributes.get(name)
    return _string(value.get("StringValue")) if isinstance(value, Mapping) else None


def _timestamp(attributes: Mapping[str, str], name: str) -> datetime | None:
    value = attributes.get(name)
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC) if value else None


# -- masking ---------------------------------------------------------------------------------------------------------


def masked(text: str | None, max_chars: int | None = None) -> str | None:
    """``text`` with account and phone numbers, e-mail and street addresses replaced (``agent.llm.masking``)."""
    if not text:
        return text
    shown = Masker().text(text)
    if max_chars is not None and len(shown) > max_chars:
        shown = shown[: max_chars - 1] + "…"
    return shown


# -- which dead letters ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """The dead letters an action applies to: every one, or those matching all the filters given."""

    ticket_ids: frozenset[str] = frozenset()
    error_text: str | None = None
    """A piece of the failure reason, any case."""
    older_than: timedelta | None = None
    newer_than: timedelta | None = None

    @property
    def everything(self) -> bool:
        return not (self.ticket_ids or self.error_text or self.older_than or self.newer_than)

    @property
    def needs_reasons(self) -> bool:
        return self.error_text is not None

    def matches(self, letter: DeadLetter, now: datetime) -> bool:
        if self.ticket_ids and letter.ticket_id not in self.ticket_ids:
            return False
        if self.error_text is not None and self.error_text.lower() not in (letter.reason or "").lower():
            return False
        age = letter.age(now)
        if self.older_than is not None and (age is None or age < self.older_than):
            return False
        return not (self.newer_than is not None and (age is None or age > self.newer_than))

    def describe(self) -> dict[str, Any]:
        """The filters, for the audit record and ``--json``."""
        found: dict[str, Any] = {}
        if self.ticket_ids:
            found["ticket_ids"] = sorted(self.ticket_ids)
        if self.error_text is not None:
            found["error_text"] = self.error_text
        if self.older_than is not None:
            found["older_than_s"] = int(self.older_than.total_seconds())
        if self.newer_than is not None:
            found["newer_than_s"] = int(self.newer_than.total_seconds())
        return found


EVERYTHING = Selection()
"""No filter: every dead letter."""


# -- why: the ticket's side --------------------------------------------------------------------------------------------


class TicketRecords(Protocol):
    """The part of ``datalayer.tickets.TicketStore`` read here."""

    def get(self, ticket_id: str) -> Any: ...


@dataclass
class TicketReasons:
    """Fills a mute dead letter's reason from its ticket, and every letter's ticket status; one read per ticket."""

    tickets: TicketRecords
    sync: bool = False
    """The sync DLQ: the reason is ``sync_failure`` and the status the sync status."""
    _seen: dict[str, Any] = field(default_factory=dict)

    def fill(self, letters: Iterable[DeadLetter]) -> list[DeadLetter]:
        return [self._one(letter) for letter in letters]

    def _one(self, letter: DeadLetter) -> DeadLetter:
        if letter.ticket_id is None:
            return letter
        if letter.ticket_id not in self._seen:
            self._seen[letter.ticket_id] = self.tickets.get(letter.ticket_id)
        record = self._seen[letter.ticket_id]
        if record is None:
            return replace(letter, ticket_status="not stored")
        if self.sync:
            status = f"{record.status}, sync {record.sync_status}" if record.sync_status else str(record.status)
            reason = letter.reason or record.sync_failure
        else:
            status, reason = str(record.status), letter.reason or record.failure_reason
        return replace(letter, reason=reason, ticket_status=status)


# -- receiving -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Depth:
    visible: int
    in_flight: int
    """Received and hidden: held by a reader like us, or by a redrive in progress."""
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


DEPTH_ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed")


class QueueReader:
    """Receives a DLQ's messages, each at most once per reader, holding every one it received until released."""

    def __init__(self, sqs: Any, queue_url: str, dlq: Dlq, queues: StageQueues, *, hold_s: int = HOLD_SECONDS,
                 empty_receives: int = EMPTY_RECEIVES) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.dlq = dlq
        self.queues = queues
        self.hold_s = hold_s
        self.empty_receives = empty_receives
        self._seen: set[str] = set()

    def depth(self) -> Depth:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url,
                                                   AttributeNames=list(DEPTH_ATTRIBUTES))["Attributes"]
        visible, in_flight, delayed = (int(attributes.get(name, "0")) for name in DEPTH_ATTRIBUTES)
        return Depth(visible, in_flight, delayed)

    def batches(self, size: int = 10) -> Iterator[list[DeadLetter]]:
        """Batches of up to ``size`` (≤ 10) messages never seen by this reader, until the queue shows no more."""
        empty = checks = 0
        while True:
            fresh = self.receive(size)
            if fresh:
                empty = 0
                yield fresh
                continue
            empty += 1
            if empty < self.empty_receives:
                continue
            checks += 1
            if self.depth().visible == 0 or checks >= self.empty_receives:
                return
            empty = 0

    def receive(self, size: int) -> list[DeadLetter]:
        """One ``ReceiveMessage``: the messages not seen before, now held for ``hold_s``."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(10, size)),
            VisibilityTimeout=self.hold_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [message for message in messages if message["MessageId"] not in self._seen]
        self._seen.update(message["MessageId"] for message in fresh)
        return [decode(message, self.dlq, self.queues) for message in fresh]

    def peek(self, limit: int, *, selection: Selection = EVERYTHING, reasons: TicketReasons | None = None,
             now: datetime | None = None) -> list[DeadLetter]:
        """Up to ``limit`` dead letters the selection picks (reasons and ticket status filled when ``reasons`` is
        given); every message received is given back to the queue at the end: nothing moves."""
        examined: list[DeadLetter] = []
        chosen: list[DeadLetter] = []
        moment = now or datetime.now(UTC)
        try:
            for batch in self.batches():
                examined += batch
                letters = reasons.fill(batch) if reasons is not None else batch
                chosen += [letter for letter in letters if selection.matches(letter, moment)]
                if len(chosen) >= limit:
                    break
        finally:
            self.release(examined)
        return chosen[:limit]

    def release(self, letters: Sequence[DeadLetter]) -> None:
        """Make held messages visible again now (not ``hold_s`` later)."""
        for start in range(0, len(letters), 10):
            chunk = letters[start : start + 10]
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": 0}
                         for i, letter in enumerate(chunk)],
            )

    def delete(self, letters: Sequence[DeadLetter]) -> list[str]:
        """Delete ``letters`` from the DLQ; the ids SQS did not delete (they stay, and come back after the hold)."""
        failed: list[str] = []
        for start in range(0, len(letters), 10):
            chunk = letters[start : start + 10]
            answer = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": letter.receipt_handle} for i, letter in enumerate(chunk)],
            )
            failed += [chunk[int(entry["Id"])].message_id for entry in answer.get("Failed", [])]
        return failed
