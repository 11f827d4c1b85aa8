"""Timing and retry limits of the routing pipeline, shared by the worker, the queue definitions and the poller.

They live in one shipped module because they must agree: SQS hides a message for the visibility timeout, and
if that were shorter than the Lambda timeout a slow invocation would see its messages redelivered to another
invocation while it still works on them (AWS asks for at least six times the function timeout). The worker
also needs ``MAX_RECEIVE_COUNT`` to know when a failing delivery is the last before the dead-letter queue.
"""

from typing import Final

API_MEMORY_MB: Final = 512
WORKER_MEMORY_MB: Final = 2048
"""The routing worker's memory: onnxruntime gets the CPU share that comes with it (Lambda scales CPU with memory)."""
AGENT_WORKER_MEMORY_MB: Final = 512
"""The agent worker mostly waits on the model provider."""
SYNC_WORKER_MEMORY_MB: Final = 256
"""The sync worker waits on the ticketing system; importing the app takes about 75 MB."""

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

AGENT_WORKER_TIMEOUT_SECONDS: Final = 90
"""Lambda timeout of the agent worker: a few model calls (``agent_max_turns`` × ``agent_read_timeout_s`` at worst)
and the in-process retries on throttling fit in it; ``.chalice/config.json`` must say the same (a test checks it)."""
AGENT_VISIBILITY_TIMEOUT_SECONDS: Final = 6 * AGENT_WORKER_TIMEOUT_SECONDS
AGENT_BATCH_SIZE: Final = 1
"""One ticket per invocation: a batch would make each ticket wait for the model calls of the ones before it."""
AGENT_MAX_CONCURRENCY: Final = 10
"""Agent invocations at once (the event source's maximum concurrency): the guard for the provider's rate limit."""
AGENT_RETRY_DELAY_SECONDS: Final = 30
"""When the provider throttles or times out past the in-process retries, the message comes back this much later."""

SYNC_WORKER_TIMEOUT_SECONDS: Final = 90
"""Lambda timeout of the sync worker; ``.chalice/config.json`` must say the same (a test checks it). It covers the
in-process backoff (1 + 2 + 4 + 8 + 16 = 31 s of waiting) with the calls between the waits when the ticketing
system fails fast. When it hangs, the worker stops retrying while one more attempt (``SYNC_REQUESTS_PER_ATTEMPT``
requests of at most ``ticketing_timeout_s`` each, 10 s by default) and the store writes still fit: with the defaults,
no new wait begins after 90 - 5 - 4 × 10 = 45 s (``workers.sync.backoff_deadline_s``)."""
SYNC_VISIBILITY_TIMEOUT_SECONDS: Final = 6 * SYNC_WORKER_TIMEOUT_SECONDS
SYNC_BATCH_SIZE: Final = 1
"""One ticket per invocation: a batch would make each ticket wait out the backoff of the ones before it."""
SYNC_MAX_CONCURRENCY: Final = 5
"""Sync invocations at once (the event source's maximum concurrency): about 15 requests/s at most, under the
ticketing system's rate limit (Zendesk: 700 requests/min on Enterprise); its 429s are honoured on top."""
SYNC_BACKOFF_SECONDS: Final = (1, 2, 4, 8, 16)
"""Waits between the in-process attempts when the ticketing system is unavailable (a 429's Retry-After instead)."""
SYNC_REQUESTS_PER_ATTEMPT: Final = 4
"""Requests one sync makes at most: the comments (one page, usually), the ticket update, the tags, one re-sent
after re-reading the credentials."""
SYNC_SAFETY_SECONDS: Final = 5
"""Kept free at the end of a sync invocation for the store writes and the metrics."""
