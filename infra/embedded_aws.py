"""The embedded AWS of the local stack and the tests: moto, made as atomic as DynamoDB where we rely on it.

DynamoDB applies a conditional write atomically: of two workers that race to record a ticket's decision, claim
its agent call or reserve budget, exactly one wins, and the pipeline's idempotency rests on that. moto's server
handles requests on several threads without a lock around a table, so two racing conditional writes can both
succeed there; a redelivered message then yields two decisions and two TicketRouted events, which real DynamoDB
would never allow. ``make_dynamodb_atomic`` serialises moto's DynamoDB requests (each is short; SQS long polls
and everything else stay concurrent).

The other patches remove what moto does per request for nothing, which made the local pipeline CPU-bound at 5
tickets a second on two cores (p50 receipt→decision 5 s before, 83 ms after the first; ``bench.load``):
``cache_jsonpath_parsing``, ``check_retention_cheaply``, ``resolve_hosts_once`` and ``send_without_recounting``.
``python -m infra.embedded_aws`` is moto's server app with every patch applied, served with keep-alive connections
(``main``).
"""

from __future__ import annotations

import argparse
import functools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_LOCK = threading.RLock()


def make_dynamodb_atomic() -> None:
    """Serialise every DynamoDB request moto handles in this process (idempotent)."""
    original = DynamoHandler.call_action
    if getattr(original, "atomic", False):
        return

    @functools.wraps(original)
    def atomic(self: DynamoHandler) -> Any:
        with _LOCK:
            return original(self)

    atomic.atomic = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = atomic  # type: ignore[method-assign]


def cache_jsonpath_parsing() -> None:
    """Parse each EventBridge input path once (idempotent).

    moto builds a new jsonpath parser, grammar tables and all, for every path of every event it delivers to a
    target: about a quarter of its CPU under load, for the same few paths each time. Parsed paths are immutable,
    so one per path is enough.
    """
    import jsonpath_ng.ext as jsonpath

    if not hasattr(jsonpath.parse, "cache_info"):
        jsonpath.parse = functools.lru_cache(maxsize=256)(jsonpath.parse)


def check_retention_cheaply() -> None:
    """Check a received message's retention period without recounting the queue (idempotent).

    For every message it hands out, moto's ``receive_message`` asks for the queue's retention period through
    ``get_queue_attributes``, which computes every attribute, the approximate message counts (a pass over all the
    queue's messages) included: half of moto's CPU under load, and the reason receive slows as a queue deepens.
    """
    from moto.core.utils import unix_time
    from moto.sqs.models import Message, SQSBackend

    if getattr(SQSBackend.is_message_valid_based_on_retention_period, "cheap", False):
        return

    def is_valid(self: SQSBackend, queue_name: str, message: Message) -> bool:
        retention_s = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
        return retention_s + message.sent_timestamp / 1000 > unix_time()  # type: ignore[operator]

    is_valid.cheap = True  # type: ignore[attr-defined]
    SQSBackend.is_message_valid_based_on_retention_period = is_valid  # type: ignore[method-assign]


def resolve_hosts_once() -> None:
    """Map each request's host to its moto service once (idempotent).

    moto's server finds the service of every request by listing its own package directory (a ``stat`` per
    service, some two hundred) and matching hundreds of URL patterns, under one lock that every request takes: a
    ninth of its CPU under load, and a queue of threads behind the lock. A host always maps to the same service.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.get_backend_for_host
    if getattr(original, "once", False):
        return
    resolved: dict[str | None, Any] = {}

    @functools.wraps(original)
    def once(self: DomainDispatcherApplication, host: str | None) -> Any:
        if host not in resolved:
            resolved[host] = original(self, host)
        return resolved[host]

    once.once = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.get_backend_for_host = once  # type: ignore[method-assign]


_sending = threading.local()


def send_without_recounting() -> None:
    """Send to a standard queue without counting its messages (idempotent).

    ``send_message`` reads the queue's ``ContentBasedDeduplication`` through ``Queue.attributes``, which also counts
    the visible, in-flight and delayed messages (three passes over the queue) only to throw the counts away; the
    attribute exists on FIFO queues alone. While a standard queue is sent to, the counts are not taken (nothing
    reads them there); FIFO queues and every ``GetQueueAttributes`` still count.
    """
    from moto.sqs.models import Queue, SQSBackend

    original = SQSBackend.send_message
    if getattr(original, "no_recount", False):
        return

    @contextmanager
    def no_counts() -> Iterator[None]:
        _sending.active = True
        try:
            yield
        finally:
            _sending.active = False

    @functools.wraps(original)
    def send(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        if self.get_queue(queue_name).fifo_queue:  # type: ignore[attr-defined]
            return original(self, queue_name, *args, **kwargs)
        with no_counts():
            return original(self, queue_name, *args, **kwargs)

    for name in ("approximate_number_of_messages", "approximate_number_of_messages_delayed",
                 "approximate_number_of_messages_not_visible"):
        counted = getattr(Queue, name)
        setattr(Queue, name, property(lambda queue, count=counted.fget: 0 if getattr(_sending, "active", False)
                                      else count(queue)))
    send.no_recount = True  # type: ignore[attr-defined]
    SQSBackend.send_message = send  # type: ignore[method-assign]


def patch_moto() -> None:
    """Every patch above, in this process (idempotent)."""
    make_dynamodb_atomic()
    cache_jsonpath_parsing()
    check_retention_cheaply()
    resolve_hosts_once()
    send_without_recounting()


PARENT_CHECK_S = 1.0


def _exit_with(parent_pid: int) -> None:
    """End this process once ``parent_pid`` is gone: a killed local stack must not leave moto holding its port."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


SERVER_THREADS = 64
"""Requests moto serves at once: every SQS long poll of the pollers holds one for up to 20 s."""


def main(argv: list[str] | None = None) -> None:
    """moto's server app with every patch, served by waitress with keep-alive connections.

    moto's own ``run_simple`` is werkzeug's development server, which closes the connection after every response:
    each boto3 call then opens a TCP connection and moto starts a thread for it, a fifth of the local pipeline's
    time under load.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from waitress import serve

    parser = argparse.ArgumentParser(prog="python -m infra.embedded_aws", description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("-p", "--port", type=int, default=5000, help="port (default 5000)")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone (the local stack's)")
    args = parser.parse_args(argv)
    if args.parent_pid:
        threading.Thread(target=_exit_with, args=(args.parent_pid,), name="parent-watch", daemon=True).start()
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto writes it into the queue URLs it returns
    patch_moto()
    app = DomainDispatcherApplication(create_backend_app)
    serve(app, host=args.host, port=args.port, threads=SERVER_THREADS, connection_limit=1000, _quiet=True)


if __name__ == "__main__":
    main()
