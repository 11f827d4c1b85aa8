"""One correlation id per ticket, from the API request that brought it in to the ticketing system's update.

The API takes the caller's ``X-Correlation-Id`` when it is a plausible id, else API Gateway's request id (a fresh
UUID on the local server), answers with it in the same header, logs it on every line of the request and stores it
on the ticket; the events and messages about the ticket carry it from there (``datalayer.events``), and every
worker logs it, so one search finds a ticket's whole path.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from typing import Any

CORRELATION_HEADER = "X-Correlation-Id"
_PLAUSIBLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def from_request(headers: Any, context: dict[str, Any]) -> str:
    """The caller's id when it is one, else the gateway's request id, else a new one."""
    presented = headers.get(CORRELATION_HEADER.lower()) if headers is not None else None
    if isinstance(presented, str) and _PLAUSIBLE.match(presented):
        return presented
    request_id = context.get("requestId")
    return request_id if isinstance(request_id, str) and _PLAUSIBLE.match(request_id) else uuid.uuid4().hex


def current() -> str | None:
    """The id of the request being handled (None outside a request)."""
    return _current.get()


def bind(correlation_id: str | None) -> Any:
    """Make ``correlation_id`` the current one; returns the token ``unbind`` takes."""
    return _current.set(correlation_id)


def unbind(token: Any) -> None:
    _current.reset(token)
