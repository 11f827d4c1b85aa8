"""The local ticketing server (``infra.ticketing_server``) and a Zendesk adapter pointed at it, with its
credentials in the mocked account's Secrets Manager."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from datalayer.secrets import SecretReader
from infra.ticketing_server import LocalTicketingServer
from tests.support import Aws
from workers.ticketing.zendesk import ZendeskTicketing

GROUPS = {"Network Operations": 101, "Billing Support": 102, "Technical Support": 103, "Account Management": 104}
CLIENT_TIMEOUT_S = 1.0
"""The adapter's timeout in these tests: a hung server is given up on quickly."""


@pytest.fixture
def server() -> Iterator[LocalTicketingServer]:
    with LocalTicketingServer() as running:
        yield running


@pytest.fixture
def secrets(aws: Aws, server: LocalTicketingServer) -> SecretReader:
    reader = SecretReader(aws.settings)
    reader.put(aws.settings.ticketing_secret, server.credentials)
    return reader


@pytest.fixture
def zendesk(aws: Aws, server: LocalTicketingServer, secrets: SecretReader) -> Iterator[ZendeskTicketing]:
    adapter = ZendeskTicketing(
        server.url, secrets, aws.settings.ticketing_secret, GROUPS, timeout_s=CLIENT_TIMEOUT_S
    )
    yield adapter
    adapter.close()
