"""``python -m ops outage …``: declare, end and list network outages, the routing brain's service-status source.

While an outage is active, every ticket from a customer in its region (every customer, for a nationwide one) is
routed knowing about it: the priority rises and the decision's reasons name the outage.

    python -m ops outage declare OUT-42 --region "Los Angeles" --service internet --customers 1200
    python -m ops outage end OUT-42 --region "Los Angeles"
    python -m ops outage list [--region "Los Angeles"] [--json]
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from datalayer.errors import DataLayerError
from datalayer.service_status import ServiceStatusStore
from datalayer.types import EVERYWHERE, Outage, ServiceHealth
from ops.options import Endpoint, Stage, fail, settings_for

app = typer.Typer(no_args_is_help=True, help="Network outages that routing takes into account.")

Region = Annotated[str, typer.Option(help=f"Service area of the outage; {EVERYWHERE!r} for nationwide.")]


def _store(stage: str | None, endpoint_url: str | None) -> ServiceStatusStore:
    return ServiceStatusStore(settings_for(stage, endpoint_url))


@app.command()
def declare(
    outage_id: Annotated[str, typer.Argument(help="Incident id, e.g. OUT-42.")],
    region: Region = EVERYWHERE,
    service: Annotated[str, typer.Option(help="Affected service: internet, tv, phone, mobile, …")] = "internet",
    impact: Annotated[ServiceHealth, typer.Option(help="outage or degraded.")] = ServiceHealth.OUTAGE,
    customers: Annotated[int, typer.Option(help="Customers affected, if known.")] = 0,
    description: Annotated[str, typer.Option(help="What is known, for the agents who read the decision.")] = "",
    started_at: Annotated[datetime | None, typer.Option(help="When it started (default: now).")] = None,
    stage: Stage = None,
    endpoint_url: Endpoint = None,
) -> None:
    """Declare an outage (or update one declared before under the same id and region)."""
    try:
        outage = Outage(
            outage_id=outage_id,
            region=region,
            service=service,
            impact=impact,
            customers_affected=customers,
            description=description,
            started_at=started_at,
        )
        stored = _store(stage, endpoint_url).declare(outage)
    except ValidationError as exc:
        raise fail(_first_error(exc), 2) from None
    except DataLayerError as exc:
        raise fail(str(exc)) from None
    since = f"{stored.started_at:%Y-%m-%d %H:%M} UTC" if stored.started_at else "now"
    typer.echo(f"declared {stored.outage_id}: {stored.impact} of {stored.service} {stored.where} since {since}")


@app.command()
def end(
    outage_id: Annotated[str, typer.Argument(help="Incident id given to declare.")],
    region: Region = EVERYWHERE,
    at: Annotated[datetime | None, typer.Option(help="When it ended (default: now).")] = None,
    stage: Stage = None,
    endpoint_url: Endpoint = None,
) -> None:
    """Mark an outage over: tickets routed from now on no longer see it."""
    try:
        ended = _store(stage, endpoint_url).end(region, outage_id, at)
    except ValidationError as exc:
        raise fail(_first_error(exc), 2) from None
    except DataLayerError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"ended {ended.outage_id} {ended.where} at {ended.ended_at:%Y-%m-%d %H:%M} UTC")


@app.command("list")
def list_outages(
    region: Annotated[str | None, typer.Option(help="Only this region (default: every region seen).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array, for scripts.")] = False,
    stage: Stage = None,
    endpoint_url: Endpoint = None,
) -> None:
    """Outages recorded for a region (nationwide ones with --region '*'), active and ended."""
    try:
        store = _store(stage, endpoint_url)
        outages = store.outages(region) if region else store.all_outages()
    except DataLayerError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps([outage.model_dump(mode="json") for outage in outages]))
        return
    table = Table(title=f"{len(outages)} outage(s)")
    for column in ("id", "region", "service", "impact", "started", "ended", "customers"):
        table.add_column(column)
    for outage in outages:
        table.add_row(
            outage.outage_id,
            outage.region,
            outage.service,
            outage.impact.value,
            f"{outage.started_at:%Y-%m-%d %H:%M}" if outage.started_at else "-",
            f"{outage.ended_at:%Y-%m-%d %H:%M}" if outage.ended_at else "active",
            f"{outage.customers_affected:,}" if outage.customers_affected else "-",
        )
    Console().print(table)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]
