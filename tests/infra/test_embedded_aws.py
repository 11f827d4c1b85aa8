"""moto as the local stack runs it: the patches keep AWS's behaviour and drop moto's per-request waste."""

from __future__ import annotations

import json

import boto3
import jsonpath_ng.ext as jsonpath
import pytest
from moto import mock_aws
from moto.sqs.models import sqs_backends

from infra.embedded_aws import patch_moto

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name in ("AWS_ENDPOINT_URL", "SWITCHBOARD_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    patch_moto()
    with mock_aws():
        yield


def test_a_message_past_its_retention_period_is_not_delivered_and_one_within_it_is(aws) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="retained", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="expired")
    queue = sqs_backends[ACCOUNT][REGION].get_queue("retained")
    for message in queue._messages:
        message.sent_timestamp -= 120_000  # sent two minutes ago, kept for one
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []

    sqs.send_message(QueueUrl=url, MessageBody="fresh")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["fresh"]


def test_an_input_transformer_still_fills_its_template_and_each_path_is_parsed_once(aws) -> None:
    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="target")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tickets", EventPattern=json.dumps({"source": ["switchboard"]}))
    events.put_targets(
        Rule="tickets",
        Targets=[
            {
                "Id": "queue",
                "Arn": arn,
                "InputTransformer": {
                    "InputPathsMap": {"ticket": "$.detail.ticket_id"},
                    "InputTemplate": '{"ticket": "<ticket>"}',
                },
            }
        ],
    )
    jsonpath.parse.cache_clear()  # type: ignore[attr-defined]
    for number in range(3):
        detail = json.dumps({"ticket_id": f"T-{number}"})
        events.put_events(Entries=[{"Source": "switchboard", "DetailType": "TicketReceived", "Detail": detail}])

    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(body["ticket"] for body in bodies) == ["T-0", "T-1", "T-2"]
    assert jsonpath.parse.cache_info().misses == 1  # type: ignore[attr-defined]


def test_sending_to_a_standard_queue_leaves_its_counts_right(aws) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="counted")["QueueUrl"]
    for number in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{number}")
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == ("2", "1")


def test_a_fifo_queue_still_deduplicates_by_content(aws) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(
        QueueName="ordered.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "1"


def test_a_host_is_mapped_to_its_service_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    patch_moto()
    listed = []
    original = backends.list_of_moto_modules
    monkeypatch.setattr(backends, "list_of_moto_modules", lambda: listed.append(1) or original())
    dispatcher = DomainDispatcherApplication(create_backend_app)
    host = "sqs.ap-southeast-7.amazonaws.com"

    assert [dispatcher.get_backend_for_host(host) for _ in range(3)] == ["sqs", "sqs", "sqs"]
    assert dispatcher.get_backend_for_host("dynamodb.ap-southeast-7.amazonaws.com") == "dynamodb"
    assert len(listed) == 2, "one directory listing per new host, none for a known one"
