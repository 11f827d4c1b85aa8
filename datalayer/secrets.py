"""Secrets (the ticketing system's credentials, the model provider's key) read from Secrets Manager at run time.

Never from environment variables or files in the package: a secret rotates without a deployment. Each value is
cached for the life of the process and re-read on demand (``refresh``), which is what a client does when the
other side answers 401 because the secret was rotated. Locally the stack stores them in moto's Secrets Manager.
"""

from __future__ import annotations

import json
import threading
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from datalayer import aws
from datalayer.errors import DataLayerError
from datalayer.settings import Settings


class SecretError(DataLayerError):
    """The secret is missing, unreadable, or not the JSON object it should be."""


class SecretReader:
    def __init__(self, settings: Settings, secrets_client: Any = None) -> None:
        self._settings = settings
        self._client_override = secrets_client
        self._cache: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    @cached_property
    def _client(self) -> Any:
        return (
            self._client_override if self._client_override is not None else aws.client("secretsmanager", self._settings)
        )

    def get(self, name: str) -> dict[str, Any]:
        """The secret ``name`` as a JSON object, from the cache when it was read before."""
        with self._lock:
            cached = self._cache.get(name)
        return cached if cached is not None else self.refresh(name)

    def refresh(self, name: str) -> dict[str, Any]:
        """Read ``name`` again (it may have been rotated) and cache it."""
        try:
            raw = self._client.get_secret_value(SecretId=name)["SecretString"]
        except (ClientError, BotoCoreError, KeyError) as exc:
            raise SecretError(f"secret {name} unreadable: {type(exc).__name__}") from exc
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise SecretError(f"secret {name} is not JSON") from exc
        if not isinstance(value, dict):
            raise SecretError(f"secret {name} is not a JSON object")
        with self._lock:
            self._cache[name] = value
        return value

    def put(self, name: str, value: dict[str, Any]) -> None:
        """Create or replace ``name`` (the local stack seeds its secrets; operators rotate with their own tools)."""
        body = json.dumps(value)
        try:
            try:
                self._client.put_secret_value(SecretId=name, SecretString=body)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
                self._client.create_secret(Name=name, SecretString=body)
        except (ClientError, BotoCoreError) as exc:
            raise SecretError(f"secret {name} not written: {type(exc).__name__}") from exc
        with self._lock:
            self._cache.pop(name, None)
