"""An SQS queue known by name: its client and URL looked up once, and SQS's errors turned into ``QueueError``.

The routing worker's agent queue and the workers' dead-letter queue are both addressed by the stage's queue names
(``datalayer.settings``); only what they send differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from datalayer import aws
from datalayer.errors import QueueError
from datalayer.settings import Settings


class NamedQueue:
    """``kind`` names the queue in errors ("agent queue", "dead-letter queue")."""

    def __init__(self, settings: Settings, queue_name: str, kind: str, sqs_client: Any = None) -> None:
        self._settings = settings
        self._queue_name = queue_name
        self._kind = kind
        self._client_override = sqs_client

    @cached_property
    def _sqs(self) -> Any:
        return self._client_override if self._client_override is not None else aws.client("sqs", self._settings)

    @cached_property
    def _url(self) -> str:
        with sqs_errors(f"{self._kind} {self._queue_name} not found"):
            return str(self._sqs.get_queue_url(QueueName=self._queue_name)["QueueUrl"])


@contextmanager
def sqs_errors(what: str) -> Iterator[None]:
    """SQS's client and transport errors as ``QueueError("<what>: <cause>")``."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise QueueError(f"{what}: {exc}") from exc
