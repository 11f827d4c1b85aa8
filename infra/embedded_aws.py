"""The embedded AWS of the local stack and the tests: moto, made as atomic as DynamoDB where we rely on it.

DynamoDB applies a conditional write atomically: of two workers that race to record a ticket's decision, claim
its agent call or reserve budget, exactly one wins, and the pipeline's idempotency rests on that. moto's server
handles requests on several threads without a lock around a table, so two racing conditional writes can both
succeed there; a redelivered message then yields two decisions and two TicketRouted events, which real DynamoDB
would never allow. ``make_dynamodb_atomic`` serialises moto's DynamoDB requests (each is short; SQS long polls
and everything else stay concurrent), and ``python -m infra.embedded_aws`` is moto's own server with it applied.
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


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    make_dynamodb_atomic()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
