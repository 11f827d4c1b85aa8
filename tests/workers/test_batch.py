"""The partial batch response and the per-thread worker every queue consumer shares."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

from workers.batch import PerThreadWorker, batch_response


@dataclass
class Result:
    message_id: str
    failed: bool


def test_only_failed_records_go_back_to_the_queue() -> None:
    results = [Result("m-1", False), Result("m-2", True), Result("m-3", True)]
    assert batch_response(results) == {"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}]}
    assert batch_response([Result("m-1", False)]) == {"batchItemFailures": []}


def test_each_thread_builds_its_own_worker_once_and_all_rebuild_after_use() -> None:
    numbers = itertools.count()
    workers = PerThreadWorker(lambda: next(numbers))
    first = workers.current()
    assert workers.current() == first  # built once per thread

    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(workers.current()))
    thread.start()
    thread.join()
    assert seen and seen[0] != first  # another thread, another worker

    workers.use(lambda: -1)
    assert workers.current() == -1  # a new factory reaches the threads that already had a worker
