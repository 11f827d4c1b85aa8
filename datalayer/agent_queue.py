"""Sends the tickets the fast router is unsure of to the agent queue (``datalayer.events.AgentRequest``).

The routing worker stores the provisional decision first and sends second; if the send fails, the routing
message is retried and the send repeated (the agent worker makes one model call per ticket however many
requests arrive, see ``TicketStore.claim_agent_call``).
"""

from __future__ import annotations

from typing import Any

from datalayer.events import AgentRequest
from datalayer.named_queue import NamedQueue, sqs_errors
from datalayer.settings import Settings


class AgentQueue(NamedQueue):
    def __init__(self, settings: Settings, sqs_client: Any = None) -> None:
        super().__init__(settings, settings.agent_queue, "agent queue", sqs_client)

    def send(self, request: AgentRequest) -> None:
        with sqs_errors(f"agent request for {request.ticket_id} not sent"):
            self._sqs.send_message(QueueUrl=self._url, MessageBody=request.model_dump_json())

    def retry_later(self, receipt_handle: str, delay_s: int) -> None:
        """Make a received message visible again in ``delay_s`` seconds instead of after its visibility timeout."""
        with sqs_errors("agent request not given back to the queue"):
            self._sqs.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay_s
            )
