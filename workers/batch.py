"""What every queue consumer shares: Lambda's partial batch response and one worker per thread.

Each worker (routing, agent, sync) has its own outcomes, so its own ``RecordResult``; what Lambda needs back from
any of them is the same: the message ids of the records to deliver again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar


class BatchItem(Protocol):
    @property
    def message_id(self) -> str: ...

    @property
    def failed(self) -> bool: ...


def batch_response(results: Iterable[BatchItem]) -> dict[str, list[dict[str, str]]]:
    """Lambda's partial batch response (``ReportBatchItemFailures``): only the failed records go back to the queue."""
    return {"batchItemFailures": [{"itemIdentifier": r.message_id} for r in results if r.failed]}


def receives(record: Mapping[str, Any]) -> int:
    """How many times SQS has handed this record out, this time included: the last allowed one ends differently."""
    return int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))


W = TypeVar("W")


class PerThreadWorker(Generic[W]):
    """One worker per thread, built on first use: boto3 resources and HTTP clients are not shared across the local
    stack's pollers (in Lambda there is one thread, so one worker per execution environment).

    Tests, benchmarks and the local stack swap the factory with ``use``; every thread rebuilds on its next call.
    """

    def __init__(self, factory: Callable[[], W]) -> None:
        self._factory = factory
        self._generation = 0
        self._local = threading.local()

    def use(self, factory: Callable[[], W]) -> None:
        self._factory = factory
        self._generation += 1

    def current(self) -> W:
        local = self._local
        if getattr(local, "generation", -1) != self._generation:
            local.worker, local.generation = self._factory(), self._generation
        return local.worker  # type: ignore[no-any-return]
