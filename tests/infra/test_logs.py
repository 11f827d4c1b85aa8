"""The local stack's terminal logs: a failure is one line, its traceback only with ``--debug``."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Logger
from rich.console import Console

from infra import logs


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _failures(tracebacks: bool) -> str:
    """What the terminal shows for a worker's and a poller's failure."""
    screen = io.StringIO()
    logging.getLogger().handlers[:] = []
    worker = Logger(service=f"test-worker-{uuid.uuid4().hex}")
    logs.install(Console(file=screen, width=200), tracebacks=tracebacks)
    poller = logging.getLogger(f"test.poller.{uuid.uuid4().hex}")
    for log in (worker, poller):
        try:
            raise ConnectionError("could not connect to the endpoint")
        except ConnectionError:
            log.exception("ticket failed")
    return screen.getvalue()


@pytest.mark.usefixtures("restore_root")
def test_a_failure_is_one_line_that_names_the_error() -> None:
    shown = _failures(tracebacks=False)
    assert "Traceback" not in shown and "stack_trace" not in shown, shown
    lines = [line for line in shown.splitlines() if "ticket failed" in line]
    assert len(lines) == 2 and all("ConnectionError: could not connect to the endpoint" in line for line in lines)


@pytest.mark.usefixtures("restore_root")
def test_debug_shows_the_tracebacks() -> None:
    shown = _failures(tracebacks=True)
    assert shown.count("Traceback (most recent call last)") == 2, shown
