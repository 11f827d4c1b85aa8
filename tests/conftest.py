"""Fixtures shared by every package that runs against in-process moto (``mock_aws``).

The resources come from ``infra.resources.provision`` (the one definition of tables, indexes, bus, rule and
queues), so these tests exercise the same layout as the local stack and AWS; each test gets a fresh mocked
account. Stores run on a fake clock, which makes "newest first" and "stuck for two minutes" deterministic
without sleeping. The packages that want this request ``moto_environment`` from an autouse fixture of their
own; the integration package runs a moto *server* instead and must not see it.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from datalayer.budget import DailyBudget
from datalayer.circuit import ProviderCircuit
from datalayer.customers import CustomerStore
from datalayer.service_status import ServiceStatusStore
from datalayer.settings import Settings, get_settings, use_settings
from datalayer.tickets import TicketStore
from infra.embedded_aws import patch_moto
from infra.resources import provision
from tests.support import API_KEY, OTHER_API_KEY, Aws, Clients, FakeClock

patch_moto()  # in-process moto too: conditional writes race as in DynamoDB (one winner), not worse; and faster


def _isolate_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no endpoint override: moto intercepts in-process, nothing may reach a real server."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_REGION", "SWITCHBOARD_ENDPOINT_URL"):
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


@pytest.fixture
def moto_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test stage with a known set of API keys, read afresh from the environment for every test."""
    _isolate_from_the_shell(monkeypatch)
    monkeypatch.setenv("SWITCHBOARD_STAGE", "test")
    monkeypatch.setenv("SWITCHBOARD_API_KEYS", f"{API_KEY}, {OTHER_API_KEY}")
    use_settings(None)
    yield
    use_settings(None)


@pytest.fixture
def settings() -> Settings:
    return get_settings()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def aws(settings: Settings, clients: Clients) -> Iterator[Aws]:
    """A fresh mocked account with the stage's resources."""
    with mock_aws():
        provisioned = provision(settings, session=clients)  # type: ignore[arg-type]
        yield Aws(settings, clients, provisioned.routing_queue_url)


@pytest.fixture
def store(aws: Aws, clock: FakeClock) -> TicketStore:
    return TicketStore(aws.settings, dynamodb_resource=aws.clients.dynamodb_resource, clock=clock)


@pytest.fixture
def customers(aws: Aws) -> CustomerStore:
    return CustomerStore(aws.settings, dynamodb_resource=aws.clients.dynamodb_resource)


@pytest.fixture
def service_status(aws: Aws, clock: FakeClock) -> ServiceStatusStore:
    return ServiceStatusStore(aws.settings, dynamodb_resource=aws.clients.dynamodb_resource, clock=clock)


@pytest.fixture
def budget(aws: Aws, clock: FakeClock) -> DailyBudget:
    settings = aws.settings.derive(agent_daily_budget_usd=1.0, agent_daily_budget_tokens=100_000)
    return DailyBudget(settings, dynamodb_resource=aws.clients.dynamodb_resource, clock=clock)


@pytest.fixture
def circuit(aws: Aws, clock: FakeClock) -> ProviderCircuit:
    settings = aws.settings.derive(agent_provider="bedrock", agent_circuit_failures=3, agent_circuit_open_s=60)
    return ProviderCircuit(settings, dynamodb_resource=aws.clients.dynamodb_resource, clock=clock)
