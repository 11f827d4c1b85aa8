"""Process-wide dependencies of the API, built on first use and replaceable by tests.

Lambda reuses a process across invocations, so boto clients are built once per container rather than
per request, and only when a route first needs them (``GET /openapi.json`` never does). Tests swap an
instance in with ``override`` (e.g. a publisher whose put_events fails) and restore with ``reset_all``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from chalice_app.events import EventPublisher
from chalice_app.health import HealthCheck
from chalice_app.store import TicketStore
from datalayer.settings import get_settings

T = TypeVar("T")


class Provider(Generic[T]):
    """A lazily built singleton with a seam for tests."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._instance: T | None = None

    def get(self) -> T:
        if self._instance is None:
            self._instance = self._factory()
        return self._instance

    def override(self, instance: T) -> None:
        self._instance = instance

    def reset(self) -> None:
        self._instance = None


store: Provider[TicketStore] = Provider(lambda: TicketStore(get_settings()))
publisher: Provider[EventPublisher] = Provider(lambda: EventPublisher(get_settings()))
health: Provider[HealthCheck] = Provider(lambda: HealthCheck(get_settings()))


def reset_all() -> None:
    """Forget every instance, e.g. after the settings or the mocked AWS account changed."""
    for provider in (store, publisher, health):
        provider.reset()
