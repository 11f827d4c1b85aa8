"""DLQ tooling: list without moving, move each message once, and the command line."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from datalayer.settings import get_settings
from infra.resources import provision
from tests.workers.fakes import event_body, ticket
from workers import redrive
from workers.redrive import Redrive


@pytest.fixture
def queues(sqs: Any) -> Redrive:
    provisioned = provision(get_settings())
    for number in range(13):
        sqs.send_message(QueueUrl=provisioned.routing_dlq_url, MessageBody=event_body(ticket(f"DLQ-{number}")))
    sqs.send_message(QueueUrl=provisioned.routing_dlq_url, MessageBody="garbage")
    return Redrive(sqs, provisioned.routing_dlq_url, provisioned.routing_queue_url)


def _bodies(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in messages]
    return bodies


def test_peek_lists_and_leaves_everything_in_place(queues: Redrive) -> None:
    letters = queues.peek(limit=100)
    assert len(letters) == 14 == queues.depth()
    assert {letter.ticket_id for letter in letters} == {*(f"DLQ-{n}" for n in range(13)), "(unreadable)"}
    assert all(letter.first_received is not None for letter in letters)


def test_move_sends_each_message_once_and_empties_the_dlq(queues: Redrive, sqs: Any) -> None:
    moved = queues.move(limit=100)
    assert len(moved) == 14 and queues.depth() == 0
    routed = _bodies(sqs, queues.target_url)
    assert sorted(routed) == sorted(letter.body for letter in moved)
    assert queues.move(limit=100) == []


def test_move_respects_the_limit(queues: Redrive) -> None:
    assert len(queues.move(limit=5)) == 5
    assert queues.depth() == 9


@pytest.mark.parametrize(
    ("argv", "left", "heading"),
    [
        (["--dry-run", "--limit", "3"], 14, "3 dead letter(s), not moved"),
        (["--limit", "4"], 10, "moved 4 message(s) back to switchboard-test-routing"),
    ],
)
def test_command_line(queues: Redrive, argv: list[str], left: int, heading: str) -> None:
    output = io.StringIO()
    assert redrive.main(argv, console=Console(file=output, width=200)) == 0
    text = output.getvalue()
    assert "about 14 message(s)" in text and heading in text
    assert queues.depth() == left


def test_the_sync_dlq_is_redriven_to_the_sync_queue(sqs: Any) -> None:
    from workers.redrive import dead_letter

    provisioned = provision(get_settings())
    body = '{"detail-type": "TicketRouted", "detail": {"ticket_id": "4711"}}'
    sqs.send_message(QueueUrl=provisioned.sync_dlq_url, MessageBody=body)
    output = io.StringIO()

    assert redrive.main(["--queue", "sync"], console=Console(file=output, width=200)) == 0

    assert "moved 1 message(s) back to switchboard-test-sync" in output.getvalue()
    [message] = sqs.receive_message(QueueUrl=provisioned.sync_queue_url)["Messages"]
    assert dead_letter(message).ticket_id == "4711"
