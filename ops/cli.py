"""The operator command line (``switchboard …``, or ``python -m ops …``): one typer app, a sub-command group per
concern.

Every command reaches the stage's resources through the data layer's settings: ``--endpoint-url`` (or
``AWS_ENDPOINT_URL``) points it at the local stack's embedded AWS, which needs no credentials; without it the
usual AWS credential chain applies. Errors are one line; ``--debug`` (before the command) shows the traceback.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ops import cost, dlq, outages

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Switchboard operator commands.")
app.add_typer(outages.app, name="outage")
app.add_typer(dlq.app, name="dlq")
app.command(name="cost")(cost.cost)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="On an error, show the traceback, not one line.")] = False,
) -> None:
    """Switchboard operator commands."""
