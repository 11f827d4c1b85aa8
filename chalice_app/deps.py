"""Process-wide dependencies of the API, built on first use for the current settings, and replaceable by tests.

Lambda reuses a process across invocations, so boto clients are built once per container rather than per
request, and only when a route first needs them (``GET /openapi.json`` never does). A dependency is rebuilt when
the process's settings object changes (``datalayer.settings.use_settings``, as the local stack does), so nothing
outside the API has to know these exist. Tests swap an instance in with ``override`` and restore with
``reset_all``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from chalice_app.health import HealthCheck
from datalayer.journal import ticket_store
from datalayer.metrics import PIPELINE, PowertoolsMetrics
from datalayer.publisher import EventPublisher
from datalayer.secrets import SecretError, SecretReader
from datalayer.settings import Settings, get_settings
from datalayer.tickets import TicketStore

T = TypeVar("T")


class Provider(Generic[T]):
    """A lazily built singleton per settings object, with a seam for tests."""

    def __init__(self, factory: Callable[[Settings], T]) -> None:
        self._factory = factory
        self._instance: T | None = None
        self._built_for: Settings | None = None
        self._overridden = False

    def get(self) -> T:
        settings = get_settings()
        if self._instance is None or (not self._overridden and self._built_for is not settings):
            self._instance, self._built_for = self._factory(settings), settings
        return self._instance

    def override(self, instance: T) -> None:
        self._instance, self._overridden = instance, True

    def reset(self) -> None:
        self._instance, self._built_for, self._overridden = None, None, False


class WebhookSigningSecret:
    """The ticketing webhook's signing secret: the setting when given (local stack), else the
    ``webhook_signing_secret`` field of the ticketing credentials in Secrets Manager (deployed stages)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._secrets = SecretReader(settings)

    def value(self) -> str | None:
        if self._settings.ticketing_webhook_secret is not None:
            return self._settings.ticketing_webhook_secret.get_secret_value()
        try:
            value = self._secrets.get(self._settings.ticketing_secret).get("webhook_signing_secret")
        except SecretError:
            return None  # not configured: every webhook is refused (closed, not open)
        return value if isinstance(value, str) else None


store: Provider[TicketStore] = Provider(ticket_store)
publisher: Provider[EventPublisher] = Provider(EventPublisher)
health: Provider[HealthCheck] = Provider(HealthCheck)
webhook_secret: Provider[WebhookSigningSecret] = Provider(WebhookSigningSecret)
metrics: Provider[PowertoolsMetrics] = Provider(lambda _settings: PowertoolsMetrics(service=PIPELINE))


def reset_all() -> None:
    """Forget every instance and override."""
    for provider in (store, publisher, health, webhook_secret, metrics):
        provider.reset()
