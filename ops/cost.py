"""``python -m ops cost``: what routing a ticket costs, over a period, from what the decisions recorded.

Model tokens are exact: every decision the agent tier was asked about records its tokens and their price
(``RoutingDecision.agent``). Lambda is billed by GB-second: the measured routing and agent times (recorded on
each decision) plus a fixed allowance for each invocation's calls to DynamoDB, EventBridge and SQS, times each
function's memory (``workers.limits``). The other services are counted per ticket from what the pipeline does
(``REQUESTS_PER_TICKET``, ``REQUESTS_PER_DEFERRED_TICKET``) at the list prices in ``Settings.price_*``: an
estimate of their share, stated as one.

    python -m ops cost [--since 2026-12-01] [--until 2026-12-02] [--json] [--endpoint-url URL]
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from datalayer.errors import DataLayerError
from datalayer.records import TicketRecord, TicketStatus
from datalayer.settings import Settings
from datalayer.tickets import TicketStore
from datalayer.types import DecisionTier, RoutingDecision
from ops.options import Endpoint, Stage, fail, settings_for
from workers.limits import AGENT_WORKER_MEMORY_MB, API_MEMORY_MB, WORKER_MEMORY_MB

IO_ALLOWANCE_MS = {"api": 40.0, "routing": 30.0, "agent": 60.0}
"""Time each invocation spends in DynamoDB/EventBridge/SQS calls on top of what the decision measured (the
API's whole request, which no decision measures)."""

REQUESTS_PER_TICKET = {"api": 1, "lambda": 2, "write_units": 8, "read_units": 3, "events": 2, "sqs": 3}
"""Every ticket: one API request; API and routing invocations; the ticket's put, publish mark, decision write (a
few KB) and announcement mark; the ticket, customer and outage reads; TicketReceived and TicketRouted; the
EventBridge delivery, receive and delete of its routing message."""
REQUESTS_PER_DEFERRED_TICKET = {"lambda": 1, "write_units": 10, "read_units": 3, "sqs": 3}
"""On top, for a ticket sent to the agent tier: its invocation; the provisional write, the claim, the final write
and the budget and circuit updates; the re-read of the ticket, the history query and the circuit read; the send,
receive and delete of its agent message."""

FINAL_STATUSES = (TicketStatus.ROUTED, TicketStatus.NEEDS_REVIEW, TicketStatus.AWAITING_AGENT)


@dataclass(frozen=True)
class CostReport:
    since: str
    until: str
    tickets: int
    deferred: int
    agent_decided: int
    agent_fallbacks: int
    input_tokens: int
    output_tokens: int
    model_usd: float
    lambda_usd: float
    other_usd: float

    @property
    def total_usd(self) -> float:
        return self.model_usd + self.lambda_usd + self.other_usd

    def per_ticket(self, usd: float) -> float:
        return usd / self.tickets if self.tickets else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            **asdict(self),
            "total_usd": self.total_usd,
            "per_ticket_usd": {
                "model": self.per_ticket(self.model_usd),
                "lambda": self.per_ticket(self.lambda_usd),
                "other_services": self.per_ticket(self.other_usd),
                "total": self.per_ticket(self.total_usd),
            },
        }


def cost_of(records: Iterable[TicketRecord], settings: Settings, since: datetime, until: datetime) -> CostReport:
    tickets = deferred = agent_decided = fallbacks = input_tokens = output_tokens = 0
    model_usd = gb_seconds = 0.0
    for record in records:
        if record.decision is None:
            continue
        decision = RoutingDecision.model_validate(record.decision)
        tickets += 1
        gb_seconds += _gb_seconds(API_MEMORY_MB, IO_ALLOWANCE_MS["api"])
        gb_seconds += _gb_seconds(WORKER_MEMORY_MB, decision.processing_ms + IO_ALLOWANCE_MS["routing"])
        if decision.deferred_reason is None:
            continue
        deferred += 1
        if decision.agent is not None:
            usage = decision.agent
            input_tokens, output_tokens = input_tokens + usage.input_tokens, output_tokens + usage.output_tokens
            model_usd += usage.cost_usd
            gb_seconds += _gb_seconds(AGENT_WORKER_MEMORY_MB, usage.latency_ms + IO_ALLOWANCE_MS["agent"])
            agent_decided += decision.tier is DecisionTier.AGENT
            fallbacks += usage.fallback is not None
    lambda_usd = gb_seconds * settings.price_lambda_gb_second
    other_usd = _requests_usd(REQUESTS_PER_TICKET, tickets, settings) + _requests_usd(
        REQUESTS_PER_DEFERRED_TICKET, deferred, settings
    )
    return CostReport(
        since=since.isoformat(),
        until=until.isoformat(),
        tickets=tickets,
        deferred=deferred,
        agent_decided=agent_decided,
        agent_fallbacks=fallbacks,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        model_usd=model_usd,
        lambda_usd=lambda_usd,
        other_usd=other_usd,
    )


def _gb_seconds(memory_mb: int, milliseconds: float) -> float:
    return memory_mb / 1024 * milliseconds / 1000


def _requests_usd(counts: dict[str, int], tickets: int, settings: Settings) -> float:
    prices = {
        "api": settings.price_api_request,
        "lambda": settings.price_lambda_request,
        "write_units": settings.price_dynamodb_write_unit,
        "read_units": settings.price_dynamodb_read_unit,
        "events": settings.price_event,
        "sqs": settings.price_sqs_request,
    }
    return tickets * sum(prices[name] * count for name, count in counts.items())


def report(store: TicketStore, settings: Settings, since: datetime, until: datetime) -> CostReport:
    records = (record for status in FINAL_STATUSES for record in store.received_between(status, since, until))
    return cost_of(records, settings, since, until)


def cost(
    since: Annotated[datetime | None, typer.Option(help="Start of the period, UTC (default: 24 h ago).")] = None,
    until: Annotated[datetime | None, typer.Option(help="End of the period, UTC (default: now).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")] = False,
    stage: Stage = None,
    endpoint_url: Endpoint = None,
) -> None:
    """Model tokens, Lambda GB-seconds and the other services, per ticket, for tickets received in the period."""
    end = _utc(until) if until else datetime.now(UTC)
    start = _utc(since) if since else end - timedelta(days=1)
    if start >= end:
        raise fail("--since must be before --until", 2)
    settings = settings_for(stage, endpoint_url)
    try:
        result = report(TicketStore(settings), settings, start, end)
    except DataLayerError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.as_json()))
        return
    table = Table(title=f"{result.tickets} ticket(s) received {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC")
    for column in ("", "total", "per ticket"):
        table.add_column(column, justify="right" if column else "left")
    for name, usd in (
        (f"model ({result.input_tokens:,} in / {result.output_tokens:,} out tokens)", result.model_usd),
        ("Lambda (GB-seconds)", result.lambda_usd),
        ("API Gateway, DynamoDB, EventBridge, SQS (estimate)", result.other_usd),
        ("total", result.total_usd),
    ):
        table.add_row(name, f"${usd:,.4f}", f"${result.per_ticket(usd):.6f}")
    Console().print(table)
    typer.echo(
        f"sent to the agent tier: {result.deferred} ({result.agent_decided} decided by it, "
        f"{result.agent_fallbacks} fell back to the fast decision)"
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
