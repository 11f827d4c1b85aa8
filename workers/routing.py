"""The routing worker: SQS batch of TicketReceived events in, one stored decision and one TicketRouted event out.

SQS and EventBridge deliver at least once, and Lambda retries whole batches unless told which records failed,
so the worker is built around three rules:

* each record succeeds or fails on its own, and only failures are reported (``batchItemFailures``), so one bad
  ticket never makes nine good ones route twice;
* the decision write is conditional (``TicketStore.record_decision``): when two deliveries race, one wins and
  the other emits nothing;
* ``routed_event_sent`` is set only after TicketRouted was accepted, so a crash between the write and the emit is
  repaired by the redelivery, which finds the decision stored and only emits. The writer has the worker's timeout
  to announce (after it Lambda has killed it); a delivery that finds an unannounced decision inside that time is
  a concurrent duplicate, and leaves its message for later instead of announcing the ticket twice.

Every decision is made with what the data layer knows about the ticket's context: the customer's record and the
outages active where they are served (``ServiceStatusStore``), which raise priority and are named in the reasons.

The logic is the plain class ``RoutingWorker`` with its router, stores and publisher injected; the Chalice
handler only adapts the Lambda event to it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Tracer
from chalice import Blueprint
from chalice.app import SQSEvent

from agent.cascade import deferred_reason, local_only
from datalayer.agent_queue import AgentQueue
from datalayer.clock import Clock, utc_now
from datalayer.customers import CustomerStore
from datalayer.events import AgentRequest, EventFormatError, TicketReceivedDetail, parse_envelope
from datalayer.metrics import PIPELINE, MetricSink, PowertoolsMetrics, record_final, record_provisional
from datalayer.publisher import EventPublisher
from datalayer.records import TicketStatus
from datalayer.service_status import ServiceStatusStore
from datalayer.settings import AgentProvider, RoutingPolicy, Settings, get_settings
from datalayer.tickets import TicketStore
from datalayer.types import CustomerContext, RoutingDecision, ServiceStatus, Ticket
from workers.batch import PerThreadWorker, batch_response, receives
from workers.limits import BATCH_SIZE, BATCHING_WINDOW_SECONDS, MAX_RECEIVE_COUNT, WORKER_TIMEOUT_SECONDS

logger = Logger(service="switchboard-worker")
tracer = Tracer(service="switchboard-worker")
"""X-Ray: a subsegment per ticket, annotated with its id and correlation id (off outside Lambda)."""
metrics = PowertoolsMetrics(service=PIPELINE)
worker = Blueprint(__name__)

DECIDED = frozenset({TicketStatus.ROUTED, TicketStatus.NEEDS_REVIEW})
FAILURE_REASON_MAX_CHARS = 1_000


class TicketRouter(Protocol):
    def route(
        self, ticket: Ticket, customer: CustomerContext | None = None, service: ServiceStatus | None = None
    ) -> RoutingDecision: ...


class StoredTicket(Protocol):
    """The part of ``datalayer.records.TicketRecord`` the worker reads."""

    @property
    def status(self) -> str: ...

    @property
    def routed_event_sent(self) -> bool: ...

    @property
    def decision(self) -> Mapping[str, Any] | None: ...

    @property
    def received_at(self) -> str: ...


class Store(Protocol):
    """The part of ``datalayer.tickets.TicketStore`` the worker uses."""

    def get(self, ticket_id: str) -> StoredTicket | None: ...

    def record_decision(
        self, ticket_id: str, decision: RoutingDecision, status: str, *, announce_within_s: int
    ) -> bool: ...

    def claim_announcement(self, ticket_id: str, *, announce_within_s: int) -> bool: ...

    def mark_routed_event_sent(self, ticket_id: str) -> None: ...

    def mark_failed(self, ticket_id: str, reason: str) -> bool: ...

    def record_provisional(self, ticket_id: str, decision: RoutingDecision) -> bool: ...


class Customers(Protocol):
    def get(self, customer_id: str) -> CustomerContext | None: ...


class ServiceStatusSource(Protocol):
    def status_for(self, customer: CustomerContext | None) -> ServiceStatus: ...


class AgentRequests(Protocol):
    """``datalayer.agent_queue.AgentQueue``."""

    def send(self, request: AgentRequest) -> None: ...


class Publisher(Protocol):
    def publish_routed(
        self, ticket_id: str, decision: RoutingDecision, status: str, correlation_id: str | None = None
    ) -> None: ...


class PoisonMessage(Exception):
    """The message can never be processed (not JSON, not a TicketReceived event, not a valid ticket)."""

    def __init__(self, reason: str, ticket_id: str | None = None) -> None:
        super().__init__(reason)
        self.ticket_id = ticket_id


class TicketNotStored(Exception):
    """The event arrived but the ticket's row is not readable yet; retrying is the right answer."""


class AnnouncementInFlight(Exception):
    """Another delivery stored this ticket's decision moments ago and is announcing it; retry to confirm."""


class Outcome(StrEnum):
    ROUTED = "routed"
    NEEDS_REVIEW = "needs_review"
    DUPLICATE = "duplicate"
    """Another delivery already decided and announced this ticket."""
    EVENT_REPAIRED = "event_repaired"
    """The decision was stored by an earlier delivery that died before announcing it; this one announced it."""
    DEFERRED = "deferred"
    """The fast router was unsure: its decision is stored as provisional and the ticket is in the agent queue."""
    FAILED = "failed"


@dataclass(frozen=True)
class RecordResult:
    message_id: str
    outcome: Outcome
    ticket_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILED


def parse_received(body: str) -> TicketReceivedDetail:
    """The TicketReceived event in an EventBridge envelope (the ticket and its correlation id); ``PoisonMessage``
    for anything else."""
    try:
        return parse_envelope(body, TicketReceivedDetail)
    except EventFormatError as error:
        raise PoisonMessage(str(error), error.ticket_id) from error


class RoutingWorker:
    """Processes one SQS batch; every dependency is injected so that tests can make any of them fail."""

    def __init__(
        self,
        router: TicketRouter,
        store: Store,
        customers: Customers,
        service_status: ServiceStatusSource,
        publisher: Publisher,
        *,
        metrics: MetricSink,
        policy: RoutingPolicy = RoutingPolicy.CASCADE,
        agent_requests: AgentRequests | None = None,
        max_receive_count: int = MAX_RECEIVE_COUNT,
        clock: Clock = utc_now,
    ) -> None:
        """``policy`` decides which tickets go to the agent tier; ``agent_requests`` None: no provider, the cascade
        runs local-only and those tickets go to manual review instead."""
        self.router = router
        self.store = store
        self.customers = customers
        self.service_status = service_status
        self.publisher = publisher
        self.policy = policy
        self.agent_requests = agent_requests
        self.metrics = metrics
        self.max_receive_count = max_receive_count
        self.clock = clock

    def process_batch(self, records: Iterable[Mapping[str, Any]]) -> list[RecordResult]:
        return [self.process_record(record) for record in records]

    def process_record(self, record: Mapping[str, Any]) -> RecordResult:
        message_id = record["messageId"]
        receive_count = receives(record)
        ticket_id: str | None = None
        try:
            received = parse_received(record["body"])
            ticket_id = received.ticket.ticket_id
            logger.thread_safe_append_keys(correlation_id=received.correlation_id)
            outcome = self._handle(received.ticket, received.correlation_id)
        except Exception as error:
            if isinstance(error, PoisonMessage):
                ticket_id = error.ticket_id
            self._on_failure(message_id, ticket_id, receive_count, error)
            return RecordResult(message_id, Outcome.FAILED, ticket_id)
        logger.info(
            "ticket processed",
            extra={
                "ticket_id": ticket_id,
                "message_id": message_id,
                "outcome": outcome,
                "receive_count": receive_count,
            },
        )
        return RecordResult(message_id, outcome, ticket_id)

    @tracer.capture_method(capture_response=False)
    def _handle(self, ticket: Ticket, correlation_id: str | None) -> Outcome:
        tracer.put_annotation("ticket_id", ticket.ticket_id)
        tracer.put_annotation("correlation_id", correlation_id or "")
        stored = self.store.get(ticket.ticket_id)
        if stored is None:
            raise TicketNotStored(ticket.ticket_id)
        if stored.status == TicketStatus.AWAITING_AGENT:
            # An earlier delivery stored the provisional decision; its agent request may not have gone out.
            decision = RoutingDecision.model_validate(stored.decision)
            self._request_agent(
                ticket.ticket_id, decision.deferred_reason or "unsure", correlation_id, stored.received_at
            )
            return Outcome.DEFERRED
        if stored.status in DECIDED:
            if stored.routed_event_sent:
                return Outcome.DUPLICATE
            if not self.store.claim_announcement(ticket.ticket_id, announce_within_s=WORKER_TIMEOUT_SECONDS):
                raise AnnouncementInFlight(ticket.ticket_id)
            decision = RoutingDecision.model_validate(stored.decision)
            self._announce(ticket.ticket_id, decision, stored.status, correlation_id)
            return Outcome.EVENT_REPAIRED

        started = time.perf_counter()
        customer = self.customers.get(ticket.customer_id)
        decision = self.router.route(ticket, customer, self.service_status.status_for(customer))
        deferred = deferred_reason(decision, self.policy)
        if deferred is not None:
            if self.agent_requests is not None:
                decision = decision.model_copy(update={"deferred_reason": deferred})
                if not self.store.record_provisional(ticket.ticket_id, decision):
                    return Outcome.DUPLICATE
                record_provisional(self.metrics, stored.received_at, self.clock())
                self._request_agent(ticket.ticket_id, deferred, correlation_id, stored.received_at)
                logger.info(
                    "ticket deferred to the agent tier", extra={"ticket_id": ticket.ticket_id, "reason": deferred}
                )
                return Outcome.DEFERRED
            decision = local_only(decision, deferred)
        status = TicketStatus.NEEDS_REVIEW if decision.requires_manual_review else TicketStatus.ROUTED
        if not self.store.record_decision(ticket.ticket_id, decision, status, announce_within_s=WORKER_TIMEOUT_SECONDS):
            return Outcome.DUPLICATE
        record_final(self.metrics, decision, status is TicketStatus.NEEDS_REVIEW, stored.received_at, self.clock())
        self._announce(ticket.ticket_id, decision, status, correlation_id)
        logger.info(
            "ticket routed",
            extra={
                "ticket_id": ticket.ticket_id,
                "team": decision.team,
                "confidence": round(decision.confidence, 3),
                "priority": decision.priority.level,
                "status": status,
                "route_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return Outcome(status.value)

    def _request_agent(self, ticket_id: str, reason: str, correlation_id: str | None, received_at: str) -> None:
        assert self.agent_requests is not None, "a ticket awaits the agent in a stage without an agent provider"
        self.agent_requests.send(
            AgentRequest(
                ticket_id=ticket_id, deferred_reason=reason, correlation_id=correlation_id, received_at=received_at
            )
        )

    def _announce(self, ticket_id: str, decision: RoutingDecision, status: str, correlation_id: str | None) -> None:
        self.publisher.publish_routed(ticket_id, decision, status, correlation_id)
        self.store.mark_routed_event_sent(ticket_id)

    def _on_failure(self, message_id: str, ticket_id: str | None, receive_count: int, error: Exception) -> None:
        """Log, and on the last delivery SQS allows, leave the reason on the ticket for the people who look."""
        reason = f"{type(error).__name__}: {error}"[:FAILURE_REASON_MAX_CHARS]
        last = receive_count >= self.max_receive_count
        fields = {"ticket_id": ticket_id, "message_id": message_id, "receive_count": receive_count, "reason": reason}
        if isinstance(error, PoisonMessage):
            logger.error("poison message", extra=fields)
        elif isinstance(error, AnnouncementInFlight):
            logger.info("duplicate delivery while the decision is being announced; retried later", extra=fields)
        else:
            logger.exception("ticket failed", extra=fields)
        if not (last and ticket_id):
            return
        try:
            if self.store.mark_failed(ticket_id, reason):
                logger.warning("ticket marked failed; its message goes to the dead-letter queue", extra=fields)
        except Exception:
            logger.exception("could not mark ticket failed", extra=fields)


# ---------------------------------------------------------------------------------------------------------------
# the worker of this process


def build_default_worker(settings: Settings | None = None, router: TicketRouter | None = None) -> RoutingWorker:
    """The production wiring (``router`` replaces the model's, for tests).

    The router is imported here, not at the top, because ``app.py`` imports this module in the API Lambda as
    well, and the API must not pay for loading the model at cold start.
    """
    settings = settings or get_settings()
    if router is None:
        from agent.router import Router

        router = Router.load(settings=settings)
    agent_on = settings.agent_provider is not AgentProvider.NONE
    return RoutingWorker(
        router,
        TicketStore(settings),
        CustomerStore(settings),
        ServiceStatusStore(settings),
        EventPublisher(settings),
        metrics=metrics,
        policy=settings.routing_policy,
        agent_requests=AgentQueue(settings) if agent_on else None,
    )


_workers: PerThreadWorker[RoutingWorker] = PerThreadWorker(build_default_worker)
use_worker_factory = _workers.use
"""Replace how the handler builds its worker (tests, benchmarks, the local stack)."""
current_worker = _workers.current


@worker.on_sqs_message(
    queue=get_settings().routing_queue,
    batch_size=BATCH_SIZE,
    maximum_batching_window_in_seconds=BATCHING_WINDOW_SECONDS,
    name="route_tickets",
)
def route_tickets(event: SQSEvent) -> dict[str, list[dict[str, str]]]:
    """Lambda entry point (``ReportBatchItemFailures`` on its event source mapping: infra.cdk.app_stack sets it)."""
    logger.thread_safe_append_keys(function_request_id=getattr(event.context, "aws_request_id", None))
    results = current_worker().process_batch(record.to_dict() for record in event)
    failed = sum(r.failed for r in results)
    logger.info("batch processed", extra={"records": len(results), "failed": failed})
    metrics.flush()
    return batch_response(results)
