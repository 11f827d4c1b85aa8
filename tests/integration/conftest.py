"""One local stack (moto server on a free port, API server, pollers) for the integration package.

Package scope rather than session scope: the stack makes its settings (moto's endpoint) the process's for its
lifetime, and other test packages (in-process ``mock_aws``) must not run while they are. The queues' visibility
timeout is 1 s so that a message's five deliveries take seconds instead of fifteen minutes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.llm_stub import StubServer
from infra.local import LocalStack, StackOptions

pytestmark = pytest.mark.integration


@pytest.fixture(scope="package")
def llm() -> Iterator[StubServer]:
    """The agent tier's model: the OpenAI-compatible test endpoint, a little slow so that waiting can be seen."""
    with StubServer(delay_s=0.3) as server:
        yield server


@pytest.fixture(scope="package")
def stack(llm: StubServer) -> Iterator[LocalStack]:
    """The keyword router (no thresholds: unsure below 70 %) under the cascade, with the agent tier on."""
    agent = {
        "routing_policy": "cascade",
        "agent_provider": "openai",
        "agent_base_url": llm.url,
        "agent_model_id": "switchboard-stub",
        "agent_api_key": "local-test-key",
    }
    options = StackOptions(
        port=0, workers=2, keyword_router=True, visibility_timeout_s=1, sweep_every_s=3600, settings=agent
    )
    with LocalStack(options) as running:
        yield running
