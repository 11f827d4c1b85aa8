"""The operator command line: one typer app, a sub-command group per concern.

Every command reaches the stage's resources through the data layer's settings: ``--endpoint-url`` (or
``AWS_ENDPOINT_URL``) points it at the local stack's embedded AWS, which needs no credentials; without it the
usual AWS credential chain applies.
"""

from __future__ import annotations

import typer

from ops import cost, outages

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Switchboard operator commands.")
app.add_typer(outages.app, name="outage")
app.command(name="cost")(cost.cost)
