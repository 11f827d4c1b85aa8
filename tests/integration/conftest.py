"""One local stack (moto server on a free port, API server, pollers) for the integration package.

Package scope rather than session scope: the stack sets AWS_ENDPOINT_URL for its lifetime, and other test
packages (in-process ``mock_aws``) must not run while it is set. The queue's visibility timeout is 1 s so
that a message's five deliveries take seconds instead of fifteen minutes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local import LocalStack, StackOptions

pytestmark = pytest.mark.integration


@pytest.fixture(scope="package")
def stack() -> Iterator[LocalStack]:
    options = StackOptions(port=0, workers=2, keyword_router=True, visibility_timeout_s=1, sweep_every_s=3600)
    with LocalStack(options) as running:
        yield running
