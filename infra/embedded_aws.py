"""The embedded AWS of the local stack and the tests: moto, made as atomic as DynamoDB where we rely on it.

DynamoDB applies a conditional write atomically: of two workers that race to record a ticket's decision, claim
its agent call or reserve budget, exactly one wins, and the pipeline's idempotency rests on that. moto's server
handles requests on several threads without a lock around a table, so two racing conditional writes can both
succeed there; a redelivered message then yields two decisions and two TicketRouted events, which real DynamoDB
would never allow. ``make_dynamodb_atomic`` serialises moto's DynamoDB requests (each is short; SQS long polls
and everything else stay concurrent).

Two more patches remove the two costliest things moto does per ticket, which made the local pipeline CPU-bound
at 5 tickets a second on two cores (p50 receipt→decision 5 s before, 83 ms after the first; ``bench.load``):
``cache_jsonpath_parsing`` and ``check_retention_cheaply``. ``python -m infra.embedded_aws`` is moto's own server
with every patch applied.
"""

from __future__ import annotations

import functools
import sys
import threading
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


def patch_moto() -> None:
    """Every patch above, in this process (idempotent)."""
    make_dynamodb_atomic()
    cache_jsonpath_parsing()
    check_retention_cheaply()


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    patch_moto()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
