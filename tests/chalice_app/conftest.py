"""Fixtures for the API's tests: the API as a Chalice app over in-process moto (tests/conftest.py).

The API reaches its store, publisher and health check through ``chalice_app.deps``; each test installs the
moto-backed ones there, on the fake clock.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from chalice import Chalice
from chalice.test import Client

from chalice_app import deps
from chalice_app.health import HealthCheck
from datalayer.publisher import EventPublisher
from datalayer.tickets import TicketStore
from tests.support import Aws


@pytest.fixture(autouse=True)
def environment(moto_environment: None) -> Iterator[None]:
    """No dependency left over from another test."""
    deps.reset_all()
    yield
    deps.reset_all()


@pytest.fixture
def api_aws(aws: Aws) -> Aws:
    """The mocked account, with the API's publisher and health check built on its clients."""
    clients = aws.clients
    deps.publisher.override(EventPublisher(aws.settings, events_client=clients.events))
    health = HealthCheck(
        aws.settings, dynamodb_client=clients.dynamodb, events_client=clients.events, sqs_client=clients.sqs
    )
    deps.health.override(health)
    return aws


@pytest.fixture
def api_store(api_aws: Aws, store: TicketStore) -> TicketStore:
    """The store the API uses in these tests (installed through ``deps``), on the fake clock."""
    deps.store.override(store)
    return store


@pytest.fixture(scope="session")
def app() -> Chalice:
    """The composed app of ``app.py``, which registers the API blueprint.

    Not a fresh ``Chalice`` registering ``api``: Chalice pops the route options out of a blueprint's
    registrations when it applies them, so a blueprint can be registered into one app per process only.
    """
    return importlib.import_module("app").app


@pytest.fixture
def client(app: Chalice, api_store: TicketStore, tmp_path: Any) -> Client:
    """Chalice's test client; a project dir without .chalice/config.json keeps the dev stage's variables out."""
    return Client(app, project_dir=str(tmp_path))
