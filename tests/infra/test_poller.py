"""The local event source mapping behaves like Lambda's: record shape, partial batches, failed batches."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from chalice import Chalice
from chalice.app import SQSEvent

import app
from datalayer.settings import get_settings
from infra.poller import SqsEventSourceMapping, SqsHandler, failed_message_ids, find_sqs_handler, lambda_record
from workers.limits import BATCH_SIZE, BATCHING_WINDOW_SECONDS

ARN = "arn:aws:sqs:us-east-1:123456789012:q"


def test_lambda_record_has_lambdas_keys() -> None:
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "rh",
        "Body": "{}",
        "MD5OfBody": "x",
        "Attributes": {"ApproximateReceiveCount": "3"},
        "MessageAttributes": {"trace": {"DataType": "String", "StringValue": "abc"}},
    }
    record = lambda_record(message, ARN, "us-east-1")
    assert record["messageId"] == "m-1" and record["receiptHandle"] == "rh"
    assert record["attributes"]["ApproximateReceiveCount"] == "3"
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == ARN
    assert record["messageAttributes"]["trace"]["stringValue"] == "abc"


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "a"}]}, {"a"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),  # unknown id: Lambda fails the batch
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": [{}]}, {"a", "b"}),
    ],
)
def test_failed_message_ids_follow_lambdas_rules(response: Any, expected: set[str]) -> None:
    assert failed_message_ids(response, {"a", "b"}) == expected


def test_finds_the_handler_chalice_would_deploy() -> None:
    handler = find_sqs_handler(app.app, get_settings().routing_queue)
    assert (handler.function_name, handler.batch_size, handler.batching_window_s) == (
        "route_tickets",
        BATCH_SIZE,
        BATCHING_WINDOW_SECONDS,
    )
    with pytest.raises(LookupError):
        find_sqs_handler(Chalice("empty"), "nope")


def _queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _depths(sqs: Any, url: str) -> tuple[int, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


def _run_until(mapping: SqsEventSourceMapping, records: int) -> None:
    deadline = time.monotonic() + 20
    with mapping:
        while mapping.stats.records < records and time.monotonic() < deadline:
            time.sleep(0.05)
    assert mapping.stats.records >= records


def test_partial_batch_response_deletes_only_the_successes(sqs: Any) -> None:
    url, arn = _queue(sqs)
    for body in ("ok-1", "bad", "ok-2", "ok-3"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with lock:
            seen.extend(event["Records"])
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "bad"]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    mapping = SqsEventSourceMapping(
        SqsHandler("f", handler, 10, 0), queue_url=url, queue_arn=arn, region="us-east-1", concurrency=2,
        sqs_client=lambda: sqs,
    )
    _run_until(mapping, 4)
    assert len({r["messageId"] for r in seen}) == 4
    assert all(r["eventSourceARN"] == arn and r["attributes"]["ApproximateReceiveCount"] == "1" for r in seen)
    assert _depths(sqs, url) == (0, 1)  # the failed one waits out its visibility timeout
    assert (mapping.stats.deleted, mapping.stats.failed) == (3, 1)


def test_raising_handler_fails_the_whole_batch(sqs: Any) -> None:
    url, arn = _queue(sqs)
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    def handler(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("function crashed")

    mapping = SqsEventSourceMapping(
        SqsHandler("f", handler, 10, 1), queue_url=url, queue_arn=arn, region="us-east-1", concurrency=1,
        sqs_client=lambda: sqs,
    )
    _run_until(mapping, 2)
    assert _depths(sqs, url) == (0, 2)
    assert mapping.stats.handler_errors >= 1 and mapping.stats.deleted == 0


def test_chalice_handler_gets_an_sqs_event(sqs: Any) -> None:
    """The real Chalice wrapper (SQSEvent, record.to_dict()) works with the records the poller builds."""
    url, arn = _queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    app = Chalice("t")
    bodies: list[str] = []

    @app.on_sqs_message(queue="q", batch_size=5)
    def consume(event: SQSEvent) -> dict[str, list[Any]]:
        bodies.extend(record.to_dict()["body"] for record in event)
        return {"batchItemFailures": []}

    mapping = SqsEventSourceMapping(
        find_sqs_handler(app, "q"), queue_url=url, queue_arn=arn, region="us-east-1", concurrency=1,
        sqs_client=lambda: sqs,
    )
    _run_until(mapping, 1)
    assert bodies == ["hello"] and _depths(sqs, url) == (0, 0)


def test_a_message_received_twice_in_one_window_is_in_the_batch_once(sqs: Any) -> None:
    """With visibility 0 every receive in the batching window returns the same message again."""
    url = sqs.create_queue(QueueName="eager", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message(QueueUrl=url, MessageBody="once")
    sizes: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        sizes.append(len(event["Records"]))

    mapping = SqsEventSourceMapping(
        SqsHandler("f", handler, 10, 1), queue_url=url, queue_arn=arn, region="us-east-1", concurrency=1,
        sqs_client=lambda: sqs,
    )
    _run_until(mapping, 1)
    assert sizes[0] == 1
