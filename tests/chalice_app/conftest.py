"""Fixtures for the API's tests: moto in-process with the stage's real resources, and the API as a Chalice app.

The resources come from ``infra.resources.provision`` (the one definition of tables, indexes, bus, rule and
queues), so these tests exercise the same layout as the local stack and AWS; each test gets a fresh mocked
account. The store runs on a fake clock, which makes "newest first" and "stuck for two minutes" deterministic
without sleeping.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice import Chalice
from chalice.test import Client
from moto import mock_aws

from chalice_app import deps
from chalice_app.events import EventPublisher
from chalice_app.health import HealthCheck
from chalice_app.store import TicketStore
from datalayer.settings import Settings, get_settings, use_settings
from infra.resources import provision
from tests.chalice_app.support import API_KEY, OTHER_API_KEY, Aws, Clients, FakeClock


def _isolate_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no endpoint override: moto intercepts in-process, nothing may reach a real server."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def clients() -> Clients:
    with pytest.MonkeyPatch.context() as monkeypatch:
        _isolate_from_the_shell(monkeypatch)
        session = boto3.session.Session()
        return Clients(
            dynamodb=session.client("dynamodb"),
            dynamodb_resource=session.resource("dynamodb"),
            events=session.client("events"),
            sqs=session.client("sqs"),
        )


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test stage with a known set of API keys, and no dependency left over from another test."""
    _isolate_from_the_shell(monkeypatch)
    monkeypatch.setenv("SWITCHBOARD_STAGE", "test")
    monkeypatch.setenv("SWITCHBOARD_API_KEYS", f"{API_KEY}, {OTHER_API_KEY}")
    use_settings(None)
    deps.reset_all()
    yield
    use_settings(None)
    deps.reset_all()


@pytest.fixture
def settings() -> Settings:
    return get_settings()


@pytest.fixture
def aws(settings: Settings, clients: Clients) -> Iterator[Aws]:
    """A fresh mocked account with the stage's resources; the API's publisher and health check use it."""
    with mock_aws():
        provisioned = provision(settings, session=clients)  # type: ignore[arg-type]
        deps.publisher.override(EventPublisher(settings, events_client=clients.events))
        deps.health.override(
            HealthCheck(
                settings, dynamodb_client=clients.dynamodb, events_client=clients.events, sqs_client=clients.sqs
            )
        )
        yield Aws(settings, clients, provisioned.routing_queue_url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(aws: Aws, clock: FakeClock) -> TicketStore:
    """The store the API uses in these tests (installed through ``deps``), on the fake clock."""
    ticket_store = TicketStore(aws.settings, dynamodb_resource=aws.clients.dynamodb_resource, clock=clock)
    deps.store.override(ticket_store)
    return ticket_store


@pytest.fixture(scope="session")
def app() -> Chalice:
    """The composed app of ``app.py``, which registers the API blueprint.

    Not a fresh ``Chalice`` registering ``api``: Chalice pops the route options out of a blueprint's
    registrations when it applies them, so a blueprint can be registered into one app per process only.
    """
    return importlib.import_module("app").app


@pytest.fixture
def client(app: Chalice, store: TicketStore, tmp_path: Any) -> Client:
    """Chalice's test client; a project dir without .chalice/config.json keeps the dev stage's variables out."""
    return Client(app, project_dir=str(tmp_path))
