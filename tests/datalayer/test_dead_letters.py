"""A message sent straight to a dead-letter queue keeps its body and carries the reason."""

from __future__ import annotations

import pytest

from datalayer.dead_letters import FAILURE_REASON_ATTRIBUTE, DeadLetterQueue
from datalayer.errors import QueueError
from tests.support import Aws


def test_the_body_is_kept_and_the_reason_travels_as_an_attribute(aws: Aws) -> None:
    sqs = aws.clients.sqs
    DeadLetterQueue(aws.settings, aws.settings.sync_dlq, sqs).send('{"detail-type": "TicketRouted"}', "no such ticket")

    url = sqs.get_queue_url(QueueName=aws.settings.sync_dlq)["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert message["Body"] == '{"detail-type": "TicketRouted"}'
    assert message["MessageAttributes"][FAILURE_REASON_ATTRIBUTE]["StringValue"] == "no such ticket"


def test_a_missing_queue_is_a_queue_error(aws: Aws) -> None:
    with pytest.raises(QueueError, match="not found"):
        DeadLetterQueue(aws.settings, "no-such-queue", aws.clients.sqs).send("body", "reason")
