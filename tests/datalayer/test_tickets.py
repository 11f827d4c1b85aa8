"""TicketStore's guarantees that the worker and the sweep rely on, against moto."""

from __future__ import annotations

from datetime import datetime

import pytest

from datalayer.errors import StoreError
from datalayer.records import SyncStatus
from datalayer.tickets import TicketStore
from datalayer.types import RoutingDecision, Ticket
from tests.factories import make_decision
from tests.support import Aws, FakeClock, ticket_payload


def decide(store: TicketStore, ticket_id: str, decision: RoutingDecision, status: str) -> bool:
    """``record_decision`` with the routing worker's announcement deadline."""
    return store.record_decision(ticket_id, decision, status, announce_within_s=30)


@pytest.fixture
def ticket() -> Ticket:
    return Ticket.model_validate(ticket_payload("TCK-1"))


def test_create_if_absent_creates_once(store: TicketStore, ticket: Ticket) -> None:
    created, was_created = store.create_if_absent(ticket)
    again, created_again = store.create_if_absent(ticket.model_copy(update={"subject": "changed"}))

    assert was_created and not created_again
    assert again == created and again.ticket.subject == ticket.subject


def test_items_follow_the_table_contract(aws: Aws, store: TicketStore, ticket: Ticket) -> None:
    store.create_if_absent(ticket)
    table = aws.clients.dynamodb_resource.Table(aws.settings.tickets_table)
    item = table.get_item(Key={"ticket_id": "TCK-1"})["Item"]

    assert item["status"] == "received" and item["published"] is False
    assert Ticket.model_validate_json(item["payload"]) == ticket
    received = datetime.fromisoformat(item["received_at"])
    assert received.utcoffset() is not None and len(item["received_at"]) == len("2026-11-25T15:00:00.000000+00:00")
    assert int(item["expires_at"]) == int(received.timestamp()) + aws.settings.ticket_ttl_days * 86_400


def test_only_the_first_decision_is_recorded(store: TicketStore, ticket: Ticket) -> None:
    store.create_if_absent(ticket)

    first = decide(store, "TCK-1", make_decision("TCK-1", team="Billing Support"), "routed")
    second = decide(store, "TCK-1", make_decision("TCK-1", team="Technical Support"), "needs_review")

    record = store.get("TCK-1")
    assert (first, second) == (True, False)
    assert record is not None and record.status == "routed" and record.team == "Billing Support"
    assert record.decision is not None and record.decision["team"] == "Billing Support"
    assert not record.routed_event_sent


def test_a_decision_beats_a_failure(store: TicketStore, ticket: Ticket) -> None:
    store.create_if_absent(ticket)
    decide(store, "TCK-1", make_decision("TCK-1"), "routed")

    assert store.mark_failed("TCK-1", "late failure") is False
    record = store.get("TCK-1")
    assert record is not None and record.status == "routed"


def test_a_failed_ticket_can_still_be_decided_after_a_redrive(store: TicketStore, ticket: Ticket) -> None:
    store.create_if_absent(ticket)
    assert store.mark_failed("TCK-1", "router crashed 5 times") is True

    assert decide(store, "TCK-1", make_decision("TCK-1", team="Billing Support"), "routed") is True
    record = store.get("TCK-1")
    assert record is not None and record.status == "routed" and record.team == "Billing Support"
    assert store.mark_failed("TCK-1", "stale failure") is False


def test_decision_status_must_be_a_decided_one(store: TicketStore, ticket: Ticket) -> None:
    store.create_if_absent(ticket)

    with pytest.raises(ValueError):
        decide(store, "TCK-1", make_decision("TCK-1"), "failed")


def test_unknown_ticket(store: TicketStore) -> None:
    assert store.get("TCK-NONE") is None
    assert decide(store, "TCK-NONE", make_decision("TCK-NONE"), "routed") is False
    with pytest.raises(StoreError):
        store.mark_published("TCK-NONE")
    with pytest.raises(StoreError):
        store.mark_routed_event_sent("TCK-NONE")


def test_routed_event_sent_is_recorded(store: TicketStore, ticket: Ticket) -> None:
    store.create_if_absent(ticket)
    decide(store, "TCK-1", make_decision("TCK-1"), "routed")

    store.mark_routed_event_sent("TCK-1")

    record = store.get("TCK-1")
    assert record is not None and record.routed_event_sent


def test_dynamodb_errors_become_store_errors(aws: Aws, ticket: Ticket) -> None:
    missing_table = TicketStore(aws.settings.derive(tickets_table="no-such-table"))

    with pytest.raises(StoreError, match="ResourceNotFoundException"):
        missing_table.create_if_absent(ticket)


def test_a_fresh_decision_cannot_be_announced_by_another_delivery(
    store: TicketStore, ticket: Ticket, clock: FakeClock
) -> None:
    """The writer owns the announcement until its deadline; afterwards exactly one other delivery may take it."""
    store.create_if_absent(ticket)
    decide(store, "TCK-1", make_decision("TCK-1"), "routed")

    assert store.claim_announcement("TCK-1", announce_within_s=30) is False  # the writer is still announcing
    clock.advance(31)  # the writer died without announcing
    assert store.claim_announcement("TCK-1", announce_within_s=30) is True
    assert store.claim_announcement("TCK-1", announce_within_s=30) is False  # one taker only
    store.mark_routed_event_sent("TCK-1")
    clock.advance(31)
    assert store.claim_announcement("TCK-1", announce_within_s=30) is False  # announced: nothing to claim


def test_history_lists_the_customers_latest_tickets_newest_first(store: TicketStore) -> None:
    for number in range(4):
        store.create_if_absent(Ticket.model_validate(ticket_payload(f"TCK-{number}", subject=f"Issue {number}")))
    store.create_if_absent(Ticket.model_validate(ticket_payload("TCK-OTHER", customer_id="CUST-OTHER")))
    decide(store, "TCK-1", make_decision("TCK-1", team="Billing Support", category="Billing Dispute"), "routed")

    history = store.history("CUST-CON-0002", limit=2, exclude="TCK-3")

    assert [past.ticket_id for past in history] == ["TCK-2", "TCK-1"]
    assert history[1].team == "Billing Support" and history[1].subject == "Issue 1"
    assert history[0].team is None and history[0].status == "received"
    assert store.history("CUST-CON-0002", limit=0) == []


def test_a_final_decision_waits_for_the_ticketing_system_until_synced(store: TicketStore, ticket: Ticket) -> None:
    store.create_if_absent(ticket)
    assert store.get("TCK-1").sync_status is None  # type: ignore[union-attr]  # nothing to sync yet
    decide(store, "TCK-1", make_decision("TCK-1"), "routed")

    assert store.get("TCK-1").sync_status is SyncStatus.PENDING  # type: ignore[union-attr]
    assert [i.ticket_id for i in store.list_by_sync_status(SyncStatus.PENDING).items] == ["TCK-1"]
    store.mark_synced("TCK-1")
    record = store.get("TCK-1")
    assert record is not None and record.sync_status is SyncStatus.SYNCED and record.synced_at
    assert store.mark_sync_failed("TCK-1", "late failure") is False  # a sync that happened stays happened
    assert store.list_by_sync_status(SyncStatus.PENDING).items == []


def test_a_failed_sync_is_listed_with_its_reason(store: TicketStore, ticket: Ticket) -> None:
    store.create_if_absent(ticket)
    decide(store, "TCK-1", make_decision("TCK-1"), "routed")
    assert store.mark_sync_failed("TCK-1", "HTTP 503 after 5 tries") is True
    [failed] = store.list_by_sync_status(SyncStatus.FAILED).items
    record = store.get("TCK-1")
    assert failed.ticket_id == "TCK-1" and record is not None and record.sync_failure == "HTTP 503 after 5 tries"


def test_racing_decisions_have_exactly_one_winner(store: TicketStore, ticket: Ticket) -> None:
    """What the workers' idempotency rests on: of concurrent conditional writes, one wins (DynamoDB's guarantee,
    kept by the embedded moto, ``infra.embedded_aws``)."""
    from concurrent.futures import ThreadPoolExecutor

    store.create_if_absent(ticket)
    teams = ["Billing Support", "Technical Support", "Network Operations", "Account Management"] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        wins = list(pool.map(lambda team: decide(store, "TCK-1", make_decision("TCK-1", team=team), "routed"), teams))

    assert wins.count(True) == 1
    record = store.get("TCK-1")
    assert record is not None and record.team == teams[wins.index(True)]


def test_one_delivery_at_a_time_writes_a_decision_to_the_ticketing_system(
    store: TicketStore, ticket: Ticket, clock: FakeClock
) -> None:
    store.create_if_absent(ticket)
    decide(store, "TCK-1", make_decision("TCK-1"), "routed")

    assert store.claim_sync("TCK-1", lease_s=90) is True
    assert store.claim_sync("TCK-1", lease_s=90) is False  # a concurrent delivery waits
    clock.advance(91)
    assert store.claim_sync("TCK-1", lease_s=90) is True  # the holder died: its lease ran out
    store.release_sync_claim("TCK-1")
    assert store.claim_sync("TCK-1", lease_s=90) is True  # released early: the next delivery need not wait
    store.mark_synced("TCK-1")
    clock.advance(91)
    assert store.claim_sync("TCK-1", lease_s=90) is False  # synced: nothing left to claim
    assert store.claim_sync("TCK-404", lease_s=90) is False
