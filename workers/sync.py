"""The sync worker: TicketRouted events in, each final decision written once to the ticketing system.

The event names the ticket; the decision (reasoning, troubleshooting) is read from the ticket store, and the
adapter (``workers.ticketing``, Zendesk by default) sets the ticket's group, priority and tags and adds one private
comment. ``sync_status`` on the ticket says where it stands: ``pending`` from the decision on, ``synced`` once the
system accepted it, ``failed`` when the sync gave up and its message is in the sync dead-letter queue.

What happens when the ticketing system fails depends on what a retry can achieve (``workers.ticketing.base``):

* unavailable (5xx, timeouts, 409) or throttled (429): retried in process after 1, 2, 4, 8 and 16 s, or after the
  Retry-After the system sent, as long as one more attempt fits in the Lambda's time; then the message goes back
  to the queue and is tried again on a later receive. On its last receive the ticket is marked ``failed`` and
  SQS moves the message to the dead-letter queue, from which ``switchboard dlq redrive sync`` brings it back once
  the system is up again;
* credentials refused after re-reading the secret: not retried in process, otherwise the same;
* rejected for good (no such ticket, a closed ticket, a team without a group) and poison messages (not JSON, not
  a TicketRouted event, a ticket we do not have or have not decided): no retries at all. The message goes to the
  dead-letter queue at once and the ticket, when it has a decision, is marked ``failed`` with the reason.

Idempotent, like the other workers: a ticket already ``synced`` is skipped; two deliveries at once cannot both
write, because the one that writes first claims the ticket (``TicketStore.claim_sync``); and a delivery that dies
after the system's 200 but before ``mark_synced`` is repaired by the redelivery, whose adapter finds the
decision's marker in the ticket's comments and does not add a second one.

Metrics (CloudWatch EMF, namespace Switchboard, service sync-worker): ``TicketsSynced``, ``SyncRetries`` (in-process
retries), ``SyncFailures`` (tickets marked ``failed``: alarm on it), ``SyncLatencyMs`` (the event's arrival in the
sync queue to ``synced``).
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
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from datalayer.dead_letters import DeadLetterQueue
from datalayer.events import EventFormatError, TicketRoutedDetail, parse_envelope
from datalayer.metrics import MetricSink, PowertoolsMetrics
from datalayer.records import SyncStatus, TicketStatus
from datalayer.secrets import SecretReader
from datalayer.settings import Settings, get_settings
from datalayer.tickets import TicketStore
from datalayer.types import RoutingDecision
from workers.batch import PerThreadWorker, batch_response, receives
from workers.limits import (
    MAX_RECEIVE_COUNT,
    SYNC_BACKOFF_SECONDS,
    SYNC_BATCH_SIZE,
    SYNC_REQUESTS_PER_ATTEMPT,
    SYNC_SAFETY_SECONDS,
    SYNC_WORKER_TIMEOUT_SECONDS,
)
from workers.ticketing.base import (
    DecisionUpdate,
    TicketingAuthError,
    TicketingRejectedError,
    TicketingSystem,
    TicketingThrottledError,
    TicketingUnavailableError,
)

logger = Logger(service="switchboard-sync-worker")
tracer = Tracer(service="switchboard-sync-worker")
"""X-Ray: a subsegment per ticket, annotated with its id and correlation id (off outside Lambda)."""
metrics = PowertoolsMetrics(service="sync-worker")
sync_worker = Blueprint(__name__)

FAILURE_REASON_MAX_CHARS = 1_000


# --------------------------------------------------------------------------------------------------- collaborators


class StoredTicket(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def decision(self) -> Mapping[str, Any] | None: ...

    @property
    def sync_status(self) -> SyncStatus | None: ...


class Tickets(Protocol):
    """The part of ``datalayer.tickets.TicketStore`` the sync worker uses."""

    def get(self, ticket_id: str) -> StoredTicket | None: ...

    def claim_sync(self, ticket_id: str, *, lease_s: int) -> bool: ...

    def release_sync_claim(self, ticket_id: str) -> None: ...

    def mark_synced(self, ticket_id: str) -> None: ...

    def mark_sync_failed(self, ticket_id: str, reason: str) -> bool: ...


class DeadLetters(Protocol):
    """``datalayer.dead_letters.DeadLetterQueue`` of the sync queue."""

    def send(self, body: str, reason: str) -> None: ...


Clock = Callable[[], float]
"""Seconds since the epoch (``time.time``): the backoff's deadline and the latency metric read it."""


# --------------------------------------------------------------------------------------------------- outcomes


class Outcome(StrEnum):
    SYNCED = "synced"
    DUPLICATE = "duplicate"
    """The ticket was synced by an earlier delivery."""
    NOT_CONFIGURED = "not_configured"
    """No ticketing system in this stage (``ticketing_base_url`` unset): the ticket stays ``pending``."""
    DEAD_LETTERED = "dead_lettered"
    """Retrying cannot help: the message is in the dead-letter queue, the ticket (if any) marked ``failed``."""
    RETRY_LATER = "retry_later"
    """The system is unavailable or another delivery holds the ticket: the message goes back to the queue."""
    FAILED = "failed"
    """The last receive failed too: the ticket is marked ``failed`` and SQS moves the message to the DLQ."""


@dataclass(frozen=True)
class RecordResult:
    message_id: str
    outcome: Outcome
    ticket_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in (Outcome.RETRY_LATER, Outcome.FAILED)


class UnsyncableError(Exception):
    """The message names no ticket we could ever sync (unknown ticket, no final decision)."""


class SyncInFlight(Exception):
    """Another delivery of this ticket is writing to the ticketing system right now."""


PERMANENT = (EventFormatError, UnsyncableError, TicketingRejectedError)
"""Failures no retry can fix: the message goes to the dead-letter queue on its first receive."""


# --------------------------------------------------------------------------------------------------- the worker


class SyncWorker:
    """Processes one SQS batch of TicketRouted events; every collaborator is injected so tests can make any fail."""

    def __init__(
        self,
        tickets: Tickets,
        system: TicketingSystem | None,
        dead_letters: DeadLetters,
        *,
        metrics: MetricSink,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = time.time,
        backoff_deadline_s: float,
        max_receive_count: int = MAX_RECEIVE_COUNT,
    ) -> None:
        """``system`` None: this stage syncs nothing. ``backoff_deadline_s``: no in-process wait may end later than
        this many seconds after the record's processing began (the function ``backoff_deadline_s`` computes it)."""
        self.tickets = tickets
        self.system = system
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.sleep = sleep
        self.clock = clock
        self.backoff_deadline_s = backoff_deadline_s
        self.max_receive_count = max_receive_count

    def process_batch(self, records: Iterable[Mapping[str, Any]]) -> list[RecordResult]:
        return [self.process_record(record) for record in records]

    def process_record(self, record: Mapping[str, Any]) -> RecordResult:
        message_id = record["messageId"]
        receive_count = receives(record)
        ticket_id: str | None = None
        try:
            routed = parse_envelope(record["body"], TicketRoutedDetail)
            ticket_id = routed.ticket_id
            logger.thread_safe_append_keys(correlation_id=routed.correlation_id)
            outcome = self._handle(ticket_id, started=self.clock())
        except PERMANENT as error:
            if isinstance(error, EventFormatError):
                ticket_id = error.ticket_id
            outcome = self._dead_letter(record, ticket_id, receive_count, error)
        except SyncInFlight:
            logger.info("another delivery is syncing this ticket; retried later", extra={"ticket_id": ticket_id})
            outcome = Outcome.RETRY_LATER
        except Exception as error:
            outcome = self._give_back(ticket_id, receive_count, error)
        if outcome is Outcome.SYNCED:
            self._record_latency(record)
        logger.info(
            "sync message processed",
            extra={
                "ticket_id": ticket_id,
                "message_id": message_id,
                "outcome": outcome,
                "receive_count": receive_count,
            },
        )
        return RecordResult(message_id, outcome, ticket_id)

    # -- one ticket --------------------------------------------------------------------------------------------

    @tracer.capture_method(capture_response=False)
    def _handle(self, ticket_id: str, started: float) -> Outcome:
        tracer.put_annotation("ticket_id", ticket_id)
        stored = self.tickets.get(ticket_id)
        if stored is None:
            raise UnsyncableError(f"ticket {ticket_id} is not in the ticket store")
        if not TicketStatus(stored.status).is_final or stored.decision is None:
            raise UnsyncableError(f"ticket {ticket_id} has no final decision (status {stored.status})")
        if stored.sync_status is SyncStatus.SYNCED:
            return Outcome.DUPLICATE
        if self.system is None:
            return Outcome.NOT_CONFIGURED
        if not self.tickets.claim_sync(ticket_id, lease_s=SYNC_WORKER_TIMEOUT_SECONDS):
            again = self.tickets.get(ticket_id)
            if again is not None and again.sync_status is SyncStatus.SYNCED:
                return Outcome.DUPLICATE
            raise SyncInFlight(ticket_id)
        update = DecisionUpdate.of(ticket_id, RoutingDecision.model_validate(stored.decision))
        try:
            self._apply_with_backoff(self.system, update, started)
            self.tickets.mark_synced(ticket_id)
        except Exception:
            self._release(ticket_id)
            raise
        self.metrics.add("TicketsSynced", 1)
        return Outcome.SYNCED

    def _apply_with_backoff(self, system: TicketingSystem, update: DecisionUpdate, started: float) -> None:
        """Apply; while the system is unavailable, wait (1, 2, 4, 8, 16 s or its Retry-After) and try again, as
        long as the wait ends before the deadline."""

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number > len(SYNC_BACKOFF_SECONDS):
                return True
            return self.clock() - started + _wait(state) > self.backoff_deadline_s

        def before_sleep(state: RetryCallState) -> None:
            self.metrics.add("SyncRetries", 1)
            error = state.outcome.exception() if state.outcome is not None else None
            logger.info(
                "ticketing system unavailable; retrying",
                extra={"ticket_id": update.ticket_id, "attempt": state.attempt_number, "wait_s": _wait(state),
                       "reason": str(error)},
            )

        retrying = Retrying(
            retry=retry_if_exception_type(TicketingUnavailableError),
            stop=stop,
            wait=_wait,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        retrying(system.apply, update)

    # -- endings -----------------------------------------------------------------------------------------------

    def _dead_letter(
        self, record: Mapping[str, Any], ticket_id: str | None, receive_count: int, error: Exception
    ) -> Outcome:
        """Straight to the dead-letter queue; if even that fails, the message is retried like any failure."""
        reason = _reason(error)
        try:
            self.dead_letters.send(record["body"], reason)
        except Exception as dlq_error:
            logger.exception("could not dead-letter a message", extra={"ticket_id": ticket_id, "reason": reason})
            return self._give_back(ticket_id, receive_count, dlq_error)
        logger.error("sync given up: message dead-lettered", extra={"ticket_id": ticket_id, "reason": reason})
        if ticket_id is not None and not isinstance(error, UnsyncableError):  # no decision: no sync to fail
            self._mark_failed(ticket_id, reason)
        return Outcome.DEAD_LETTERED

    def _give_back(self, ticket_id: str | None, receive_count: int, error: Exception) -> Outcome:
        """Back to the queue; on the last receive SQS allows, mark the ticket ``failed`` first."""
        reason = _reason(error)
        fields = {"ticket_id": ticket_id, "receive_count": receive_count, "reason": reason}
        if isinstance(error, TicketingUnavailableError | TicketingAuthError):
            logger.warning("ticketing system unavailable; message back to the queue", extra=fields)
        else:
            logger.exception("sync failed", extra=fields)
        if receive_count < self.max_receive_count:
            return Outcome.RETRY_LATER
        if ticket_id is not None:
            self._mark_failed(ticket_id, reason)
        return Outcome.FAILED

    def _mark_failed(self, ticket_id: str, reason: str) -> None:
        try:
            if self.tickets.mark_sync_failed(ticket_id, reason):
                self.metrics.add("SyncFailures", 1)
                logger.warning("ticket marked sync failed", extra={"ticket_id": ticket_id, "reason": reason})
        except Exception:
            logger.exception("could not mark the ticket sync failed", extra={"ticket_id": ticket_id})

    def _release(self, ticket_id: str) -> None:
        try:
            self.tickets.release_sync_claim(ticket_id)
        except Exception:  # the lease runs out by itself
            logger.exception("could not release the sync claim", extra={"ticket_id": ticket_id})

    def _record_latency(self, record: Mapping[str, Any]) -> None:
        """From the event's arrival in the sync queue (SQS ``SentTimestamp``) to now."""
        sent_ms = record.get("attributes", {}).get("SentTimestamp")
        if sent_ms:
            latency_ms = max(0.0, self.clock() * 1000 - int(sent_ms))
            self.metrics.add("SyncLatencyMs", latency_ms, MetricUnit.Milliseconds)


def _wait(state: RetryCallState) -> float:
    """The system's Retry-After when it sent one, else the next step of the backoff."""
    error = state.outcome.exception() if state.outcome is not None else None
    if isinstance(error, TicketingThrottledError) and error.retry_after_s is not None:
        return error.retry_after_s
    return SYNC_BACKOFF_SECONDS[min(state.attempt_number, len(SYNC_BACKOFF_SECONDS)) - 1]


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:FAILURE_REASON_MAX_CHARS]


def backoff_deadline_s(settings: Settings) -> float:
    """When the last in-process wait must end so that one more attempt and the store writes fit in the Lambda's
    time (``workers.limits.SYNC_WORKER_TIMEOUT_SECONDS``)."""
    attempt_s = SYNC_REQUESTS_PER_ATTEMPT * settings.ticketing_timeout_s
    return max(0.0, SYNC_WORKER_TIMEOUT_SECONDS - SYNC_SAFETY_SECONDS - attempt_s)


# ---------------------------------------------------------------------------------------------------------------
# the worker of this process


def build_default_worker(settings: Settings | None = None, system: TicketingSystem | None = None) -> SyncWorker:
    """The production wiring: the Zendesk adapter when ``ticketing_base_url`` is set (``system`` replaces it).

    The adapter (and httpx with it) is imported here, not at the top: every Lambda of the app imports this module.
    """
    from workers.ticketing.zendesk import ZendeskTicketing

    settings = settings or get_settings()
    if system is None and settings.ticketing_base_url:
        system = ZendeskTicketing.from_settings(settings, SecretReader(settings))
    return SyncWorker(
        TicketStore(settings),
        system,
        DeadLetterQueue(settings, settings.sync_dlq),
        metrics=metrics,
        backoff_deadline_s=backoff_deadline_s(settings),
    )


_workers: PerThreadWorker[SyncWorker] = PerThreadWorker(build_default_worker)
use_worker_factory = _workers.use
"""Replace how the handler builds its worker (tests, benchmarks, the local stack)."""
current_worker = _workers.current


@sync_worker.on_sqs_message(queue=get_settings().sync_queue, batch_size=SYNC_BATCH_SIZE, name="sync_decisions")
def sync_decisions(event: SQSEvent) -> dict[str, list[dict[str, str]]]:
    """Lambda entry point (``ReportBatchItemFailures`` on its event source mapping; the template adds it)."""
    results = current_worker().process_batch(record.to_dict() for record in event)
    metrics.flush()
    return batch_response(results)
