"""Sends the tickets the fast router is unsure of to the agent queue (``datalayer.events.AgentRequest``).

The routing worker stores the provisional decision first and sends second; if the send fails, the routing
message is retried and the send repeated (the agent worker makes one model call per ticket however many
requests arrive, see ``TicketStore.claim_agent_call``).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from datalayer import aws
from datalayer.errors import QueueError
from datalayer.events import AgentRequest
from datalayer.settings import Settings


class AgentQueue:
    def __init__(self, settings: Settings, sqs_client: Any = None) -> None:
        self._settings = settings
        self._client_override = sqs_client

    @cached_property
    def _sqs(self) -> Any:
        return self._client_override if self._client_override is not None else aws.client("sqs", self._settings)

    @cached_property
    def _url(self) -> str:
        try:
            return str(self._sqs.get_queue_url(QueueName=self._settings.agent_queue)["QueueUrl"])
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"agent queue {self._settings.agent_queue} not found: {exc}") from exc

    def send(self, request: AgentRequest) -> None:
        try:
            self._sqs.send_message(QueueUrl=self._url, MessageBody=request.model_dump_json())
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"agent request for {request.ticket_id} not sent: {exc}") from exc

    def retry_later(self, receipt_handle: str, delay_s: int) -> None:
        """Make a received message visible again in ``delay_s`` seconds instead of after its visibility timeout."""
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay_s
            )
        except (ClientError, BotoCoreError) as exc:
            raise QueueError(f"agent request not given back to the queue: {exc}") from exc
