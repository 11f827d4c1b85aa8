"""The dlq tool's parts on their own: the queue map, when a failure began, the rate limit, batch sizes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from datalayer.settings import Settings
from ops.dead_letter_queues import UnknownQueueError, stage_queues
from ops.dead_letters import DeadLetter, decode
from ops.drain import TokenBucket
from ops.redrive import MAX_BATCH_BYTES, ToQueue
from tests.ops.conftest import Timer


def test_every_dlq_maps_to_where_its_messages_came_from() -> None:
    queues = stage_queues(Settings.from_environment({"SWITCHBOARD_STAGE": "prod"}))
    mapped = {dlq.short_name: (dlq.name, dlq.source, dlq.source_is_bus) for dlq in queues.dlqs}
    assert mapped == {
        "routing": ("switchboard-prod-routing-dlq", "switchboard-prod-routing", False),
        "agent": ("switchboard-prod-agent-dlq", "switchboard-prod-agent", False),
        "sync": ("switchboard-prod-sync-dlq", "switchboard-prod-sync", False),
        "events": ("switchboard-prod-events-dlq", "switchboard-prod-bus", True),
    }
    assert queues.resolve("switchboard-prod-sync-dlq") is queues.resolve("sync")
    assert queues.consumers == {"switchboard-prod-routing": "route_tickets", "switchboard-prod-agent":
                                "decide_unsure_tickets", "switchboard-prod-sync": "sync_decisions"}
    assert queues.targets == {"TicketReceived": "switchboard-prod-routing", "TicketRouted": "switchboard-prod-sync"}
    with pytest.raises(UnknownQueueError):
        queues.resolve("switchboard-prod-routing")  # a queue, not a dead-letter queue


def _message(attributes: dict[str, str], message_attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"MessageId": "m", "ReceiptHandle": "r", "Body": json.dumps({"ticket_id": "A", "deferred_reason": "x"}),
            "Attributes": attributes, "MessageAttributes": message_attributes or {}}


def test_the_first_failure_is_the_first_receive_of_a_moved_message_and_the_send_of_a_given_up_one() -> None:
    queues = stage_queues(Settings.from_environment({}))
    agent = queues.resolve("agent")
    times = {"SentTimestamp": "1796000000000", "ApproximateFirstReceiveTimestamp": "1796000060000",
             "ApproximateReceiveCount": "5"}
    moved = decode(_message(times), agent, queues)
    given_up = decode(_message(times, {"failure_reason": {"DataType": "String", "StringValue": "why"}}), agent,
                      queues)
    assert moved.first_failure is not None and moved.first_failure.timestamp() == 1_796_000_060
    assert given_up.first_failure is not None and given_up.first_failure.timestamp() == 1_796_000_000
    assert (moved.reason, given_up.reason, moved.receive_count) == (None, "why", 5)


def test_the_bucket_lets_a_burst_through_then_spaces_the_rest() -> None:
    timer = Timer()
    bucket = TokenBucket(4, clock=timer.monotonic, sleep=timer.sleep)
    for _ in range(12):
        bucket.acquire()
    assert sum(timer.sleeps) == pytest.approx(2.0)  # 4 at once, 8 more at 4 per second
    timer.now += 10  # idle: the bucket refills to one second's worth, no more
    for _ in range(4):
        bucket.acquire()
    assert sum(timer.sleeps) == pytest.approx(2.0)
    bucket.acquire(10)  # more than a burst: waits for all of it
    assert sum(timer.sleeps) == pytest.approx(4.5)
    with pytest.raises(ValueError):
        TokenBucket(0)


class RecordingSqs:
    def __init__(self) -> None:
        self.requests: list[list[dict[str, Any]]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.requests.append(Entries)
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries]}


def test_a_batch_of_big_messages_is_split_under_sqs_request_limit() -> None:
    letters = [DeadLetter(f"m{n}", "r", "x" * 60_000, {}, {}, "unreadable", None, None, 1, None, None, "w")
               for n in range(10)]
    sqs = RecordingSqs()

    handed = ToQueue(sqs, "url").hand_over(letters)

    assert len(handed.accepted) == 10
    assert [len(request) for request in sqs.requests] == [4, 4, 2]
    assert all(sum(len(e["MessageBody"]) for e in request) <= MAX_BATCH_BYTES for request in sqs.requests)
