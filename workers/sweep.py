"""The stuck-ticket sweep: no ticket stays ``received`` for good.

A ticket is stuck when it is still ``received`` ``settings.stuck_after_seconds`` after it arrived and
after its last publication: its TicketReceived event was never accepted (the client gave up on its 503),
or it was accepted but no decision followed (message lost, worker crashed, DLQ). Republishing is safe
because the worker's ``record_decision`` lets only one decision in. A ticket published
``settings.max_publish_attempts`` times without a decision is poison for the worker; it is marked
``failed`` so that it shows up for people instead of cycling through the queue forever.

Deployed, Chalice runs ``sweep_stuck_tickets`` every minute; the local stack calls ``republish_stuck``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from aws_lambda_powertools import Logger
from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent

from datalayer.errors import PublishError, StoreError
from datalayer.publisher import EventPublisher
from datalayer.settings import Settings, get_settings
from datalayer.tickets import TicketStore

logger = Logger(service="switchboard-sweep")
sweeper = Blueprint(__name__)


@dataclass(frozen=True)
class SweepReport:
    examined: int
    republished: int
    given_up: int
    stopped_on_error: bool


def republish_stuck(store: TicketStore, publisher: EventPublisher, settings: Settings) -> SweepReport:
    """Republish up to ``settings.sweep_batch_size`` stuck tickets, oldest first.

    The first dependency failure ends the run: when EventBridge or DynamoDB is failing, trying the
    rest of the batch would only spend the Lambda's time; the next run starts again from the oldest.
    """
    stuck = store.find_stuck(settings.stuck_after_seconds)
    republished = given_up = 0
    for record in stuck:
        try:
            if record.publish_count >= settings.max_publish_attempts:
                reason = f"not routed after {record.publish_count} publications"
                if store.mark_failed(record.ticket_id, reason):
                    given_up += 1
            else:
                publisher.publish_received(record.ticket, record.correlation_id)
                store.mark_published(record.ticket_id)
                republished += 1
        except (PublishError, StoreError) as exc:
            logger.warning("sweep stopped", extra={"ticket_id": record.ticket_id, "error": str(exc)})
            return SweepReport(len(stuck), republished, given_up, stopped_on_error=True)
    return SweepReport(len(stuck), republished, given_up, stopped_on_error=False)


def sweep_with_settings(settings: Settings) -> SweepReport:
    """One sweep with the production wiring for ``settings``."""
    return republish_stuck(TicketStore(settings), EventPublisher(settings), settings)


@sweeper.schedule(Rate(1, unit=Rate.MINUTES), description="Republish tickets stuck in received")
def sweep_stuck_tickets(event: CloudWatchEvent) -> None:
    """Scheduled entry point (the rate is fixed at deploy time)."""
    report = sweep_with_settings(get_settings())
    logger.info("sweep finished", extra=asdict(report))
