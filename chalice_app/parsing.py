"""Turning untrusted request input into typed values, or into the right 4xx.

The checks run cheapest first (size, then JSON syntax, then schema), so that the status says what
is wrong: 413, 400 for text that is not JSON, 422 for JSON that is not a ticket. Error details never echo
the input: a 60 KB description in a 422 would just be sent back to the client that sent it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from chalice_app.errors import (
    InvalidQueryError,
    MalformedJsonError,
    PayloadTooLargeError,
    RequestValidationError,
)
from chalice_app.models import ListTicketsQuery
from datalayer.types import Ticket

MAX_LISTED_ERRORS = 20
_MAX_DETAIL_CHARS = 200


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_DETAIL_CHARS:
        return value[:_MAX_DETAIL_CHARS] + "…"
    return value


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as JSON: location, type and message, without the offending input."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    return [
        {"loc": [_clip(part) for part in error["loc"]], "type": error["type"], "msg": _clip(error["msg"])}
        for error in errors[:MAX_LISTED_ERRORS]
    ]


def _problem_count(exc: ValidationError) -> str:
    count = exc.error_count()
    shown = f"; the first {MAX_LISTED_ERRORS} are listed" if count > MAX_LISTED_ERRORS else ""
    return f"{count} problem{'s' if count != 1 else ''}{shown}"


def parse_ticket(raw_body: bytes, max_bytes: int) -> Ticket:
    if len(raw_body) > max_bytes:
        raise PayloadTooLargeError(
            f"The body is {len(raw_body)} bytes; the limit is {max_bytes}.", details={"max_bytes": max_bytes}
        )
    try:
        text = raw_body.decode("utf-8")
        json.loads(text)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise MalformedJsonError(details={"reason": _clip(str(exc))}) from exc
    try:
        # strict JSON mode: a timestamp must be an RFC 3339 string, as the OpenAPI schema says, not a number
        return Ticket.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise RequestValidationError(
            f"The ticket does not match the schema: {_problem_count(exc)}.", details=validation_details(exc)
        ) from exc


def parse_list_query(params: Any) -> ListTicketsQuery:
    try:
        return ListTicketsQuery.from_params(params)
    except ValidationError as exc:
        raise InvalidQueryError(
            f"The query string is invalid: {_problem_count(exc)}.", details=validation_details(exc)
        ) from exc
