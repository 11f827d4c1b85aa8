"""Opaque pagination cursors: base64url of a DynamoDB ``LastEvaluatedKey`` as JSON.

A cursor comes back from the client, so it is untrusted input: it is decoded strictly and must hold
exactly the key attributes of the index being queried, with the same partition value, before it is
handed to DynamoDB; anything else is an ``InvalidCursorError`` (a 400), never a DynamoDB error.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

MAX_CURSOR_CHARS = 2048


class InvalidCursorError(ValueError):
    """The cursor was not issued by this API for this query."""


def encode_cursor(last_evaluated_key: Mapping[str, str]) -> str:
    raw = json.dumps(dict(last_evaluated_key), sort_keys=True, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, *, key_names: frozenset[str], partition: tuple[str, str]) -> dict[str, str]:
    """The ``ExclusiveStartKey`` for a query on ``partition`` (name, value) of an index keyed by ``key_names``."""
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursorError("next_token is empty or too long")
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        key = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # binascii, Unicode and JSON errors are ValueErrors
        raise InvalidCursorError("next_token is not a cursor issued by this API") from exc
    if (
        not isinstance(key, dict)
        or set(key) != key_names
        or not all(isinstance(value, str) and value for value in key.values())
    ):
        raise InvalidCursorError("next_token is not a cursor issued by this API")
    name, value = partition
    if key[name] != value:
        raise InvalidCursorError(f"next_token belongs to another {name}")
    return key
