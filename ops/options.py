"""What every operator command shares: the stage and endpoint options, and how a command fails.

A command fails with one line on stderr, never a traceback: ``one_line_errors`` turns what boto3 and the data layer
raise into a sentence that says what to do (start the local stack, log in to AWS, deploy the data stack). The
global ``--debug`` (``switchboard --debug dlq …``) lets the exception through instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from urllib.parse import urlsplit

import typer
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from rich.console import Console

from datalayer.settings import Settings, get_settings

Stage = Annotated[str | None, typer.Option(help="Stage to work on (default: SWITCHBOARD_STAGE, else dev).")]
Endpoint = Annotated[
    str | None, typer.Option(help="Embedded AWS to talk to, e.g. the local stack's moto URL (default: AWS).")
]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def settings_for(stage: str | None, endpoint_url: str | None) -> Settings:
    """The process's settings, moved to ``stage`` and ``endpoint_url`` when given."""
    changes = {name: value for name, value in (("stage", stage), ("endpoint_url", endpoint_url)) if value}
    return get_settings().derive(**changes) if changes else get_settings()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr; raise the returned ``typer.Exit`` to end the command with ``code``."""
    Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def debugging(ctx: typer.Context) -> bool:
    """Whether the global ``--debug`` was given."""
    return bool(ctx.find_root().params.get("debug"))


@contextmanager
def one_line_errors(ctx: typer.Context) -> Iterator[None]:
    """Any error inside becomes one line on stderr and exit status 1 (unless ``--debug``)."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):  # typer's own ways out (BadParameter is one)
        raise
    except Exception as exc:
        if debugging(ctx):
            raise
        raise fail(describe(exc)) from None


def describe(exc: Exception) -> str:
    """What went wrong and what to do, in one line."""
    if isinstance(exc, EndpointConnectionError):
        url = str(exc.kwargs.get("endpoint_url", ""))
        if urlsplit(url).hostname in LOOPBACK:
            return f"nothing answers at {url}: is the local stack running? (make run prints its moto URL)"
        return f"cannot reach {url}: check the network and the region"
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return f"AWS did not answer in time: {exc}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ("no AWS credentials: log in with the stage's (AWS_PROFILE, aws sso login), or give the local "
                "stack's --endpoint-url")
    if isinstance(exc, NoRegionError):
        return "no AWS region: set AWS_REGION (or SWITCHBOARD_REGION)"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        hint = " (credentials expired: log in again)" if "Expired" in str(code) else ""
        return f"AWS refused {exc.operation_name}: {code}: {message}{hint}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    known = getattr(exc, "__module__", "").startswith(("ops.", "datalayer."))
    return text if known else f"{type(exc).__name__}: {text} (--debug shows the traceback)"
