"""Moves a message a worker can never process to its queue's dead-letter queue at once, with the reason.

SQS moves a message to the DLQ by itself only after ``maxReceiveCount`` failed receives. When a worker knows on
the first receive that retrying cannot help (the ticketing system does not have the ticket, the message is not an
event at all), receiving it four more times only delays the page to on-call; the worker sends it here and lets
the original be deleted. The body is kept as it was, so ``switchboard dlq redrive`` moves it back like any other
dead letter; the reason travels as the message attribute ``failure_reason`` (``switchboard dlq show`` prints it).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from datalayer import aws
from datalayer.errors import QueueError
from datalayer.settings import Settings

FAILURE_REASON_ATTRIBUTE = "failure_reason"
REASON_MAX_CHARS = 1_000


class DeadLetterQueue:
    def __init__(self, settings: Settings, queue_name: str, sqs_client: Any = None) -> None:
        self._settings = settings
        self._queue_name = queue_name
        self._client_override = sqs_client

    @cached_property
    def _sqs(self) -> Any:
        return self._client_override if self._client_override is not None else aws.client("sqs", self._settings)

    @cached_property
    def _url(self) -> str:
        try:
            return str(self._sqs.get_queue_url(QueueName=self._queue_name)["QueueUrl"])
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"dead-letter queue {self._queue_name} not found: {exc}") from exc

    def send(self, body: str, reason: str) -> None:
        attributes = {FAILURE_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason[:REASON_MAX_CHARS] or "-"}}
        try:
            self._sqs.send_message(QueueUrl=self._url, MessageBody=body, MessageAttributes=attributes)
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"message not dead-lettered to {self._queue_name}: {exc}") from exc
