"""The sync worker against the real stores and queues (in-process moto) and the local ticketing server over HTTP,
with the server told to fail and the worker killed at every step boundary.

Time is injected: the worker's ``sleep`` records the waits and moves its clock instead of sleeping, so a 31 s
backoff takes milliseconds; the store's clock is the shared ``FakeClock``, moved on to let a dead delivery's claim
run out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from datalayer.dead_letters import FAILURE_REASON_ATTRIBUTE, DeadLetterQueue
from datalayer.events import TicketRoutedDetail
from datalayer.records import SyncStatus
from datalayer.secrets import SecretReader
from datalayer.tickets import TicketStore
from datalayer.types import RoutingDecision, Ticket
from infra.poller import lambda_record
from infra.ticketing_server import LocalTicketingServer
from ops.dead_letter_queues import stage_queues
from ops.dead_letters import QueueReader
from ops.drain import Drain
from ops.redrive import ToQueue
from tests.factories import make_decision
from tests.support import Aws, FakeClock, ticket_payload
from tests.workers.fakes import sqs_record
from tests.workers.ticketing.conftest import CLIENT_TIMEOUT_S, GROUPS
from workers.limits import MAX_RECEIVE_COUNT, SYNC_BACKOFF_SECONDS, SYNC_WORKER_TIMEOUT_SECONDS
from workers.sync import Outcome, RecordResult, SyncWorker, backoff_deadline_s, batch_response
from workers.ticketing.zendesk import ZendeskTicketing

SENT_AT_S = 1_795_620_000.0
"""``SentTimestamp`` of the records ``sqs_record`` builds, in seconds."""
DEADLINE_S = 45.0


class Killed(BaseException):
    """The process dies here: no ``except Exception`` of the worker runs, nothing is cleaned up."""


class KillingTransport(httpx.BaseTransport):
    """The network, except that the worker can be killed right after the server answered a given request."""

    def __init__(self) -> None:
        self._network = httpx.HTTPTransport()
        self.kill_after: tuple[str, str] | None = None
        """(method, path ending): the next such request is answered by the server, then the worker dies."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._network.handle_request(request)
        if self.kill_after is not None:
            method, ending = self.kill_after
            if request.method == method and request.url.path.endswith(ending):
                response.read()
                response.close()
                self.kill_after = None
                raise Killed(f"killed after {method} {request.url.path} answered {response.status_code}")
        return response

    def close(self) -> None:
        self._network.close()


@dataclass
class Recorder:
    """The worker's metric sink, sleep and clock (seconds since the epoch, moved by the sleeps)."""

    now: float = SENT_AT_S + 0.25
    sleeps: list[float] = field(default_factory=list)
    metrics: list[tuple[str, float]] = field(default_factory=list)

    def add(self, name: str, value: float, unit: Any = None, **dimensions: str) -> None:
        self.metrics.append((name, value))

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def count(self, name: str) -> int:
        return sum(1 for metric, _ in self.metrics if metric == name)


@dataclass
class Harness:
    aws: Aws
    worker: SyncWorker
    store: TicketStore
    server: LocalTicketingServer
    network: KillingTransport
    recorder: Recorder
    clock: FakeClock
    decisions: dict[str, RoutingDecision] = field(default_factory=dict)

    def decide(self, ticket_id: str = "4711", **overrides: Any) -> RoutingDecision:
        """A ticket as the routing worker leaves it: stored, decided, ``sync_status`` pending."""
        self.store.create_if_absent(Ticket.model_validate(ticket_payload(ticket_id)))
        decision = make_decision(ticket_id, team="Billing Support", category="Billing Dispute", **overrides)
        assert self.store.record_decision(ticket_id, decision, "routed", announce_within_s=30)
        self.decisions[ticket_id] = decision
        return decision

    def deliver(self, ticket_id: str = "4711", receive_count: int = 1, message_id: str = "m-1") -> RecordResult:
        body = routed_body(ticket_id, self.decisions.get(ticket_id) or make_decision(ticket_id))
        return self.worker.process_record(sqs_record(body, message_id=message_id, receive_count=receive_count))

    def sync_status(self, ticket_id: str = "4711") -> SyncStatus | None:
        record = self.store.get(ticket_id)
        assert record is not None
        return record.sync_status

    def dead_letters(self) -> list[dict[str, Any]]:
        sqs = self.aws.clients.sqs
        url = sqs.get_queue_url(QueueName=self.aws.settings.sync_dlq)["QueueUrl"]
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        return answer.get("Messages", [])


def routed_body(ticket_id: str, decision: RoutingDecision, detail_type: str = "TicketRouted") -> str:
    """The sync queue's message: the EventBridge envelope of a TicketRouted event."""
    detail = TicketRoutedDetail.of(ticket_id, decision, "routed").model_dump(mode="json")
    return json.dumps({"version": "0", "id": f"evt-{ticket_id}", "detail-type": detail_type,
                       "source": "switchboard.tickets", "detail": detail})


@pytest.fixture
def server() -> Iterator[LocalTicketingServer]:
    with LocalTicketingServer() as running:
        yield running


@pytest.fixture
def harness(aws: Aws, server: LocalTicketingServer, clock: FakeClock) -> Iterator[Harness]:
    settings = aws.settings
    secrets = SecretReader(settings)
    secrets.put(settings.ticketing_secret, server.credentials)
    network = KillingTransport()
    zendesk = ZendeskTicketing(
        server.url, secrets, settings.ticketing_secret, GROUPS, timeout_s=CLIENT_TIMEOUT_S, transport=network
    )
    store = TicketStore(settings, dynamodb_resource=aws.clients.dynamodb_resource, clock=clock)
    recorder = Recorder()
    worker = SyncWorker(
        store,
        zendesk,
        DeadLetterQueue(settings, settings.sync_dlq, aws.clients.sqs),
        metrics=recorder,
        sleep=recorder.sleep,
        clock=recorder.clock,
        backoff_deadline_s=DEADLINE_S,
    )
    yield Harness(aws, worker, store, server, network, recorder, clock)
    zendesk.close()


def assert_synced_once(harness: Harness, ticket_id: str = "4711") -> None:
    assert harness.sync_status(ticket_id) is SyncStatus.SYNCED
    ticket = harness.server.ticket(ticket_id)
    assert ticket is not None and len(ticket["comments"]) == 1
    assert (ticket["group_id"], ticket["priority"]) == (GROUPS["Billing Support"], "normal")
    assert {"switchboard", "switchboard-team-billing-support", "switchboard-p2"} <= set(ticket["tags"])


# -- the way it should go ------------------------------------------------------------------------------------------


def test_a_final_decision_lands_in_the_ticketing_system_once(harness: Harness) -> None:
    harness.decide()

    result = harness.deliver()

    assert result.outcome is Outcome.SYNCED and batch_response([result]) == {"batchItemFailures": []}
    assert_synced_once(harness)
    assert ("SyncLatencyMs", 250.0) in harness.recorder.metrics and harness.recorder.count("TicketsSynced") == 1
    harness.server.requests.clear()
    assert harness.deliver(message_id="m-2").outcome is Outcome.DUPLICATE  # EventBridge delivered it twice
    assert harness.server.requests == []  # and the second copy cost no request


def test_without_a_ticketing_system_decisions_stay_pending(harness: Harness) -> None:
    harness.decide()
    harness.worker.system = None

    assert harness.deliver().outcome is Outcome.NOT_CONFIGURED
    assert harness.sync_status() is SyncStatus.PENDING


def test_the_default_deadline_leaves_time_for_one_more_attempt() -> None:
    from datalayer.settings import Settings

    assert backoff_deadline_s(Settings()) == 90 - 5 - 4 * 10
    assert sum(SYNC_BACKOFF_SECONDS) < backoff_deadline_s(Settings()) < SYNC_WORKER_TIMEOUT_SECONDS


# -- the ticketing system is down ----------------------------------------------------------------------------------


def test_down_longer_than_the_backoff_the_message_goes_back_and_syncs_on_a_later_receive(harness: Harness) -> None:
    harness.decide()
    harness.server.fail_next(len(SYNC_BACKOFF_SECONDS) + 1)  # every attempt of the first receive

    first = harness.deliver()

    assert first.outcome is Outcome.RETRY_LATER and batch_response([first])["batchItemFailures"]
    assert harness.recorder.sleeps == [1, 2, 4, 8, 16]
    assert harness.recorder.count("SyncRetries") == 5
    assert harness.sync_status() is SyncStatus.PENDING and harness.server.comments("4711") == []

    second = harness.deliver(receive_count=2)  # the claim was released: no wait for the lease

    assert second.outcome is Outcome.SYNCED
    assert_synced_once(harness)


def test_a_short_outage_is_ridden_out_in_process(harness: Harness) -> None:
    harness.decide()
    harness.server.fail_next(2, status=502)

    assert harness.deliver().outcome is Outcome.SYNCED
    assert harness.recorder.sleeps == [1, 2]
    assert_synced_once(harness)


def test_no_wait_may_end_past_the_deadline(harness: Harness) -> None:
    harness.decide()
    harness.worker.backoff_deadline_s = 10  # 1 + 2 + 4 fit, 8 more would not
    harness.server.fail_next(10)

    assert harness.deliver().outcome is Outcome.RETRY_LATER
    assert harness.recorder.sleeps == [1, 2, 4]


def test_a_hanging_server_is_given_up_on_by_the_timeout_and_retried(harness: Harness) -> None:
    harness.decide()
    harness.server.hang_next(1, seconds=5)

    assert harness.deliver().outcome is Outcome.SYNCED
    assert harness.recorder.sleeps == [1]
    assert_synced_once(harness)


def test_down_past_every_receive_the_ticket_fails_to_the_dlq_and_a_redrive_syncs_it_once(harness: Harness) -> None:
    """Through the real sync queue: SQS counts the receives and moves the message to the DLQ by itself."""
    aws, sqs = harness.aws, harness.aws.clients.sqs
    queue_url = sqs.get_queue_url(QueueName=aws.settings.sync_queue)["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=aws.settings.sync_dlq)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "0"})  # retries at once
    harness.decide()
    sqs.send_message(QueueUrl=queue_url, MessageBody=routed_body("4711", harness.decisions["4711"]))
    harness.server.fail_next(1_000_000)  # the ticketing system is down for the whole episode

    outcomes = []
    while messages := sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"]).get("Messages"):
        [message] = messages
        outcomes.append(harness.worker.process_record(lambda_record(message, "arn:sync", "us-east-1")).outcome)
    assert outcomes == [Outcome.RETRY_LATER] * (MAX_RECEIVE_COUNT - 1) + [Outcome.FAILED]
    record = harness.store.get("4711")
    assert record is not None and record.sync_status is SyncStatus.FAILED
    assert record.sync_failure is not None and "HTTP 503" in record.sync_failure
    assert harness.recorder.count("SyncFailures") == 1

    harness.server.clear_faults()  # the system is back; on-call redrives (switchboard dlq redrive sync)
    queues = stage_queues(aws.settings)
    moved = Drain(QueueReader(sqs, dlq_url, queues.resolve("sync"), queues), ToQueue(sqs, queue_url)).run()
    [message] = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"])["Messages"]
    redriven = harness.worker.process_record(lambda_record(message, "arn:sync", "us-east-1"))

    assert moved.handed_over == 1 and json.loads(message["Body"])["detail"]["ticket_id"] == "4711"
    assert redriven.outcome is Outcome.SYNCED
    assert_synced_once(harness)


# -- throttling and credentials ------------------------------------------------------------------------------------


def test_a_429_storm_is_waited_out_as_the_server_asks(harness: Harness) -> None:
    harness.decide()
    harness.server.throttle_next(3, retry_after_s=3)

    assert harness.deliver().outcome is Outcome.SYNCED
    assert harness.recorder.sleeps == [3, 3, 3]  # the server's Retry-After, not the backoff's 1, 2, 4
    assert_synced_once(harness)


def test_a_retry_after_past_the_deadline_gives_the_message_back_without_waiting(harness: Harness) -> None:
    harness.decide()
    harness.server.throttle_next(1, retry_after_s=600)

    assert harness.deliver().outcome is Outcome.RETRY_LATER
    assert harness.recorder.sleeps == []
    assert harness.deliver(receive_count=2).outcome is Outcome.SYNCED


def test_credentials_rotated_in_the_secret_are_read_again(harness: Harness) -> None:
    harness.decide()
    token = harness.server.rotate_credentials()
    SecretReader(harness.aws.settings).put(
        harness.aws.settings.ticketing_secret, {**harness.server.credentials, "api_token": token}
    )

    assert harness.deliver().outcome is Outcome.SYNCED
    assert_synced_once(harness)


def test_credentials_still_refused_are_not_retried_in_process_and_fail_on_the_last_receive(harness: Harness) -> None:
    harness.decide()
    harness.server.rotate_credentials()  # the secret still holds the old token

    assert harness.deliver().outcome is Outcome.RETRY_LATER
    assert harness.recorder.sleeps == []
    last = harness.deliver(receive_count=MAX_RECEIVE_COUNT)
    assert last.outcome is Outcome.FAILED and harness.sync_status() is SyncStatus.FAILED


# -- permanent failures and poison ---------------------------------------------------------------------------------


def test_a_ticket_the_system_does_not_have_goes_to_the_dlq_at_once(harness: Harness) -> None:
    harness.decide()
    harness.server.auto_create = False

    result = harness.deliver()

    assert result.outcome is Outcome.DEAD_LETTERED and batch_response([result]) == {"batchItemFailures": []}
    assert harness.recorder.sleeps == []
    record = harness.store.get("4711")
    assert record is not None and record.sync_status is SyncStatus.FAILED
    assert record.sync_failure is not None and record.sync_failure.startswith("TicketNotFoundError")
    [letter] = harness.dead_letters()
    assert json.loads(letter["Body"])["detail"]["ticket_id"] == "4711"
    assert letter["MessageAttributes"][FAILURE_REASON_ATTRIBUTE]["StringValue"] == record.sync_failure


def test_a_closed_ticket_goes_to_the_dlq_at_once_and_a_redrive_after_reopening_syncs_it(harness: Harness) -> None:
    harness.decide()
    harness.server.seed("4711", status="closed")

    assert harness.deliver().outcome is Outcome.DEAD_LETTERED
    assert harness.sync_status() is SyncStatus.FAILED

    harness.server.seed("4711", status="open")
    assert harness.deliver(message_id="redriven").outcome is Outcome.SYNCED
    assert_synced_once(harness)


def test_poison_messages_fail_alone(harness: Harness) -> None:
    harness.decide("good")
    harness.store.create_if_absent(Ticket.model_validate(ticket_payload("received-only")))
    decision = harness.decisions["good"]
    bodies = {
        "not-json": "this is not an event",
        "wrong-event": routed_body("good", decision, detail_type="TicketReceived"),
        "bad-detail": json.dumps({"detail-type": "TicketRouted", "detail": {"ticket_id": "good", "confidence": 7}}),
        "unknown-ticket": routed_body("nobody-has-this", decision),
        "undecided": routed_body("received-only", decision),
        "good": routed_body("good", decision),
    }

    results = harness.worker.process_batch(sqs_record(body, message_id=name) for name, body in bodies.items())

    outcomes = {result.message_id: result.outcome for result in results}
    assert outcomes == {**{name: Outcome.DEAD_LETTERED for name in bodies if name != "good"}, "good": Outcome.SYNCED}
    assert batch_response(results) == {"batchItemFailures": []}
    assert len(harness.dead_letters()) == 5
    assert harness.sync_status("good") is SyncStatus.SYNCED
    assert harness.sync_status("received-only") is None  # nothing to sync, nothing marked


def test_a_permanent_failure_is_retried_when_the_dlq_cannot_take_it(harness: Harness) -> None:
    class BrokenDeadLetters:
        def send(self, body: str, reason: str) -> None:
            raise ConnectionError("SQS unavailable")

    harness.worker.dead_letters = BrokenDeadLetters()

    assert harness.deliver("nobody-has-this").outcome is Outcome.RETRY_LATER


# -- crashes -------------------------------------------------------------------------------------------------------

KILL_POINTS = {
    "after reading the comments": ("GET", "/comments"),
    "after the ticket update and its comment": ("PUT", "/4711"),
    "after the tags": ("PUT", "/tags"),
}


@pytest.mark.parametrize("where", [*KILL_POINTS, "before mark_synced", "after mark_synced"])
def test_a_kill_at_any_step_then_a_redelivery_leaves_one_comment_and_synced(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    harness.decide()
    if where in KILL_POINTS:
        harness.network.kill_after = KILL_POINTS[where]
    else:
        mark_synced = harness.store.mark_synced

        def dies(ticket_id: str) -> None:
            if where == "after mark_synced":
                mark_synced(ticket_id)
            monkeypatch.setattr(harness.store, "mark_synced", mark_synced)
            raise Killed(where)

        monkeypatch.setattr(harness.store, "mark_synced", dies)

    with pytest.raises(Killed):
        harness.deliver()
    harness.clock.advance(SYNC_WORKER_TIMEOUT_SECONDS + 1)  # Lambda's timeout: the dead delivery's claim ran out
    redelivered = harness.deliver(receive_count=2)

    assert redelivered.outcome is (Outcome.DUPLICATE if where == "after mark_synced" else Outcome.SYNCED)
    assert_synced_once(harness)


def test_a_second_delivery_while_the_first_syncs_waits_for_it(harness: Harness) -> None:
    harness.decide()
    assert harness.store.claim_sync("4711", lease_s=SYNC_WORKER_TIMEOUT_SECONDS)  # the first delivery, at work

    assert harness.deliver(message_id="m-2").outcome is Outcome.RETRY_LATER
    assert harness.server.requests == []
    harness.store.mark_synced("4711")
    assert harness.deliver(message_id="m-2", receive_count=2).outcome is Outcome.DUPLICATE
