"""The stuck-ticket sweep: republishes what stayed ``received`` too long, leaves everything else alone."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from chalice.test import Client

from datalayer.publisher import EventPublisher
from datalayer.settings import Settings
from datalayer.tickets import TicketStore
from datalayer.types import Ticket
from tests.factories import make_decision
from tests.support import Aws, BrokenEvents, FakeClock, ticket_payload
from workers.sweep import SweepReport, republish_stuck


def working(aws: Aws) -> EventPublisher:
    return EventPublisher(aws.settings, events_client=aws.clients.events)


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [event["detail"]["ticket"]["ticket_id"] for event in events]


def submit(store: TicketStore, publisher: EventPublisher | None, ticket_id: str) -> None:
    """What ``POST /tickets`` does: store, then publish and mark published (no publisher: the 503 case)."""
    ticket = Ticket.model_validate(ticket_payload(ticket_id))
    store.create_if_absent(ticket)
    if publisher is not None:
        publisher.publish_received(ticket)
        store.mark_published(ticket_id)


def test_republishes_an_unpublished_ticket(aws: Aws, store: TicketStore, clock: FakeClock, settings: Settings) -> None:
    submit(store, None, "TCK-1")  # stored, but its event was refused: the client got a 503 and gave up
    clock.advance(settings.stuck_after_seconds)

    report = republish_stuck(store, working(aws), settings)

    assert report == SweepReport(examined=1, republished=1, given_up=0, stopped_on_error=False)
    assert ids(aws.received_events()) == ["TCK-1"]
    record = store.get("TCK-1")
    assert record is not None and record.published and record.publish_count == 1


def test_republishes_a_published_ticket_that_was_never_routed(
    aws: Aws, store: TicketStore, clock: FakeClock, settings: Settings
) -> None:
    submit(store, working(aws), "TCK-LOST")
    aws.received_events()  # the message is lost
    clock.advance(settings.stuck_after_seconds)

    republish_stuck(store, working(aws), settings)

    assert ids(aws.received_events()) == ["TCK-LOST"]
    record = store.get("TCK-LOST")
    assert record is not None and record.publish_count == 2


def test_leaves_fresh_routed_and_just_republished_tickets_alone(
    aws: Aws, store: TicketStore, clock: FakeClock, settings: Settings
) -> None:
    submit(store, working(aws), "TCK-ROUTED")
    assert store.record_decision("TCK-ROUTED", make_decision("TCK-ROUTED"), "routed", announce_within_s=30)
    submit(store, working(aws), "TCK-OLD")
    clock.advance(settings.stuck_after_seconds)
    submit(store, working(aws), "TCK-FRESH")
    aws.received_events()

    first = republish_stuck(store, working(aws), settings)
    second = republish_stuck(store, working(aws), settings)  # the worker gets a full period

    assert first.republished == 1 and second.examined == 0
    assert ids(aws.received_events()) == ["TCK-OLD"]


def test_gives_up_after_max_publish_attempts(
    aws: Aws, store: TicketStore, clock: FakeClock, settings: Settings
) -> None:
    submit(store, working(aws), "TCK-POISON")  # the first publication
    for _ in range(settings.max_publish_attempts - 1):
        clock.advance(settings.stuck_after_seconds)
        republish_stuck(store, working(aws), settings)
    aws.received_events()

    clock.advance(settings.stuck_after_seconds)
    report = republish_stuck(store, working(aws), settings)

    assert report.given_up == 1 and report.republished == 0
    assert aws.received_events() == []
    record = store.get("TCK-POISON")
    assert record is not None and record.status == "failed" and "not routed" in (record.failure_reason or "")


def test_stops_at_the_first_publish_failure(
    aws: Aws, store: TicketStore, clock: FakeClock, settings: Settings
) -> None:
    for n in range(3):
        submit(store, working(aws), f"TCK-{n}")
    clock.advance(settings.stuck_after_seconds)

    report = republish_stuck(store, EventPublisher(settings, events_client=BrokenEvents()), settings)

    assert report == SweepReport(examined=3, republished=0, given_up=0, stopped_on_error=True)


@pytest.fixture
def app() -> Any:
    return importlib.import_module("app").app


def test_runs_every_minute_as_a_scheduled_lambda(aws: Aws, store: TicketStore, app: Any, tmp_path: Any) -> None:
    """The deployed entry point, with the production wiring from the settings (the store's fake clock stands in
    the past, so the ticket is long stuck by the real clock the scheduled Lambda uses)."""
    [schedule] = [source for source in app.event_sources if source.name == "sweep_stuck_tickets"]
    assert schedule.schedule_expression.to_string() == "rate(1 minute)"
    submit(store, working(aws), "TCK-SCHEDULED")
    aws.received_events()

    with Client(app, project_dir=str(tmp_path)) as client:
        event = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [], region="us-east-1")
        client.lambda_.invoke("sweep_stuck_tickets", event)

    assert ids(aws.received_events()) == ["TCK-SCHEDULED"]
