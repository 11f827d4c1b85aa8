"""What the sync worker asks of a ticketing system, and the errors that tell it what to do when that fails.

An adapter does one thing: ``apply`` a final decision to the ticket it concerns (assignment, priority, labels and
one private comment). It must be idempotent, because SQS delivers at least once and a worker can die between the
system's answer and our record of it: applying the same update twice leaves the ticket as applying it once did,
with one comment. ``DecisionUpdate.marker`` is the key that makes that possible: it is written into the comment,
and an adapter that finds it on the ticket skips the comment.

Adapters raise only ``TicketingError`` subclasses (anything else is a bug), chosen by what a retry can achieve:

* ``TicketingUnavailableError``: the system is down, slow or conflicting (5xx, timeouts, connection errors, 409);
  retried in process with backoff, then later from the queue. ``TicketingThrottledError`` carries Retry-After.
* ``TicketingAuthError``: the credentials were refused even after re-reading them; not retried in process (a
  rotation takes minutes), but the message comes back from the queue.
* ``TicketingRejectedError``: the system will never accept this update (no such ticket, a closed ticket, a team
  with no group); the sync gives up at once and the message goes to the dead-letter queue for on-call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from datalayer.types import PriorityLevel, RoutingDecision
from workers.ticketing.note import decision_note


@dataclass(frozen=True)
class DecisionUpdate:
    """A final decision as a ticketing system receives it."""

    ticket_id: str
    """Our ticket id, which is the ticketing system's own id (``datalayer.types.Ticket``)."""
    team: str
    category: str
    priority: PriorityLevel
    manual_review: bool
    note: str
    """The private comment: the decision's reasoning and troubleshooting steps (``workers.ticketing.note``)."""
    marker: str
    """Unique to this decision and contained in ``note``: finding it on the ticket means the comment is there."""

    @classmethod
    def of(cls, ticket_id: str, decision: RoutingDecision) -> DecisionUpdate:
        marker = decision_marker(ticket_id, decision)
        return cls(
            ticket_id=ticket_id,
            team=decision.team,
            category=decision.category,
            priority=decision.priority.level,
            manual_review=decision.requires_manual_review,
            note=decision_note(ticket_id, decision, marker),
            marker=marker,
        )


def decision_marker(ticket_id: str, decision: RoutingDecision) -> str:
    """``[switchboard:decision T-1001 2026-11-25T15:00:01.123456+00:00]``: a ticket has one final decision, and its
    time tells it apart from a decision a redriven ticket might get later."""
    return f"[switchboard:decision {ticket_id} {decision.decided_at.isoformat()}]"


class TicketingSystem(Protocol):
    def apply(self, update: DecisionUpdate) -> None:
        """Write ``update`` to its ticket, idempotently; raises only ``TicketingError`` subclasses."""
        ...


class TicketingError(Exception):
    """Base of every error an adapter raises on purpose."""


class TicketingUnavailableError(TicketingError):
    """The system did not answer, answered 5xx, or asked us to come back (409): worth retrying soon."""


class TicketingThrottledError(TicketingUnavailableError):
    """429 (or 503 with Retry-After): retry after ``retry_after_s`` seconds, when the system said how long."""

    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TicketingAuthError(TicketingError):
    """The credentials were refused, also after re-reading them from the secret."""


class TicketingRejectedError(TicketingError):
    """The system will never accept this update as it stands: retrying cannot help, on-call has to look."""


class TicketNotFoundError(TicketingRejectedError):
    """The ticketing system has no ticket with this id."""
