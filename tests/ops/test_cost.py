"""``python -m ops cost``: cost per ticket from what decisions recorded, over a period."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from datalayer.records import TicketStatus
from datalayer.tickets import TicketStore
from datalayer.types import AgentUsage, DecisionTier, FallbackCause, Ticket
from ops.cli import app
from ops.cost import REQUESTS_PER_DEFERRED_TICKET, REQUESTS_PER_TICKET, report
from tests.factories import make_decision
from tests.support import Aws, FakeClock, ticket_payload


def decide(store: TicketStore, ticket_id: str, *, agent: AgentUsage | None = None, tier=DecisionTier.LOCAL) -> None:
    store.create_if_absent(Ticket.model_validate(ticket_payload(ticket_id)))
    decision = make_decision(ticket_id).model_copy(
        update={"processing_ms": 10.0, "agent": agent, "tier": tier, "deferred_reason": "unsure" if agent else None}
    )
    store.record_decision(ticket_id, decision, TicketStatus.ROUTED, announce_within_s=30)


@pytest.fixture
def period(store: TicketStore, clock: FakeClock) -> tuple[datetime, datetime]:
    start = clock.now
    decide(store, "T-LOCAL")
    decide(
        store,
        "T-AGENT",
        tier=DecisionTier.AGENT,
        agent=AgentUsage(
            provider="bedrock",
            model_id="m",
            input_tokens=1200,
            output_tokens=150,
            cost_usd=0.00195,
            latency_ms=900.0,
            model_calls=1,
        ),
    )
    decide(
        store,
        "T-FELL-BACK",
        agent=AgentUsage(provider="bedrock", model_id="m", fallback=FallbackCause.THROTTLED, latency_ms=100.0),
    )
    return start, clock.now + timedelta(seconds=1)


def test_model_cost_is_summed_exactly_and_the_rest_estimated(store: TicketStore, aws: Aws, period) -> None:
    since, until = period
    result = report(store, aws.settings, since, until)

    assert (result.tickets, result.deferred, result.agent_decided, result.agent_fallbacks) == (3, 2, 1, 1)
    assert (result.input_tokens, result.output_tokens) == (1200, 150)
    assert result.model_usd == pytest.approx(0.00195)
    settings = aws.settings
    per_ticket = (
        REQUESTS_PER_TICKET["api"] * settings.price_api_request + REQUESTS_PER_TICKET["events"] * settings.price_event
    )
    assert result.other_usd > 3 * per_ticket
    assert result.other_usd > 2 * REQUESTS_PER_DEFERRED_TICKET["sqs"] * settings.price_sqs_request
    assert 0 < result.lambda_usd < 0.001
    assert result.per_ticket(result.total_usd) == pytest.approx(result.total_usd / 3)


def test_tickets_outside_the_period_are_left_out(store: TicketStore, aws: Aws, period) -> None:
    since, _ = period
    assert report(store, aws.settings, since - timedelta(days=2), since).tickets == 0


def test_the_command_prints_a_table_or_json(aws: Aws, period) -> None:
    since, until = period
    runner = CliRunner()
    window = ["--since", since.strftime("%Y-%m-%dT%H:%M:%S"), "--until", until.strftime("%Y-%m-%dT%H:%M:%S")]

    as_json = runner.invoke(app, ["cost", *window, "--json"])
    as_table = runner.invoke(app, ["cost", *window])
    backwards = runner.invoke(app, ["cost", "--since", "2026-12-02", "--until", "2026-12-01"])

    assert as_json.exit_code == 0, as_json.output
    figures = json.loads(as_json.output)
    assert figures["tickets"] == 3 and figures["per_ticket_usd"]["model"] == pytest.approx(0.00065)
    assert as_table.exit_code == 0 and "per ticket" in as_table.output and "1 decided by it" in as_table.output
    assert backwards.exit_code == 2 and "--since must be before --until" in backwards.output
