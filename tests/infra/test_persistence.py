"""The local stack's state across restarts: snapshot and restore, the intake journal, resumed work."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from datalayer.journal import JournalingTicketStore, ticket_store
from datalayer.records import SyncStatus, TicketStatus
from datalayer.settings import Settings
from datalayer.tickets import TicketStore
from datalayer.types import Ticket
from infra.local import LocalStack
from infra.persistence import LocalState
from infra.resources import provision
from tests.factories import make_decision


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name in ("AWS_ENDPOINT_URL", "SWITCHBOARD_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield


def ticket(ticket_id: str) -> Ticket:
    return Ticket(ticket_id=ticket_id, customer_id="CUST-CON-0002", subject="No internet", description="Down.")


def routing_messages(settings: Settings) -> list[dict]:
    sqs = boto3.client("sqs", region_name=settings.region)
    url = sqs.get_queue_url(QueueName=settings.routing_queue)["QueueUrl"]
    bodies = [
        json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]
    return bodies


def test_a_snapshot_brings_back_tickets_decisions_and_dead_letters(moto, tmp_path: Path) -> None:
    before = Settings(stage="local", region="us-east-1")
    provision(before)
    store = TicketStore(before)
    store.create_if_absent(ticket("T-DECIDED"), "corr-1")
    store.mark_published("T-DECIDED")
    store.record_decision(
        "T-DECIDED", make_decision("T-DECIDED", team="Billing Support"), "routed", announce_within_s=30
    )
    store.mark_routed_event_sent("T-DECIDED")
    store.mark_synced("T-DECIDED")
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.get_queue_url(QueueName=before.routing_dlq)["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody="a poisoned message")
    state = LocalState(tmp_path / "state")
    assert state.save(before) >= 1

    after = before.derive(region="us-west-2")  # a fresh embedded AWS: nothing in it
    provision(after)
    restored = state.restore(after)

    record = TicketStore(after).get("T-DECIDED")
    assert record is not None and record.status == TicketStatus.ROUTED and record.team == "Billing Support"
    assert record.correlation_id == "corr-1" and record.sync_status is SyncStatus.SYNCED
    assert restored.dead_letters == 1 and restored.republished == 0 and restored.syncs == 0
    west = boto3.client("sqs", region_name="us-west-2")
    [letter] = west.receive_message(QueueUrl=west.get_queue_url(QueueName=after.routing_dlq)["QueueUrl"])["Messages"]
    assert letter["Body"] == "a poisoned message"


def test_an_accepted_ticket_the_snapshot_missed_comes_back_from_the_journal_and_is_routed(moto, tmp_path) -> None:
    settings = Settings(stage="local", region="us-east-1", intake_journal=str(tmp_path / "journal.jsonl"))
    provision(settings)
    api_store = ticket_store(settings)
    assert isinstance(api_store, JournalingTicketStore)
    api_store.create_if_absent(ticket("T-LATE"), "corr-late")  # accepted after the last snapshot...

    after = settings.derive(region="us-west-2")  # ...and then the embedded AWS died
    provision(after)
    state = LocalState(tmp_path)
    restored = state.restore(after)

    record = TicketStore(after).get("T-LATE")
    assert restored.journal_replayed == 1 and record is not None and record.published
    [event] = routing_messages(after)
    assert event["detail"]["ticket"]["ticket_id"] == "T-LATE" and event["detail"]["correlation_id"] == "corr-late"
    assert state.restore(after).journal_replayed == 0  # replaying again changes nothing


def test_queued_work_lost_with_moto_is_set_going_again(moto, tmp_path) -> None:
    settings = Settings(stage="local", region="us-east-1", agent_provider="openai")
    provision(settings)
    store = TicketStore(settings)  # the messages of all three die with the old moto
    store.create_if_absent(ticket("T-RECEIVED"))
    store.create_if_absent(ticket("T-WAITING"))
    store.record_provisional("T-WAITING", make_decision("T-WAITING").model_copy(update={"deferred_reason": "unsure"}))
    store.create_if_absent(ticket("T-UNSYNCED"))
    store.record_decision("T-UNSYNCED", make_decision("T-UNSYNCED"), "routed", announce_within_s=30)
    store.mark_routed_event_sent("T-UNSYNCED")
    state = LocalState(tmp_path)
    state.save(settings)

    after = settings.derive(region="us-west-2")
    provision(after)
    restored = state.restore(after)

    assert (restored.republished, restored.agent_requests, restored.syncs) == (1, 1, 1)
    sqs = boto3.client("sqs", region_name="us-west-2")
    agent = sqs.get_queue_url(QueueName=after.agent_queue)["QueueUrl"]
    [request] = sqs.receive_message(QueueUrl=agent)["Messages"]
    assert json.loads(request["Body"])["ticket_id"] == "T-WAITING"
    assert [e["detail"]["ticket"]["ticket_id"] for e in routing_messages(after)] == ["T-RECEIVED"]


def test_reset_forgets_everything_and_a_torn_journal_line_is_skipped(tmp_path: Path) -> None:
    state = LocalState(tmp_path)
    state.journal.append(ticket("T-1"), None)
    with state.journal.path.open("a") as handle:
        handle.write('{"ticket": {"ticket_id": "T-2"')  # the stack died mid-write
    assert [t.ticket_id for t, _ in state.journal.entries()] == ["T-1"]
    state.reset()
    assert list(state.journal.entries()) == [] and not state.snapshot_path.exists()


class _DeadMoto:
    exit_status = -9


def test_no_snapshot_is_taken_while_moto_is_down(moto, tmp_path: Path) -> None:
    """A snapshot of a dead or half-restored moto would replace the last good one with nothing."""
    settings = Settings(stage="local", region="us-east-1")
    provision(settings)
    stack = LocalStack()
    stack.settings, stack.state = settings, LocalState(tmp_path / "state")
    stack.moto = _DeadMoto()  # type: ignore[assignment]
    stack._snapshot()
    assert not stack.state.snapshot_path.exists()
