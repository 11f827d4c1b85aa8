"""What every operator command shares: the stage and endpoint options, and how a command fails."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from datalayer.settings import Settings, get_settings

Stage = Annotated[str | None, typer.Option(help="Stage to work on (default: SWITCHBOARD_STAGE, else dev).")]
Endpoint = Annotated[
    str | None, typer.Option(help="Embedded AWS to talk to, e.g. the local stack's moto URL (default: AWS).")
]


def settings_for(stage: str | None, endpoint_url: str | None) -> Settings:
    """The process's settings, moved to ``stage`` and ``endpoint_url`` when given."""
    changes = {name: value for name, value in (("stage", stage), ("endpoint_url", endpoint_url)) if value}
    return get_settings().derive(**changes) if changes else get_settings()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr; raise the returned ``typer.Exit`` to end the command with ``code``."""
    Console(stderr=True).print(f"[red]error:[/] {message}", highlight=False)
    return typer.Exit(code)
