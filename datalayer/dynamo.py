"""What every store does with DynamoDB's errors and numbers, written once.

boto raises ``ClientError`` and ``BotoCoreError``; the stores turn both into ``StoreError`` so that callers handle
one exception type per dependency. A failed condition is not an error but an answer ("someone was first"), so it
is told apart. DynamoDB numbers are ``Decimal``; the typed models want floats.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from datalayer.errors import StoreError


def error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


def is_condition_failure(exc: ClientError) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


@contextmanager
def dynamodb_errors(action: str) -> Iterator[None]:
    """Turn boto errors raised inside the block into ``StoreError`` naming ``action`` and the AWS error code."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"DynamoDB {action} failed: {error_code(exc)}") from exc


def to_item(model: BaseModel) -> dict[str, Any]:
    """A model as a DynamoDB item: one attribute per field, JSON types, floats as ``Decimal``, no nulls."""
    values = json.loads(model.model_dump_json(), parse_float=Decimal)
    return {name: value for name, value in values.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item's attributes with ``Decimal`` turned back into int or float, ready for ``model_validate``."""
    return {name: _plain(value) for name, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
