"""A local stand-in for Lambda's SQS event source mapping, for the local stack, tests and benchmarks.

``chalice local`` never runs SQS handlers, and moto has no Lambda poller, so without this the worker would only
ever run in AWS. The mapping keeps the semantics that the worker's correctness depends on:

* several pollers (threads) receive concurrently, each gathering up to ``batch_size`` records or until the
  batching window closes, like Lambda's concurrent batches;
* the handler gets a Lambda-shaped event (each record with its own messageId, receiptHandle, attributes such
  as ApproximateReceiveCount, eventSourceARN) and a Lambda context;
* only records absent from ``batchItemFailures`` are deleted; a raising handler or an invalid response fails
  the whole batch; failed records reappear after the queue's visibility timeout and, after ``maxReceiveCount``
  receives, SQS itself (moto implements redrive on receive) moves them to the dead-letter queue.

It invokes the real Chalice handler resolved from the app's event sources, so the code path is the deployed one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ConnectionClosedError, EndpointConnectionError
from chalice import Chalice
from chalice.app import SQSEventConfig
from chalice.local import LambdaContext

from workers.limits import WORKER_TIMEOUT_SECONDS

log = logging.getLogger("switchboard.poller")

Handler = Callable[[dict[str, Any], Any], Any]
MAX_MESSAGES_PER_RECEIVE = 10
LONG_POLL_SECONDS = 1
"""Short enough that ``stop()`` returns within about a second, long enough not to spin on an empty queue."""
EMPTY_POLL_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class SqsHandler:
    function_name: str
    handler: Handler
    batch_size: int
    batching_window_s: int


def find_sqs_handler(app: Chalice, queue_name: str) -> SqsHandler:
    """The handler Chalice would wire to ``queue_name`` in AWS, with its batch settings."""
    for source in app.event_sources:
        if isinstance(source, SQSEventConfig) and source.queue == queue_name:
            handler = app.handler_map[source.name]  # the object Lambda reaches through source.handler_string
            return SqsHandler(source.name, handler, source.batch_size, source.maximum_batching_window_in_seconds)
    raise LookupError(f"no @on_sqs_message handler for queue {queue_name!r}")


@dataclass
class MappingStats:
    """Counters across all pollers (bench and tests read them)."""

    invocations: int = 0
    records: int = 0
    deleted: int = 0
    failed: int = 0
    handler_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


def lambda_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS message as Lambda hands it to a function (same keys, camelCase, attributes as strings)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_message_ids(response: Any, batch_ids: set[str]) -> set[str]:
    """Which records to keep, by Lambda's rules: a malformed partial response counts as a failed batch."""
    if response is None or response == {}:
        return set()
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if failures is None:
        return set()
    ids = {item.get("itemIdentifier") for item in failures if isinstance(item, dict)}
    if len(ids) != len(failures) or not ids <= batch_ids:
        log.error("invalid batchItemFailures %r; the whole batch will be retried", failures)
        return batch_ids
    return ids


class SqsEventSourceMapping:
    """Polls one queue with ``concurrency`` threads and invokes ``handler`` like Lambda would."""

    def __init__(
        self,
        handler: SqsHandler,
        *,
        queue_url: str,
        queue_arn: str,
        region: str,
        concurrency: int = 4,
        sqs_client: Callable[[], Any],
        timeout_s: int = WORKER_TIMEOUT_SECONDS,
        memory_mb: int = 1024,
    ) -> None:
        self.handler = handler
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.region = region
        self.concurrency = concurrency
        self.batch_size = handler.batch_size
        self.batching_window_s = handler.batching_window_s
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.stats = MappingStats()
        self._sqs_client = sqs_client
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> SqsEventSourceMapping:
        if self._threads:
            raise RuntimeError("already started")
        self._stop.clear()
        for number in range(self.concurrency):
            sqs = self._sqs_client()  # one client (and connection pool) per poller thread
            thread = threading.Thread(target=self._run, args=(sqs,), name=f"poller-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("polling %s with %d pollers (batch %d, window %ss)", self.queue_arn, self.concurrency,
                 self.batch_size, self.batching_window_s)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop receiving, let in-flight batches finish (their records are deleted or left to retry), join."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("pollers still busy after %.0fs: %s", timeout_s, ", ".join(alive))
        self._threads = []

    def __enter__(self) -> SqsEventSourceMapping:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, sqs: Any) -> None:
        while not self._stop.is_set():
            try:
                batch = self._collect_batch(sqs)
                if batch:
                    self._invoke(sqs, batch)
            except (EndpointConnectionError, ConnectionClosedError) as unreachable:
                # The embedded AWS is down (the stack's watchdog says so and revives it) or stopping: one line.
                log.warning("poller on %s: %s; polling again in 1 s", self.queue_arn.rsplit(":", 1)[-1], unreachable)
                self._stop.wait(1.0)
            except Exception:
                # An SQS hiccup must not kill the poller; Lambda's mapping keeps polling too.
                log.exception("poller error")
                self._stop.wait(1.0)

    def _collect_batch(self, sqs: Any) -> list[dict[str, Any]]:
        """Block until one message arrives, then gather more until the batch is full or the window closes.

        A message whose visibility timeout runs out during the window can be received twice; Lambda never puts
        one message in a batch twice, so the later copy (newer receipt handle and receive count) replaces it.
        """
        batch: dict[str, dict[str, Any]] = {}
        window_closes: float | None = None
        while not self._stop.is_set() and len(batch) < self.batch_size:
            if window_closes is not None and time.monotonic() >= window_closes:
                break
            messages = sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(MAX_MESSAGES_PER_RECEIVE, self.batch_size - len(batch)),
                WaitTimeSeconds=LONG_POLL_SECONDS if not batch else 0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch and not messages:
                continue
            batch.update((message["MessageId"], message) for message in messages)
            if window_closes is None:
                window_closes = time.monotonic() + self.batching_window_s
            if not messages:
                self._stop.wait(EMPTY_POLL_PAUSE_SECONDS)
        return list(batch.values())

    def _invoke(self, sqs: Any, batch: list[dict[str, Any]]) -> None:
        event = {"Records": [lambda_record(m, self.queue_arn, self.region) for m in batch]}
        context = LambdaContext(self.handler.function_name, self.memory_mb, max_runtime_ms=self.timeout_s * 1000)
        batch_ids = {m["MessageId"] for m in batch}
        started = time.monotonic()
        try:
            failed = failed_message_ids(self.handler.handler(event, context), batch_ids)
        except Exception:
            log.exception("handler %s raised; the whole batch of %d will be retried", self.handler.function_name,
                          len(batch))
            self.stats.add(invocations=1, records=len(batch), failed=len(batch), handler_errors=1)
            return
        elapsed = time.monotonic() - started
        if elapsed > self.timeout_s:
            log.warning("invocation took %.1fs, over the %ds Lambda timeout: in AWS it would have been killed",
                        elapsed, self.timeout_s)
        done = [m for m in batch if m["MessageId"] not in failed]
        for start in range(0, len(done), MAX_MESSAGES_PER_RECEIVE):
            chunk = done[start : start + MAX_MESSAGES_PER_RECEIVE]
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        self.stats.add(invocations=1, records=len(batch), deleted=len(done), failed=len(failed))
