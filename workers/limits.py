"""Timing and retry limits of the routing pipeline, shared by the worker, the queue definitions and the poller.

They live in one shipped module because they must agree: SQS hides a message for the visibility timeout, and
if that were shorter than the Lambda timeout a slow invocation would see its messages redelivered to another
invocation while it still works on them (AWS asks for at least six times the function timeout). The worker
also needs ``MAX_RECEIVE_COUNT`` to know when a failing delivery is the last before the dead-letter queue.
"""

from typing import Final

WORKER_TIMEOUT_SECONDS: Final = 30
"""Lambda timeout of the routing worker; ``.chalice/config.json`` must say the same (a test checks it)."""

VISIBILITY_TIMEOUT_SECONDS: Final = 6 * WORKER_TIMEOUT_SECONDS
MAX_RECEIVE_COUNT: Final = 5
"""Deliveries of one message before SQS moves it to the dead-letter queue."""

BATCH_SIZE: Final = 10
BATCHING_WINDOW_SECONDS: Final = 0
"""Lambda's wait to fill a batch. 0 (Lambda's default for standard queues): a window adds its full length to the
receipt-to-decision latency of a lone ticket (p99 1.65 s instead of < 1 s at 10 tickets/s locally), and under load
batches fill by themselves."""
