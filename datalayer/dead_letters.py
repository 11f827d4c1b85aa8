"""Moves a message a worker can never process to its queue's dead-letter queue at once, with the reason.

SQS moves a message to the DLQ by itself only after ``maxReceiveCount`` failed receives. When a worker knows on
the first receive that retrying cannot help (the ticketing system does not have the ticket, the message is not an
event at all), receiving it four more times only delays the page to on-call; the worker sends it here and lets
the original be deleted. The body is kept as it was, so ``switchboard dlq redrive`` moves it back like any other
dead letter; the reason travels as the message attribute ``failure_reason`` (``switchboard dlq show`` prints it).
"""

from __future__ import annotations

from typing import Any

from datalayer.named_queue import NamedQueue, sqs_errors
from datalayer.settings import Settings

FAILURE_REASON_ATTRIBUTE = "failure_reason"
REASON_MAX_CHARS = 1_000


class DeadLetterQueue(NamedQueue):
    def __init__(self, settings: Settings, queue_name: str, sqs_client: Any = None) -> None:
        super().__init__(settings, queue_name, "dead-letter queue", sqs_client)

    def send(self, body: str, reason: str) -> None:
        attributes = {FAILURE_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason[:REASON_MAX_CHARS] or "-"}}
        with sqs_errors(f"message not dead-lettered to {self._queue_name}"):
            self._sqs.send_message(QueueUrl=self._url, MessageBody=body, MessageAttributes=attributes)
