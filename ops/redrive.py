"""Where a redrive sends dead letters back: the source queue, the bus, or SQS's own move task.

Three ways, chosen by ``plan``:

* ``move-task``: in AWS, a redrive of a whole queue back to its source queue is SQS's ``StartMessageMoveTask``,
  which moves the messages inside SQS (no message passes through this machine), watched with
  ``ListMessageMoveTasks`` until it completes. Where that API is missing (moto, in-process or as the local
  stack's server: ``MoveTaskUnavailableError``) the redrive falls back to the next way;
* ``message-by-message``: ``ops.drain`` with ``ToQueue``: receive, send the same body (and message attributes)
  to the source queue, delete. Used with filters, ``--limit``, against the local stack and as the fallback;
* ``put-events``: the events DLQ holds EventBridge events a rule could not deliver to its queue. ``ToBus`` puts
  each back on the bus: the rule matches it again and delivers it to its target as it does every event (with the
  target's retry policy, DLQ and the bus archive), instead of this tool writing into a queue behind the rule's
  back. Any other rule matching the event sees it again too, which the idempotent workers take as a duplicate.

The ``failure_reason`` attribute is not carried back: should the message fail again, its next dead letter must not
show the old reason (the worker sets a fresh one). ``move-task`` cannot drop it; the ticket's own reason, which
``dlq show`` reads when the message is mute, is rewritten on the next failure either way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from datalayer.dead_letters import FAILURE_REASON_ATTRIBUTE
from ops.dead_letter_queues import Dlq
from ops.dead_letters import DeadLetter, Selection
from ops.drain import Handed

MAX_BATCH_BYTES = 256 * 1024
"""SendMessageBatch and PutEvents refuse a request whose entries add up to more than 256 KiB."""
MOVE_TASK_POLL_S = 2.0
MOVE_TASK_MAX_RATE = 500
"""``MaxNumberOfMessagesPerSecond`` of StartMessageMoveTask is at most 500."""
UNSUPPORTED_CODES = frozenset({
    "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "InvalidAction", "UnknownOperation",
    "UnknownOperationException", "NotImplemented", "500",
})
"""How an SQS without the move-task API answers the probe (moto's server: a bare HTTP 500; others: InvalidAction).
A real SQS failing the probe for another reason gets the message-by-message redrive, which is as safe."""


class Method(StrEnum):
    MOVE_TASK = "move-task"
    MESSAGE_BY_MESSAGE = "message-by-message"
    PUT_EVENTS = "put-events"


def plan(dlq: Dlq, selection: Selection, *, limit: int | None, local: bool) -> Method:
    """How to redrive ``dlq``: a whole queue in AWS through SQS itself, everything else here."""
    if dlq.source_is_bus:
        return Method.PUT_EVENTS
    if local or limit is not None or not selection.everything:
        return Method.MESSAGE_BY_MESSAGE
    return Method.MOVE_TASK


# -- message by message: to the source queue ----------------------------------------------------------------------


class ToQueue:
    """Sends each dead letter's body and message attributes (``failure_reason`` aside) to the source queue."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url

    def hand_over(self, letters: Sequence[DeadLetter]) -> Handed:
        accepted: set[str] = set()
        refused: dict[str, str] = {}
        entries = [_send_entry(index, letter) for index, letter in enumerate(letters)]
        for chunk in _by_size(entries, lambda entry: len(entry["MessageBody"].encode())):
            answer = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=chunk)
            accepted.update(letters[int(entry["Id"])].message_id for entry in answer.get("Successful", []))
            refused.update({letters[int(entry["Id"])].message_id: f"{entry.get('Code')}: {entry.get('Message')}"
                            for entry in answer.get("Failed", [])})
        return Handed(frozenset(accepted), refused)


def _send_entry(index: int, letter: DeadLetter) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": letter.body}
    carried = carried_attributes(letter.message_attributes)
    if carried:
        entry["MessageAttributes"] = carried
    return entry


def carried_attributes(message_attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The message attributes a redriven message keeps: all but ``failure_reason``, in SendMessage's shape."""
    carried = {}
    for name, value in message_attributes.items():
        if name == FAILURE_REASON_ATTRIBUTE:
            continue
        carried[name] = {key: value[key] for key in ("DataType", "StringValue", "BinaryValue") if key in value}
    return carried


# -- message by message: back on the bus ----------------------------------------------------------------------------


class ToBus:
    """Puts each dead-lettered event back on the bus (``PutEvents``), where its rule delivers it again."""

    def __init__(self, events: Any, bus: str) -> None:
        self.events = events
        self.bus = bus

    def hand_over(self, letters: Sequence[DeadLetter]) -> Handed:
        accepted: set[str] = set()
        refused: dict[str, str] = {}
        entries: list[dict[str, Any]] = []
        ids: list[str] = []
        for letter in letters:
            entry = self._entry(letter)
            if entry is None:
                refused[letter.message_id] = "not an EventBridge event: it cannot go back on the bus (purge it)"
            else:
                entries.append(entry)
                ids.append(letter.message_id)
        start = 0
        for chunk in _by_size(entries, _event_size):
            answer = self.events.put_events(Entries=chunk)
            for message_id, result in zip(ids[start : start + len(chunk)], answer.get("Entries", []), strict=False):
                if result.get("EventId"):
                    accepted.add(message_id)
                else:
                    refused[message_id] = f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}"
            start += len(chunk)
        return Handed(frozenset(accepted), refused)

    def _entry(self, letter: DeadLetter) -> dict[str, Any] | None:
        try:
            event = json.loads(letter.body)
            entry = {"Source": event["source"], "DetailType": event["detail-type"],
                     "Detail": json.dumps(event["detail"]), "EventBusName": self.bus}
        except (ValueError, KeyError, TypeError):
            return None
        if event.get("resources"):
            entry["Resources"] = list(event["resources"])
        return entry


def _event_size(entry: Mapping[str, Any]) -> int:
    """PutEvents' own measure of an entry: source, detail type, detail and resources, in UTF-8 bytes."""
    parts = [entry["Source"], entry["DetailType"], entry["Detail"], *entry.get("Resources", ())]
    return sum(len(part.encode()) for part in parts)


def _by_size(entries: list[dict[str, Any]], size: Callable[[dict[str, Any]], int]) -> Iterator[list[dict[str, Any]]]:
    """Ten entries at most per request, and no more than ``MAX_BATCH_BYTES`` together."""
    chunk: list[dict[str, Any]] = []
    total = 0
    for entry in entries:
        entry_size = size(entry)
        if chunk and (len(chunk) == 10 or total + entry_size > MAX_BATCH_BYTES):
            yield chunk
            chunk, total = [], 0
        chunk.append(entry)
        total += entry_size
    if chunk:
        yield chunk


# -- SQS's own move task (AWS) -----------------------------------------------------------------------------------


class MoveTaskUnavailableError(Exception):
    """This SQS has no StartMessageMoveTask (moto); move message by message instead."""


class MoveTaskRunningError(Exception):
    """A move task is already running on the DLQ; SQS allows one at a time."""


@dataclass(frozen=True)
class MoveTaskStatus:
    handle: str | None
    status: str
    """RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED."""
    moved: int
    to_move: int | None
    failure_reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("COMPLETED", "CANCELLED", "FAILED")


class MoveTask:
    """StartMessageMoveTask from a DLQ to its source queue, and watching it until it ends."""

    def __init__(self, sqs: Any, *, sleep: Callable[[float], None] = time.sleep,
                 poll_s: float = MOVE_TASK_POLL_S) -> None:
        self.sqs = sqs
        self.sleep = sleep
        self.poll_s = poll_s

    def start(self, source_arn: str, destination_arn: str, rate: float | None = None) -> str:
        """The task's handle. Asks first whether one is running (and whether the API exists at all)."""
        latest = self.latest(source_arn)
        if latest is not None and latest.status in ("RUNNING", "CANCELLING"):
            raise MoveTaskRunningError(
                f"a move task is already {latest.status.lower()} on this queue (handle {latest.handle}): let it "
                "finish or cancel it (aws sqs cancel-message-move-task --task-handle …)")
        request: dict[str, Any] = {"SourceArn": source_arn, "DestinationArn": destination_arn}
        if rate is not None:
            request["MaxNumberOfMessagesPerSecond"] = max(1, min(MOVE_TASK_MAX_RATE, int(rate)))
        answer = self._call("start_message_move_task", **request)
        return str(answer["TaskHandle"])

    def latest(self, source_arn: str) -> MoveTaskStatus | None:
        results = self._call("list_message_move_tasks", SourceArn=source_arn, MaxResults=1).get("Results", [])
        if not results:
            return None
        result = results[0]
        return MoveTaskStatus(
            handle=result.get("TaskHandle"),
            status=result["Status"],
            moved=int(result.get("ApproximateNumberOfMessagesMoved", 0)),
            to_move=result.get("ApproximateNumberOfMessagesToMove"),
            failure_reason=result.get("FailureReason"),
        )

    def watch(self, source_arn: str, on_progress: Callable[[MoveTaskStatus], None]) -> MoveTaskStatus:
        """Poll every ``poll_s`` until the latest task of ``source_arn`` has ended."""
        while True:
            status = self.latest(source_arn)
            if status is None:
                raise MoveTaskUnavailableError("the move task started but SQS lists none")
            on_progress(status)
            if status.finished:
                return status
            self.sleep(self.poll_s)

    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        try:
            return dict(getattr(self.sqs, operation)(**request))
        except NotImplementedError as exc:  # in-process moto
            raise MoveTaskUnavailableError(str(exc)) from exc
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in UNSUPPORTED_CODES:
                raise MoveTaskUnavailableError(str(exc)) from exc
            raise
