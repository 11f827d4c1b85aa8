"""Prompts and completions carry customer text, so they must never reach a log: this module keeps them out.

Our own modules log no ticket text, prompt or answer. The libraries under the agent do, at DEBUG and WARNING:
strands logs every formatted request (``request=<...>``), every tool input, and at WARNING up to 200 characters
of a tool input it could not parse; the openai SDK logs each request's JSON body; botocore logs the Converse
request body (``botocore.endpoint``) and the raw response (``botocore.parsers``). Hence:

* strands and the openai SDK serve only the agent in our processes, so their loggers are raised to ERROR and
  WARNING (``quiet_model_libraries``, called by ``RoutingAgent``). ERROR records carry exception types and tool
  names, not content.
* botocore serves the stores too, so its two body-logging loggers get a filter that drops records only while an
  agent run is in progress (``model_traffic``); DynamoDB debug logging works as before. The filter follows the
  run into strands' worker threads because strands copies the context into them.

OpenTelemetry spans made by strands do carry the messages; they go nowhere unless a tracer provider is set up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

QUIETED_LEVELS = {"strands": logging.ERROR, "openai": logging.WARNING}
"""Loggers of libraries that only the agent uses, and the least severe level they may still log at."""
BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers")
"""botocore's loggers that write request and response bodies at DEBUG."""

_model_traffic: ContextVar[bool] = ContextVar("model_traffic", default=False)


class _DropDuringModelTraffic(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _model_traffic.get()


_FILTER = _DropDuringModelTraffic()


def quiet_model_libraries() -> None:
    """Raise the agent-only libraries' loggers and filter botocore's body loggers (idempotent)."""
    for name, level in QUIETED_LEVELS.items():
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), level))
    for name in BODY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


@contextmanager
def model_traffic() -> Iterator[None]:
    """Within this block (and the threads it starts with a copy of its context) botocore logs no bodies."""
    token = _model_traffic.set(True)
    try:
        yield
    finally:
        _model_traffic.reset(token)
