"""API-key authentication: the ``x-api-key`` header against ``settings.api_keys``.

The comparison is constant-time and runs against every configured key, so neither the position of the
first wrong character nor which key matched shows in the response time. With no keys configured every
request is refused: a missing setting must close the API, not open it.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping

from chalice_app.errors import UnauthorizedError

API_KEY_HEADER = "x-api-key"


def _bytes(value: str) -> bytes:
    # surrogatepass: a header decoded from JSON may hold lone surrogates, which must not crash the check
    return value.encode("utf-8", "surrogatepass")


def is_valid_key(presented: str | None, valid_keys: Iterable[str]) -> bool:
    if not presented:
        return False
    candidate = _bytes(presented)
    matched = False
    for key in valid_keys:
        matched |= hmac.compare_digest(candidate, _bytes(key))
    return matched


def require_api_key(headers: Mapping[str, str], valid_keys: Iterable[str]) -> None:
    """Raise ``UnauthorizedError`` unless ``headers`` (case-insensitive, as Chalice's) carry a valid key."""
    if not is_valid_key(headers.get(API_KEY_HEADER), valid_keys):
        raise UnauthorizedError()
