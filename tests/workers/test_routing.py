"""The routing worker's guarantees, with faults injected into its router, store and publisher."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workers.routing as routing
from datalayer.settings import RoutingPolicy
from datalayer.types import CustomerContext, FallbackCause, Outage, RoutingDecision, ServiceStatus
from tests.workers.fakes import (
    FakeAgentQueue,
    FakeCustomers,
    FakePublisher,
    FakeRouter,
    FakeServiceStatus,
    FakeStore,
    MetricRecorder,
    event_body,
    sqs_record,
    ticket,
)
from workers.limits import MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT_SECONDS, WORKER_TIMEOUT_SECONDS
from workers.routing import Outcome, RoutingWorker, batch_response, parse_received


def make_worker(
    store: FakeStore,
    router: FakeRouter | None = None,
    publisher: FakePublisher | None = None,
    *,
    customers: FakeCustomers | None = None,
    service_status: FakeServiceStatus | None = None,
    policy: RoutingPolicy = RoutingPolicy.CASCADE,
    agent_queue: FakeAgentQueue | None = None,
    metrics: MetricRecorder | None = None,
) -> RoutingWorker:
    return RoutingWorker(
        router or FakeRouter(),
        store,
        customers or FakeCustomers(),
        service_status or FakeServiceStatus(),
        publisher or FakePublisher(),
        metrics=metrics if metrics is not None else MetricRecorder(),
        policy=policy,
        agent_requests=agent_queue,
    )


def test_batch_routes_each_ticket_once_and_reports_no_failures() -> None:
    tickets = [ticket() for _ in range(5)]
    store, publisher = FakeStore(tickets), FakePublisher()
    results = make_worker(store, publisher=publisher).process_batch(sqs_record(event_body(t)) for t in tickets)

    assert batch_response(results) == {"batchItemFailures": []}
    assert [r.outcome for r in results] == [Outcome.ROUTED] * 5
    assert sorted(e[0] for e in publisher.events) == sorted(t.ticket_id for t in tickets)
    assert all(store.items[t.ticket_id]["status"] == "routed" for t in tickets)
    assert all(store.items[t.ticket_id]["routed_event_sent"] for t in tickets)


def test_manual_review_decision_is_stored_as_needs_review() -> None:
    t = ticket()
    store, publisher = FakeStore([t]), FakePublisher()
    [result] = make_worker(store, FakeRouter(review_for={t.ticket_id}), publisher).process_batch(
        [sqs_record(event_body(t))]
    )
    assert result.outcome is Outcome.NEEDS_REVIEW
    assert store.items[t.ticket_id]["status"] == "needs_review"
    assert publisher.events == [(t.ticket_id, "Network Operations", "needs_review")]


def test_router_crash_fails_only_that_record() -> None:
    tickets = [ticket() for _ in range(4)]
    records = [sqs_record(event_body(t)) for t in tickets]
    store = FakeStore(tickets)
    results = make_worker(store, FakeRouter(fail_for={tickets[2].ticket_id})).process_batch(records)

    assert batch_response(results) == {"batchItemFailures": [{"itemIdentifier": records[2]["messageId"]}]}
    assert store.items[tickets[2].ticket_id]["status"] == "received"
    assert {store.items[t.ticket_id]["status"] for i, t in enumerate(tickets) if i != 2} == {"routed"}


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        json.dumps({"detail-type": "TicketReceived", "detail": {}}),
        json.dumps({"detail-type": "SomethingElse", "detail": {"ticket": {"ticket_id": "T-1"}}}),
        json.dumps({"detail-type": "TicketReceived", "detail": {"ticket": {"ticket_id": "T 1", "customer_id": ""}}}),
        json.dumps(["a", "list"]),
    ],
)
def test_poison_message_fails_alone(body: str) -> None:
    good = ticket()
    poison, healthy = sqs_record(body), sqs_record(event_body(good))
    store, publisher = FakeStore([good]), FakePublisher()
    results = make_worker(store, publisher=publisher).process_batch([poison, healthy])

    assert batch_response(results) == {"batchItemFailures": [{"itemIdentifier": poison["messageId"]}]}
    assert publisher.events == [(good.ticket_id, "Network Operations", "routed")]


def test_invalid_ticket_keeps_its_id_for_the_failure_mark() -> None:
    body = json.dumps({"detail-type": "TicketReceived", "detail": {"ticket": {"ticket_id": "T-9", "customer_id": ""}}})
    store = FakeStore()
    store.items["T-9"] = {"ticket_id": "T-9", "status": "received"}
    [result] = make_worker(store).process_batch([sqs_record(body, receive_count=MAX_RECEIVE_COUNT)])
    assert result.failed and result.ticket_id == "T-9"
    assert store.items["T-9"]["status"] == "failed"
    assert "invalid TicketReceived detail" in store.items["T-9"]["failure_reason"]


def test_duplicate_delivery_in_one_batch_yields_one_decision_and_one_event() -> None:
    t = ticket()
    store, publisher, router = FakeStore([t]), FakePublisher(), FakeRouter()
    results = make_worker(store, router, publisher).process_batch(
        [sqs_record(event_body(t)), sqs_record(event_body(t))]
    )
    assert [r.outcome for r in results] == [Outcome.ROUTED, Outcome.DUPLICATE]
    assert store.decision_writes == [t.ticket_id]
    assert len(publisher.events) == 1
    assert router.calls == [t.ticket_id]


def test_losing_the_decision_race_emits_nothing() -> None:
    """Both deliveries read status "received"; the conditional write lets exactly one of them announce."""
    t = ticket()
    store, publisher = FakeStore([t]), FakePublisher()
    first, second = make_worker(store, publisher=publisher), make_worker(store, publisher=publisher)
    stale_read = store.get(t.ticket_id)
    first.process_batch([sqs_record(event_body(t))])
    store.get = lambda _ticket_id: stale_read  # type: ignore[method-assign]

    [result] = second.process_batch([sqs_record(event_body(t))])
    assert result.outcome is Outcome.DUPLICATE
    assert store.lost_races == 1 and len(publisher.events) == 1


def test_crash_between_write_and_emit_is_repaired_by_the_redelivery() -> None:
    t = ticket()
    store, publisher, router = FakeStore([t]), FakePublisher(failures=1), FakeRouter()
    worker = make_worker(store, router, publisher)

    [first] = worker.process_batch([sqs_record(event_body(t), message_id="m1")])
    assert first.failed and store.items[t.ticket_id]["routed_event_sent"] is False

    store.now += VISIBILITY_TIMEOUT_SECONDS  # SQS hands the message out again after its visibility timeout
    [second] = worker.process_batch([sqs_record(event_body(t), message_id="m1", receive_count=2)])
    [third] = worker.process_batch([sqs_record(event_body(t), message_id="m1", receive_count=3)])
    assert (second.outcome, third.outcome) == (Outcome.EVENT_REPAIRED, Outcome.DUPLICATE)
    assert publisher.events == [(t.ticket_id, "Network Operations", "routed")]
    assert router.calls == [t.ticket_id] and store.decision_writes == [t.ticket_id]


def test_concurrent_duplicate_never_announces_a_decision_being_announced() -> None:
    """Delivery B reads the ticket after A stored its decision and before A announced it: B must not announce."""
    t = ticket()
    store, publisher = FakeStore([t]), FakePublisher()
    worker = make_worker(store, publisher=publisher)
    decision = FakeRouter().route(t)
    assert store.record_decision(t.ticket_id, decision, "routed", announce_within_s=WORKER_TIMEOUT_SECONDS)  # A

    [b] = worker.process_batch([sqs_record(event_body(t), message_id="m-b", receive_count=2)])
    assert b.failed and publisher.events == []  # back to the queue, to check again later

    publisher.publish_routed(t.ticket_id, decision, "routed")  # A finishes
    store.mark_routed_event_sent(t.ticket_id)
    store.now += VISIBILITY_TIMEOUT_SECONDS
    [b_again] = worker.process_batch([sqs_record(event_body(t), message_id="m-b", receive_count=3)])
    assert b_again.outcome is Outcome.DUPLICATE and len(publisher.events) == 1


def test_last_allowed_receive_marks_the_ticket_failed() -> None:
    t = ticket()
    store = FakeStore([t])
    worker = make_worker(store, FakeRouter(fail_for={t.ticket_id}))
    for receive in range(1, MAX_RECEIVE_COUNT):
        assert worker.process_batch([sqs_record(event_body(t), receive_count=receive)])[0].failed
        assert store.items[t.ticket_id]["status"] == "received"

    [last] = worker.process_batch([sqs_record(event_body(t), receive_count=MAX_RECEIVE_COUNT)])
    assert last.failed
    assert store.items[t.ticket_id]["status"] == "failed"
    assert store.items[t.ticket_id]["failure_reason"].startswith("RuntimeError: router crashed")


def test_failure_to_mark_failed_still_fails_the_record() -> None:
    t = ticket()
    store = FakeStore([t])

    def broken(ticket_id: str, reason: str) -> None:
        raise ConnectionError("DynamoDB unavailable")

    store.mark_failed = broken  # type: ignore[method-assign]
    worker = make_worker(store, FakeRouter(fail_for={t.ticket_id}))
    assert worker.process_batch([sqs_record(event_body(t), receive_count=MAX_RECEIVE_COUNT)])[0].failed


def test_ticket_missing_from_store_is_retried() -> None:
    [result] = make_worker(FakeStore()).process_batch([sqs_record(event_body(ticket()))])
    assert result.failed


class SpyRouter(FakeRouter):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[CustomerContext | None, ServiceStatus | None]] = []

    def route(self, ticket, customer=None, service=None):  # type: ignore[no-untyped-def]
        self.seen.append((customer, service))
        return super().route(ticket, customer, service)


def test_customer_and_the_outages_where_they_are_reach_the_router() -> None:
    t = ticket(customer_id="CUST-VIP")
    vip = CustomerContext(customer_id="CUST-VIP", vip=True, region="Springfield")
    here = Outage(outage_id="OUT-1", region="Springfield")
    elsewhere = Outage(outage_id="OUT-2", region="Chicago")
    router = SpyRouter()

    make_worker(
        FakeStore([t]),
        router,
        customers=FakeCustomers([vip]),
        service_status=FakeServiceStatus([here, elsewhere]),
    ).process_batch([sqs_record(event_body(t))])

    [(customer, service)] = router.seen
    assert customer == vip
    assert service is not None and [o.outage_id for o in service.active_outages] == ["OUT-1"]


def test_unknown_customer_still_gets_nationwide_outages() -> None:
    t = ticket(customer_id="CUST-NOBODY")
    router = SpyRouter()
    nationwide = Outage(outage_id="OUT-9")

    make_worker(FakeStore([t]), router, service_status=FakeServiceStatus([nationwide])).process_batch(
        [sqs_record(event_body(t))]
    )

    [(customer, service)] = router.seen
    assert customer is None and service is not None and service.active_outages == [nationwide]


def test_the_eventbridge_envelope_gives_the_ticket_and_its_correlation_id() -> None:
    t = ticket()
    received = parse_received(event_body(t))
    assert received.ticket == t and received.correlation_id == f"corr-{t.ticket_id}"


def test_the_correlation_id_travels_on_to_the_agent_and_the_announcement() -> None:
    unsure, sure = ticket(), ticket()
    store, publisher, queue = FakeStore([unsure, sure]), FakePublisher(), FakeAgentQueue()
    worker = make_worker(store, FakeRouter(unsure_for={unsure.ticket_id}), publisher, agent_queue=queue)

    worker.process_batch([sqs_record(event_body(t)) for t in (unsure, sure)])

    assert [r.correlation_id for r in queue.sent] == [f"corr-{unsure.ticket_id}"]
    assert publisher.correlation_ids == [f"corr-{sure.ticket_id}"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=10))
def test_batch_item_failures_are_exactly_the_failed_records(fails: list[bool]) -> None:
    tickets = [ticket() for _ in fails]
    records = [sqs_record(event_body(t)) for t in tickets]
    router = FakeRouter(fail_for={t.ticket_id for t, bad in zip(tickets, fails, strict=True) if bad})
    response = batch_response(make_worker(FakeStore(tickets), router).process_batch(records))
    expected = [r["messageId"] for r, bad in zip(records, fails, strict=True) if bad]
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == expected


def test_chalice_handler_returns_a_partial_batch_response() -> None:
    """The decorated handler, called as Lambda calls it, with records that each have their own messageId."""
    good, bad = ticket(), ticket()
    store = FakeStore([good, bad])
    routing.use_worker_factory(lambda: make_worker(store, FakeRouter(fail_for={bad.ticket_id})))
    try:
        records = [sqs_record(event_body(good)), sqs_record(event_body(bad))]
        response = routing.route_tickets({"Records": records}, None)
    finally:
        routing.use_worker_factory(routing.build_default_worker)
    assert response == {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}]}
    assert store.items[good.ticket_id]["status"] == "routed"


# --- the cascade ----------------------------------------------------------------------------------------------


def test_an_unsure_ticket_waits_for_the_agent_with_its_provisional_decision() -> None:
    t = ticket()
    store, publisher, queue = FakeStore([t]), FakePublisher(), FakeAgentQueue()
    worker = make_worker(store, FakeRouter(unsure_for={t.ticket_id}), publisher, agent_queue=queue)

    [result] = worker.process_batch([sqs_record(event_body(t))])

    assert result.outcome is Outcome.DEFERRED and not result.failed
    assert store.items[t.ticket_id]["status"] == "awaiting_agent"
    provisional = RoutingDecision.model_validate_json(store.items[t.ticket_id]["decision"])
    assert provisional.deferred_reason == "confidence 0.55 is below the web channel's 0.80"
    assert [r.ticket_id for r in queue.sent] == [t.ticket_id] and queue.sent[0].deferred_reason
    assert publisher.events == []  # TicketRouted waits for the final decision


def test_a_sure_ticket_never_reaches_the_agent() -> None:
    t = ticket()
    store, queue = FakeStore([t]), FakeAgentQueue()
    [result] = make_worker(store, agent_queue=queue).process_batch([sqs_record(event_body(t))])
    assert result.outcome is Outcome.ROUTED and queue.sent == []


def test_an_agent_request_lost_to_a_failed_send_is_sent_again_on_redelivery() -> None:
    t = ticket()
    store, queue, router = FakeStore([t]), FakeAgentQueue(failures=1), FakeRouter(unsure_for={t.ticket_id})
    worker = make_worker(store, router, agent_queue=queue)

    [first] = worker.process_batch([sqs_record(event_body(t), message_id="m1")])
    [second] = worker.process_batch([sqs_record(event_body(t), message_id="m1", receive_count=2)])

    assert first.failed and second.outcome is Outcome.DEFERRED
    assert [r.ticket_id for r in queue.sent] == [t.ticket_id] and router.calls == [t.ticket_id]


def test_without_a_provider_the_cascade_sends_unsure_tickets_to_people() -> None:
    t = ticket()
    store, publisher = FakeStore([t]), FakePublisher()
    worker = make_worker(store, FakeRouter(unsure_for={t.ticket_id}), publisher, agent_queue=None)

    [result] = worker.process_batch([sqs_record(event_body(t))])

    assert result.outcome is Outcome.NEEDS_REVIEW
    decision = RoutingDecision.model_validate_json(store.items[t.ticket_id]["decision"])
    assert decision.agent is not None and decision.agent.fallback is FallbackCause.NO_PROVIDER
    assert decision.deferred_reason and "local-only" in decision.review_reasons[-1]
    assert publisher.events == [(t.ticket_id, "Network Operations", "needs_review")]


def test_the_local_policy_keeps_every_decision_and_the_agent_policy_defers_every_one() -> None:
    unsure, sure = ticket(), ticket()
    router = FakeRouter(unsure_for={unsure.ticket_id})
    local_store, local_queue = FakeStore([unsure, sure]), FakeAgentQueue()
    make_worker(local_store, router, policy=RoutingPolicy.LOCAL, agent_queue=local_queue).process_batch(
        [sqs_record(event_body(t)) for t in (unsure, sure)]
    )
    agent_store, agent_queue = FakeStore([unsure, sure]), FakeAgentQueue()
    make_worker(agent_store, router, policy=RoutingPolicy.AGENT, agent_queue=agent_queue).process_batch(
        [sqs_record(event_body(t)) for t in (unsure, sure)]
    )

    assert local_queue.sent == [] and {i["status"] for i in local_store.items.values()} == {"routed"}
    assert sorted(r.ticket_id for r in agent_queue.sent) == sorted([unsure.ticket_id, sure.ticket_id])


def test_decisions_are_counted_for_the_dashboard() -> None:
    """Final: counts by team, priority and tier, review, confidence, receipt→final. Deferred: receipt→provisional."""
    sure, unsure = ticket(), ticket()
    recorder = MetricRecorder()
    worker = make_worker(
        FakeStore([sure, unsure]),
        FakeRouter(unsure_for={unsure.ticket_id}),
        metrics=recorder,
        agent_queue=FakeAgentQueue(),
    )

    worker.process_batch([sqs_record(event_body(t)) for t in (sure, unsure)])

    dimensions = [(name, d) for name, _, d in recorder.metrics]
    assert ("TicketsDecided", {"service": "pipeline", "team": "Network Operations"}) in dimensions
    assert ("TicketsDecided", {"service": "pipeline", "tier": "fast"}) in dimensions
    assert ("TicketsDecided", {"service": "pipeline", "priority": "P2"}) in dimensions
    assert recorder.names().count("TicketsDecided") == 4  # the sure ticket only: the other is not final yet
    assert recorder.names().count("ReceiptToProvisionalMs") == 1 and recorder.names().count("ReceiptToFinalMs") == 1
    [elapsed] = [v for name, v, _ in recorder.metrics if name == "ReceiptToFinalMs"]
    assert elapsed > 0


class _InterleavingRouter(FakeRouter):
    """Holds each ticket until both threads have started theirs, so their log lines interleave."""

    def __init__(self) -> None:
        super().__init__()
        self.both_started = threading.Barrier(2, timeout=10)

    def route(self, ticket, customer=None, service=None):  # type: ignore[no-untyped-def]
        self.both_started.wait()
        return super().route(ticket, customer, service)


@pytest.fixture
def worker_log() -> Iterator[io.StringIO]:
    """The routing worker's JSON log lines, as CloudWatch would get them."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(routing.logger.registered_formatter)
    routing.logger.addHandler(handler)
    yield written
    routing.logger.removeHandler(handler)


def test_concurrent_pollers_log_each_ticket_with_its_own_correlation_id(worker_log: io.StringIO) -> None:
    tickets = [ticket(), ticket()]
    store, router = FakeStore(tickets), _InterleavingRouter()
    threads = [
        threading.Thread(target=lambda t=t: make_worker(store, router).process_record(sqs_record(event_body(t))))
        for t in tickets
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    lines = [json.loads(line) for line in worker_log.getvalue().splitlines() if '"ticket processed"' in line]
    assert sorted((line["ticket_id"], line["correlation_id"]) for line in lines) == sorted(
        (t.ticket_id, f"corr-{t.ticket_id}") for t in tickets
    )
