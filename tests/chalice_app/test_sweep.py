"""The stuck-ticket sweep: republishes what stayed ``received`` too long, leaves everything else alone."""

from __future__ import annotations

from typing import Any

from chalice_app import deps
from chalice_app.events import EventPublisher
from chalice_app.store import TicketStore
from chalice_app.sweep import SweepReport, republish_stuck
from datalayer.settings import Settings
from tests.chalice_app.support import Aws, BrokenEvents, FakeClock, post_ticket, ticket_payload
from tests.factories import make_decision


def working(aws: Aws) -> EventPublisher:
    return EventPublisher(aws.settings, events_client=aws.clients.events)


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [event["detail"]["ticket"]["ticket_id"] for event in events]


def test_republishes_an_unpublished_ticket(
    client: Any, aws: Aws, store: TicketStore, clock: FakeClock, settings: Settings
) -> None:
    deps.publisher.override(EventPublisher(settings, events_client=BrokenEvents()))
    assert post_ticket(client, ticket_payload("TCK-1")).status_code == 503  # the client gives up here
    clock.advance(settings.stuck_after_seconds)

    report = republish_stuck(store, working(aws), settings)

    assert report == SweepReport(examined=1, republished=1, given_up=0, stopped_on_error=False)
    assert ids(aws.received_events()) == ["TCK-1"]
    record = store.get("TCK-1")
    assert record is not None and record.published and record.publish_count == 1


def test_republishes_a_published_ticket_that_was_never_routed(
    client: Any, aws: Aws, store: TicketStore, clock: FakeClock, settings: Settings
) -> None:
    post_ticket(client, ticket_payload("TCK-LOST"))
    aws.received_events()  # the message is lost
    clock.advance(settings.stuck_after_seconds)

    republish_stuck(store, working(aws), settings)

    assert ids(aws.received_events()) == ["TCK-LOST"]
    record = store.get("TCK-LOST")
    assert record is not None and record.publish_count == 2


def test_leaves_fresh_routed_and_just_republished_tickets_alone(
    client: Any, aws: Aws, store: TicketStore, clock: FakeClock, settings: Settings
) -> None:
    post_ticket(client, ticket_payload("TCK-ROUTED"))
    assert store.record_decision("TCK-ROUTED", make_decision("TCK-ROUTED"), "routed")
    post_ticket(client, ticket_payload("TCK-OLD"))
    clock.advance(settings.stuck_after_seconds)
    post_ticket(client, ticket_payload("TCK-FRESH"))
    aws.received_events()

    first = republish_stuck(store, working(aws), settings)
    second = republish_stuck(store, working(aws), settings)  # the worker gets a full period

    assert first.republished == 1 and second.examined == 0
    assert ids(aws.received_events()) == ["TCK-OLD"]


def test_gives_up_after_max_publish_attempts(
    client: Any, aws: Aws, store: TicketStore, clock: FakeClock, settings: Settings
) -> None:
    post_ticket(client, ticket_payload("TCK-POISON"))  # the first publication
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
    client: Any, aws: Aws, store: TicketStore, clock: FakeClock, settings: Settings
) -> None:
    for n in range(3):
        post_ticket(client, ticket_payload(f"TCK-{n}"))
    clock.advance(settings.stuck_after_seconds)

    report = republish_stuck(store, EventPublisher(settings, events_client=BrokenEvents()), settings)

    assert report == SweepReport(examined=3, republished=0, given_up=0, stopped_on_error=True)


def test_uses_the_api_dependencies_by_default(client: Any, aws: Aws, store: TicketStore, clock: FakeClock) -> None:
    """The local stack and the scheduled Lambda call it without arguments."""
    deps.publisher.reset()  # built by deps from the settings, as in production
    post_ticket(client, ticket_payload("TCK-DEFAULT"))
    aws.received_events()
    clock.advance(aws.settings.stuck_after_seconds)

    assert republish_stuck().republished == 1
    assert ids(aws.received_events()) == ["TCK-DEFAULT"]


def test_runs_every_minute_as_a_scheduled_lambda(client: Any, aws: Aws, app: Any, clock: FakeClock) -> None:
    [schedule] = [source for source in app.event_sources if source.name == "sweep_stuck_tickets"]
    assert schedule.schedule_expression.to_string() == "rate(1 minute)"
    post_ticket(client, ticket_payload("TCK-SCHEDULED"))
    aws.received_events()
    clock.advance(aws.settings.stuck_after_seconds)

    event = client.events.generate_cw_event("aws.events", "Scheduled Event", {}, [], region="us-east-1")
    client.lambda_.invoke("sweep_stuck_tickets", event)

    assert ids(aws.received_events()) == ["TCK-SCHEDULED"]
