"""``python -m workers.redrive [--queue routing|sync] [--dry-run] [--limit N]``: look at a dead-letter queue and move
its messages back to its queue, for on-call once the cause of the failures is fixed: the routing DLQ (the default)
or the sync DLQ (decisions the ticketing system did not take).

SQS's own redrive (StartMessageMoveTask) does not exist in moto, and a tool that only works in AWS is not one
on-call can rehearse locally, so this moves messages itself: receive from the DLQ, send the same body to the
queue, then delete from the DLQ. A crash between send and delete leaves the message in both queues; that is
harmless because the workers are idempotent: the routing worker's conditional decision write routes a ticket once
however often its event arrives, and the sync worker writes a decision to the ticketing system once. ``--dry-run``
only lists, and gives the messages back to the DLQ at once.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from datalayer import aws
from datalayer.settings import Settings, get_settings

HOLD_SECONDS = 60
"""How long a received DLQ message stays hidden while it is being moved; ample for one send and one delete."""
MAX_EMPTY_RECEIVES = 3
"""SQS short polls sample servers, so one empty answer does not prove the queue empty; three in a row do."""
QUEUES = {"routing": ("routing_dlq", "routing_queue"), "sync": ("sync_dlq", "sync_queue")}
"""Which settings name each dead-letter queue and the queue its messages go back to."""


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    message_attributes: dict[str, Any]
    ticket_id: str
    receive_count: int
    first_received: datetime | None
    sent: datetime | None


def _timestamp(attributes: dict[str, str], name: str) -> datetime | None:
    value = attributes.get(name)
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC) if value else None


def _ticket_id(body: str) -> str:
    """The ticket of a TicketReceived (``detail.ticket.ticket_id``) or TicketRouted (``detail.ticket_id``) event."""
    try:
        detail = json.loads(body)["detail"]
        ticket_id = detail["ticket"]["ticket_id"] if "ticket" in detail else detail["ticket_id"]
    except (ValueError, KeyError, TypeError):
        return "(unreadable)"
    return ticket_id if isinstance(ticket_id, str) else "(unreadable)"


def dead_letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    return DeadLetter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        message_attributes=message.get("MessageAttributes", {}),
        ticket_id=_ticket_id(message["Body"]),
        receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
        first_received=_timestamp(attributes, "ApproximateFirstReceiveTimestamp"),
        sent=_timestamp(attributes, "SentTimestamp"),
    )


class Redrive:
    """Receive → send → delete between two queues, each message at most once per run."""

    def __init__(self, sqs: Any, dlq_url: str, target_url: str) -> None:
        self.sqs = sqs
        self.dlq_url = dlq_url
        self.target_url = target_url

    @classmethod
    def for_settings(cls, settings: Settings, queue: str = "routing") -> Redrive:
        dlq_name, queue_name = (getattr(settings, name) for name in QUEUES[queue])
        sqs = aws.client("sqs", settings)
        dlq_url = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
        return cls(sqs, dlq_url, sqs.get_queue_url(QueueName=queue_name)["QueueUrl"])

    def depth(self) -> int:
        name = "ApproximateNumberOfMessages"
        return int(self.sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=[name])["Attributes"][name])

    def _receive(self, limit: int) -> Iterator[DeadLetter]:
        """Up to ``limit`` distinct messages, held invisible for ``HOLD_SECONDS``; bounded by empty answers."""
        seen: set[str] = set()
        empty = 0
        while len(seen) < limit and empty < MAX_EMPTY_RECEIVES:
            messages = self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=min(10, limit - len(seen)),
                VisibilityTimeout=HOLD_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            empty = 0 if fresh else empty + 1
            for message in fresh:
                seen.add(message["MessageId"])
                yield dead_letter(message)

    def peek(self, limit: int) -> list[DeadLetter]:
        """List without moving: the messages are made visible again right away."""
        letters = list(self._receive(limit))
        for start in range(0, len(letters), 10):
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": 0}
                    for i, letter in enumerate(letters[start : start + 10])
                ],
            )
        return letters

    def move(self, limit: int, on_moved: Callable[[DeadLetter], None] = lambda _letter: None) -> list[DeadLetter]:
        moved: list[DeadLetter] = []
        for letter in self._receive(limit):
            send: dict[str, Any] = {"QueueUrl": self.target_url, "MessageBody": letter.body}
            if letter.message_attributes:
                send["MessageAttributes"] = letter.message_attributes
            self.sqs.send_message(**send)
            self.sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=letter.receipt_handle)
            moved.append(letter)
            on_moved(letter)
        return moved


def letters_table(letters: list[DeadLetter], title: str) -> Table:
    table = Table(title=title)
    for column in ("ticket", "receives", "first failure (UTC)", "sent (UTC)", "message id"):
        table.add_column(column)
    for letter in letters:
        table.add_row(
            letter.ticket_id,
            str(letter.receive_count),
            f"{letter.first_received:%Y-%m-%d %H:%M:%S}" if letter.first_received else "-",
            f"{letter.sent:%Y-%m-%d %H:%M:%S}" if letter.sent else "-",
            letter.message_id,
        )
    return table


def main(argv: list[str] | None = None, console: Console | None = None) -> int:
    parser = argparse.ArgumentParser(description="Inspect a dead-letter queue and move its messages back.")
    parser.add_argument("--queue", choices=sorted(QUEUES), default="routing", help="which DLQ (default routing)")
    parser.add_argument("--dry-run", action="store_true", help="list the messages, move nothing")
    parser.add_argument("--limit", type=int, default=1000, help="at most this many messages (default 1000)")
    args = parser.parse_args(argv)
    console = console or Console()
    settings = get_settings()
    redrive = Redrive.for_settings(settings, args.queue)
    dlq_name, queue_name = (getattr(settings, name) for name in QUEUES[args.queue])
    depth = redrive.depth()
    console.print(f"{dlq_name}: about {depth} message(s)")

    if args.dry_run:
        letters = redrive.peek(args.limit)
        console.print(letters_table(letters, f"{len(letters)} dead letter(s), not moved"))
        return 0

    total = min(depth, args.limit)
    with Progress(TextColumn("moving to " + queue_name), BarColumn(), MofNCompleteColumn(),
                  console=console) as progress:
        task = progress.add_task("redrive", total=total)
        moved = redrive.move(args.limit, on_moved=lambda _letter: progress.advance(task))
    console.print(letters_table(moved, f"moved {len(moved)} message(s) back to {queue_name}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
