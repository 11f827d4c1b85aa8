"""In-process moto for the resource tests: fast, and independent of any server."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from datalayer.settings import Settings


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: downloads Lambda wheels; runs only with SWITCHBOARD_SLOW_TESTS=1")


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.session.Session()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def sqs(session: boto3.session.Session) -> object:
    return session.client("sqs", region_name="us-east-1")
