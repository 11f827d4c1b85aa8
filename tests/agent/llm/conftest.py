"""The agent tier's tests: fake AWS credentials (nothing reaches AWS), the telecom and a made-up taxonomy, tickets.

Bedrock is reached through botocore's Stubber on the real client or through a local HTTP server (``fake_http``);
the stores run on in-process moto (fixtures in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.taxonomy import Taxonomy, load_taxonomy
from datalayer.settings import Settings
from tests.agent.llm.fake_http import ScriptedServer, scripted_server

THREE_TEAMS = Path(__file__).resolve().parents[2] / "fixtures" / "three_team_taxonomy.json"


@pytest.fixture(autouse=True)
def _moto(moto_environment: None) -> None:
    """The test stage with fake credentials, so that no test can sign a request for real AWS."""


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="session")
def three_teams() -> Taxonomy:
    return load_taxonomy(THREE_TEAMS)


@pytest.fixture
def agent_settings(settings: Settings) -> Settings:
    """The test stage configured for Bedrock, with the defaults of every other agent setting."""
    return settings.derive(agent_provider="bedrock")


@pytest.fixture
def http_server() -> Iterator[ScriptedServer]:
    """A scripted HTTP server on 127.0.0.1 (see fake_http)."""
    with scripted_server() as server:
        yield server
