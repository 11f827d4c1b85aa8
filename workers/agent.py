"""The agent worker: agent-queue messages in, one final decision and one TicketRouted per ticket out.

The routing worker stored the fast router's decision as provisional (status ``awaiting_agent``) and queued the
ticket because the model's per-channel thresholds said the fast router was unsure. Here the agent tier (a
strands agent with tools, ``agent.llm``) decides team and category; priority, entities and troubleshooting are
then recomputed by the deterministic code for that team (``DecisionComposer``). The agent's own sense of
certainty is not a calibrated probability, so its decision goes to manual review only when it says so.

Idempotent like the routing worker, and more: SQS may hand one message to two invocations at once, and a model
call costs money, so the delivery that asks the agent first claims the ticket (``claim_agent_call``): a
concurrent delivery leaves its message for later and then finds the ticket final. Two deliveries plus a late
third make one model call, one final decision and one TicketRouted.

Every way the agent can fail to decide ends the same way: the fast decision becomes final, marked for manual
review, with the cause on the decision (``FallbackCause``). What happens first depends on the cause:

* output that fails validation after the agent's capped retries: finalise at once;
* throttling and timeouts: back off and retry in process a few times, then give the message back to the queue
  (visible again after ``AGENT_RETRY_DELAY_SECONDS``); on its last receive, finalise;
* other provider errors: count them in the shared circuit (``datalayer.circuit``); while the circuit is open,
  finalise at once, before calling;
* the day's budget spent (``datalayer.budget``): finalise at once, and a metric says the cascade runs local-only;
* no provider configured: finalise at once (the local stack without a model).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from chalice import Blueprint
from chalice.app import SQSEvent
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from agent.cascade import AgentDecisions, fall_back, fallback_cause
from agent.llm.answer import AgentAnswer
from agent.llm.context import AgentContext
from agent.llm.errors import (
    AgentError,
    AgentOutputError,
    AgentProviderError,
    AgentThrottledError,
    AgentTimeoutError,
)
from agent.llm.pricing import cost_usd
from agent.llm.verdict import Verdict
from datalayer.budget import DailyBudget, Reservation
from datalayer.circuit import CircuitState, ProviderCircuit
from datalayer.clock import Clock, utc_now
from datalayer.customers import CustomerStore
from datalayer.events import AgentRequest, EventFormatError
from datalayer.metrics import MetricSink, PowertoolsMetrics, record_final
from datalayer.publisher import EventPublisher
from datalayer.records import TicketStatus
from datalayer.secrets import SecretError, SecretReader
from datalayer.service_status import ServiceStatusStore
from datalayer.settings import AgentProvider, Settings, get_settings
from datalayer.tickets import TicketStore
from datalayer.types import (
    AgentUsage,
    CustomerContext,
    FallbackCause,
    PastTicket,
    RoutingDecision,
    ServiceStatus,
    Ticket,
)
from workers.batch import PerThreadWorker, batch_response, receives
from workers.limits import (
    AGENT_BATCH_SIZE,
    AGENT_RETRY_DELAY_SECONDS,
    AGENT_WORKER_TIMEOUT_SECONDS,
    MAX_RECEIVE_COUNT,
)

logger = Logger(service="switchboard-agent-worker")
tracer = Tracer(service="switchboard-agent-worker")
"""X-Ray: a subsegment per ticket, annotated with its id and correlation id (off outside Lambda)."""
metrics = PowertoolsMetrics(service="agent-worker")
agent_worker = Blueprint(__name__)

FAILURE_REASON_MAX_CHARS = 1_000
IN_PROCESS_ATTEMPTS = 3
"""Calls per delivery when the provider throttles or times out: 1 s and 2 s apart, well inside the Lambda timeout."""


# --------------------------------------------------------------------------------------------------- collaborators


class TicketAgent(Protocol):
    """``agent.llm.routing_agent.RoutingAgent``."""

    def decide(self, context: AgentContext) -> AgentAnswer: ...


class DecisionComposer(Protocol):
    """``agent.cascade.AgentDecisions``: turns the agent's team and category into a full decision."""

    def compose(
        self,
        ticket: Ticket,
        provisional: RoutingDecision,
        verdict: Verdict,
        usage: AgentUsage,
        customer: CustomerContext | None,
        service: ServiceStatus | None,
    ) -> RoutingDecision: ...


class StoredTicket(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def ticket(self) -> Ticket: ...

    @property
    def routed_event_sent(self) -> bool: ...

    @property
    def decision(self) -> Mapping[str, Any] | None: ...


class Tickets(Protocol):
    """The part of ``datalayer.tickets.TicketStore`` the agent worker uses."""

    def get(self, ticket_id: str) -> StoredTicket | None: ...

    def history(self, customer_id: str, limit: int, *, exclude: str | None = None) -> list[PastTicket]: ...

    def claim_agent_call(self, ticket_id: str, *, lease_s: int) -> bool: ...

    def release_agent_claim(self, ticket_id: str) -> None: ...

    def finalize_decision(
        self, ticket_id: str, decision: RoutingDecision, status: str, *, announce_within_s: int
    ) -> bool: ...

    def claim_announcement(self, ticket_id: str, *, announce_within_s: int) -> bool: ...

    def mark_routed_event_sent(self, ticket_id: str) -> None: ...


class Customers(Protocol):
    def get(self, customer_id: str) -> CustomerContext | None: ...


class ServiceStatusSource(Protocol):
    def status_for(self, customer: CustomerContext | None) -> ServiceStatus: ...


class Publisher(Protocol):
    def publish_routed(
        self, ticket_id: str, decision: RoutingDecision, status: str, correlation_id: str | None = None
    ) -> None: ...


class Budget(Protocol):
    def reserve(self, usd: float, tokens: int) -> Reservation | None: ...

    def settle(self, reservation: Reservation, usd: float, tokens: int) -> None: ...


class Circuit(Protocol):
    def allow(self) -> bool: ...

    def record_success(self) -> None: ...

    def record_failure(self) -> CircuitState: ...


Requeue = Callable[[Mapping[str, Any], int], None]
"""Makes an SQS record visible again after that many seconds (``datalayer.agent_queue.AgentQueue.retry_later``)."""


# --------------------------------------------------------------------------------------------------- outcomes


class Outcome(StrEnum):
    DECIDED = "decided"
    """The agent decided; its decision is final."""
    FELL_BACK = "fell_back"
    """The agent could not decide; the fast decision is final, marked for manual review."""
    DUPLICATE = "duplicate"
    EVENT_REPAIRED = "event_repaired"
    RETRY_LATER = "retry_later"
    """The message goes back to the queue (throttled, timed out, or another delivery holds the ticket)."""
    FAILED = "failed"


@dataclass(frozen=True)
class RecordResult:
    message_id: str
    outcome: Outcome
    ticket_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in (Outcome.FAILED, Outcome.RETRY_LATER)


class TicketNotStored(Exception):
    """The request names a ticket the store does not hold (yet); retrying is the right answer."""


class AgentCallInFlight(Exception):
    """Another delivery of this ticket is asking the agent right now."""


class AnnouncementInFlight(Exception):
    """Another delivery finalised this ticket moments ago and is announcing it."""


class GiveBack(Exception):
    """The provider throttled or timed out past the in-process retries: the message returns to the queue."""

    def __init__(self, cause: FallbackCause) -> None:
        super().__init__(cause.value)
        self.cause = cause


# --------------------------------------------------------------------------------------------------- the worker


class AgentWorker:
    """Processes one SQS batch of agent requests; every collaborator is injected so tests can make any fail."""

    def __init__(
        self,
        agent: TicketAgent | None,
        composer: DecisionComposer,
        tickets: Tickets,
        customers: Customers,
        service_status: ServiceStatusSource,
        publisher: Publisher,
        budget: Budget,
        circuit: Circuit,
        settings: Settings,
        *,
        requeue: Requeue,
        metrics: MetricSink,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utc_now,
        max_receive_count: int = MAX_RECEIVE_COUNT,
    ) -> None:
        self.agent = agent
        self.composer = composer
        self.tickets = tickets
        self.customers = customers
        self.service_status = service_status
        self.publisher = publisher
        self.budget = budget
        self.circuit = circuit
        self.settings = settings
        self.requeue = requeue
        self.metrics = metrics
        self.sleep = sleep
        self.clock = clock
        self.max_receive_count = max_receive_count

    def process_batch(self, records: Iterable[Mapping[str, Any]]) -> list[RecordResult]:
        return [self.process_record(record) for record in records]

    def process_record(self, record: Mapping[str, Any]) -> RecordResult:
        message_id = record["messageId"]
        receive_count = receives(record)
        last = receive_count >= self.max_receive_count
        ticket_id: str | None = None
        try:
            request = AgentRequest.parse(record["body"])
            ticket_id = request.ticket_id
            logger.thread_safe_append_keys(correlation_id=request.correlation_id)
            outcome = self._handle(request, last)
        except GiveBack as giving_back:
            self.requeue(record, AGENT_RETRY_DELAY_SECONDS)
            logger.warning(
                "agent unavailable; message back to the queue",
                extra={"ticket_id": ticket_id, "cause": giving_back.cause, "receive_count": receive_count},
            )
            return RecordResult(message_id, Outcome.RETRY_LATER, ticket_id)
        except (AgentCallInFlight, AnnouncementInFlight) as busy:
            logger.info(
                "another delivery holds this ticket; retried later",
                extra={"ticket_id": ticket_id, "reason": type(busy).__name__},
            )
            return RecordResult(message_id, Outcome.RETRY_LATER, ticket_id)
        except Exception as error:
            if isinstance(error, EventFormatError):
                ticket_id = error.ticket_id
            self._on_failure(message_id, ticket_id, receive_count, last, error)
            return RecordResult(message_id, Outcome.FAILED, ticket_id)
        logger.info(
            "agent request processed",
            extra={"ticket_id": ticket_id, "outcome": outcome, "receive_count": receive_count},
        )
        return RecordResult(message_id, outcome, ticket_id)

    # -- one request -------------------------------------------------------------------------------------------

    @tracer.capture_method(capture_response=False)
    def _handle(self, request: AgentRequest, last: bool) -> Outcome:
        tracer.put_annotation("ticket_id", request.ticket_id)
        tracer.put_annotation("correlation_id", request.correlation_id or "")
        stored = self.tickets.get(request.ticket_id)
        if stored is None:
            raise TicketNotStored(request.ticket_id)
        status = TicketStatus(stored.status)
        if status.is_final:
            return self._already_final(request, stored)
        if status is not TicketStatus.AWAITING_AGENT or stored.decision is None:
            logger.warning(
                "agent request for a ticket not awaiting the agent",
                extra={"ticket_id": request.ticket_id, "status": status},
            )
            return Outcome.DUPLICATE
        provisional = RoutingDecision.model_validate(stored.decision)
        if self.agent is None:
            return self._fall_back(request, provisional, FallbackCause.NO_PROVIDER, "no model provider")
        if not self.circuit.allow():
            return self._fall_back(request, provisional, FallbackCause.CIRCUIT_OPEN, "provider circuit open")
        if not self.tickets.claim_agent_call(request.ticket_id, lease_s=AGENT_WORKER_TIMEOUT_SECONDS):
            raise AgentCallInFlight(request.ticket_id)
        reservation = self.budget.reserve(self._worst_case_usd(), self.settings.agent_max_total_tokens)
        if reservation is None:
            self.metrics.add("CascadeLocalOnly", 1)
            return self._fall_back(request, provisional, FallbackCause.BUDGET_EXHAUSTED, "daily budget spent")
        return self._ask(request, stored.ticket, provisional, reservation, last)

    def _ask(
        self, request: AgentRequest, ticket: Ticket, provisional: RoutingDecision, reservation: Reservation, last: bool
    ) -> Outcome:
        customer = self.customers.get(ticket.customer_id)
        service = self.service_status.status_for(customer)
        context = AgentContext(
            ticket=ticket,
            top_teams=_top_teams(provisional, 3),
            entities=provisional.entities,
            customer=customer,
            service=service,
            history=self.tickets.history(ticket.customer_id, self.settings.history_limit, exclude=ticket.ticket_id),
        )
        started = time.perf_counter()
        try:
            answer = self._with_retries(context)
        except AgentOutputError as error:
            self._settle(reservation, error)
            self.circuit.record_success()  # the provider answered; the answers were unusable
            return self._fall_back(request, provisional, fallback_cause(error), str(error), started)
        except (AgentThrottledError, AgentTimeoutError) as error:
            self._settle(reservation, error)
            cause = fallback_cause(error)
            self.metrics.add("AgentThrottled" if cause is FallbackCause.THROTTLED else "AgentTimeouts", 1)
            return self._give_back_or_fall_back(request, provisional, cause, str(error), last, started)
        except AgentProviderError as error:
            self._settle(reservation, error)
            opened = self.circuit.record_failure() is CircuitState.OPEN
            cause = fallback_cause(error)
            return self._give_back_or_fall_back(request, provisional, cause, str(error), last or opened, started)
        self.budget.settle(reservation, answer.cost_usd, answer.input_tokens + answer.output_tokens)
        self.circuit.record_success()
        usage = AgentUsage(
            provider=self.settings.agent_provider.value,
            model_id=answer.model_id,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            model_calls=answer.model_calls,
            cost_usd=answer.cost_usd,
            latency_ms=answer.latency_ms,
            second_team=answer.verdict.second_team,
        )
        final = self.composer.compose(ticket, provisional, answer.verdict, usage, customer, service)
        status = TicketStatus.NEEDS_REVIEW if final.requires_manual_review else TicketStatus.ROUTED
        if not self.tickets.finalize_decision(
            ticket.ticket_id, final, status, announce_within_s=AGENT_WORKER_TIMEOUT_SECONDS
        ):
            return Outcome.DUPLICATE
        record_final(self.metrics, final, status is TicketStatus.NEEDS_REVIEW, request.received_at, self.clock())
        self._announce(request, final, status)
        self.metrics.add("AgentDecisions", 1)
        self.metrics.add("AgentCostUSD", answer.cost_usd, MetricUnit.NoUnit)
        self.metrics.add("AgentTokens", answer.input_tokens + answer.output_tokens)
        logger.info(
            "agent decided",
            extra={
                "ticket_id": ticket.ticket_id,
                "team": final.team,
                "fast_team": provisional.team,
                "status": status,
                "tokens": answer.input_tokens + answer.output_tokens,
                "cost_usd": answer.cost_usd,
                "latency_ms": round(answer.latency_ms),
            },
        )
        return Outcome.DECIDED

    def _with_retries(self, context: AgentContext) -> AgentAnswer:
        """Throttling and timeouts are retried in process, 1 s then 2 s apart; everything else is not."""
        assert self.agent is not None
        retrying = Retrying(
            retry=retry_if_exception_type((AgentThrottledError, AgentTimeoutError)),
            stop=stop_after_attempt(IN_PROCESS_ATTEMPTS),
            wait=wait_exponential(multiplier=1, max=4),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(self.agent.decide, context)

    def _give_back_or_fall_back(
        self,
        request: AgentRequest,
        provisional: RoutingDecision,
        cause: FallbackCause,
        detail: str,
        finalise: bool,
        started: float,
    ) -> Outcome:
        if finalise:
            return self._fall_back(request, provisional, cause, detail, started)
        self.tickets.release_agent_claim(request.ticket_id)
        raise GiveBack(cause)

    # -- endings -----------------------------------------------------------------------------------------------

    def _fall_back(
        self,
        request: AgentRequest,
        provisional: RoutingDecision,
        cause: FallbackCause,
        detail: str,
        started: float | None = None,
    ) -> Outcome:
        """The one way every agent failure ends: the fast decision, final, for a person to check."""
        usage = AgentUsage(
            provider=self.settings.agent_provider.value,
            model_id=self.settings.agent_model_id if self.agent is not None else "",
            fallback=cause,
            latency_ms=(time.perf_counter() - started) * 1000 if started is not None else 0.0,
        )
        final = fall_back(provisional, usage, detail)
        status = TicketStatus.NEEDS_REVIEW
        if not self.tickets.finalize_decision(
            request.ticket_id, final, status, announce_within_s=AGENT_WORKER_TIMEOUT_SECONDS
        ):
            return Outcome.DUPLICATE
        record_final(self.metrics, final, True, request.received_at, self.clock())
        self._announce(request, final, status)
        self.metrics.add("AgentFallbacks", 1, cause=cause.value)
        logger.warning(
            "agent fallback: fast decision final, manual review",
            extra={"ticket_id": request.ticket_id, "cause": cause},
        )
        return Outcome.FELL_BACK

    def _already_final(self, request: AgentRequest, stored: StoredTicket) -> Outcome:
        if stored.routed_event_sent:
            return Outcome.DUPLICATE
        if not self.tickets.claim_announcement(request.ticket_id, announce_within_s=AGENT_WORKER_TIMEOUT_SECONDS):
            raise AnnouncementInFlight(request.ticket_id)
        decision = RoutingDecision.model_validate(stored.decision)
        self._announce(request, decision, stored.status)
        return Outcome.EVENT_REPAIRED

    def _announce(self, request: AgentRequest, decision: RoutingDecision, status: str) -> None:
        self.publisher.publish_routed(request.ticket_id, decision, status, request.correlation_id)
        self.tickets.mark_routed_event_sent(request.ticket_id)

    def _on_failure(
        self, message_id: str, ticket_id: str | None, receive_count: int, last: bool, error: Exception
    ) -> None:
        """Log; on the last delivery, finalise the fast decision so that no ticket waits for the agent for ever."""
        reason = f"{type(error).__name__}: {error}"[:FAILURE_REASON_MAX_CHARS]
        fields = {"ticket_id": ticket_id, "message_id": message_id, "receive_count": receive_count, "reason": reason}
        logger.exception("agent request failed", extra=fields)
        if not (last and ticket_id):
            return
        try:
            stored = self.tickets.get(ticket_id)
            if stored is not None and stored.status == TicketStatus.AWAITING_AGENT and stored.decision is not None:
                provisional = RoutingDecision.model_validate(stored.decision)
                request = AgentRequest(ticket_id=ticket_id, deferred_reason=provisional.deferred_reason or "")
                self._fall_back(request, provisional, FallbackCause.WORKER_ERROR, reason)
        except Exception:
            logger.exception("could not finalise the fast decision", extra=fields)

    def _worst_case_usd(self) -> float:
        """What one call may cost at most: every allowed token at the dearer of the two prices."""
        dearer = max(self.settings.agent_price_input_per_mtok, self.settings.agent_price_output_per_mtok)
        return self.settings.agent_max_total_tokens * dearer / 1_000_000

    def _settle(self, reservation: Reservation, error: AgentError) -> None:
        """Replace the reservation by what the failed run spent before failing."""
        spent = error.usage
        cost = cost_usd(spent.input_tokens, spent.output_tokens, self.settings)
        self.budget.settle(reservation, cost, spent.input_tokens + spent.output_tokens)


def _top_teams(decision: RoutingDecision, count: int) -> list[tuple[str, float]]:
    """The fast router's best ``count`` teams with their calibrated probabilities."""
    return [(score.team, score.confidence) for score in decision.ranked_teams[:count]]


# ---------------------------------------------------------------------------------------------------------------
# the worker of this process


def build_default_worker(settings: Settings | None = None, agent: TicketAgent | None = None) -> AgentWorker:
    """The production wiring: the model provider from the settings (``agent`` replaces it, for tests).

    strands is imported here and only here, so that importing ``app`` (every Lambda of the app does) never loads it.
    """
    from agent.router import Router
    from agent.taxonomy import load_taxonomy
    from datalayer.agent_queue import AgentQueue

    settings = settings or get_settings()
    if settings.agent_api_key_secret and settings.agent_api_key is None:
        key = SecretReader(settings).get(settings.agent_api_key_secret).get("api_key")
        if not isinstance(key, str) or not key:
            raise SecretError(f"secret {settings.agent_api_key_secret} has no api_key")
        settings = settings.derive(agent_api_key=key)
    # The taxonomy file, not the model's copy: the agent's prompt needs the routing rules the file carries.
    taxonomy = load_taxonomy()
    tickets, customers, service_status = TicketStore(settings), CustomerStore(settings), ServiceStatusStore(settings)
    if agent is None and settings.agent_provider is not AgentProvider.NONE:
        from agent.llm.providers import build_model
        from agent.llm.routing_agent import RoutingAgent
        from agent.llm.tools import RoutingTools

        classifier = Router.load(settings=settings).classifier
        tools = RoutingTools(
            taxonomy, classifier, customers, service_status, tickets, history_limit=settings.history_limit
        )
        model = build_model(settings)
        assert model is not None
        agent = RoutingAgent(model, tools.tools, taxonomy, settings)
    queue = AgentQueue(settings)
    return AgentWorker(
        agent,
        AgentDecisions(taxonomy),
        tickets,
        customers,
        service_status,
        EventPublisher(settings),
        DailyBudget(settings),
        ProviderCircuit(settings),
        settings,
        requeue=lambda record, delay: queue.retry_later(record["receiptHandle"], delay),
        metrics=metrics,
    )


_workers: PerThreadWorker[AgentWorker] = PerThreadWorker(build_default_worker)
use_worker_factory = _workers.use
"""Replace how the handler builds its worker (tests, benchmarks, the local stack)."""
current_worker = _workers.current


@agent_worker.on_sqs_message(
    queue=get_settings().agent_queue, batch_size=AGENT_BATCH_SIZE, name="decide_unsure_tickets"
)
def decide_unsure_tickets(event: SQSEvent) -> dict[str, list[dict[str, str]]]:
    """Lambda entry point (``ReportBatchItemFailures`` on its event source mapping; the template adds it)."""
    results = current_worker().process_batch(record.to_dict() for record in event)
    metrics.flush()
    return batch_response(results)
