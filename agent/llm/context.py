"""What the agent is told about a ticket (placeholder until the agent core lands)."""

from __future__ import annotations

from dataclasses import dataclass, field

from datalayer.types import CustomerContext, ExtractedEntities, PastTicket, ServiceStatus, Ticket


@dataclass(frozen=True)
class AgentContext:
    ticket: Ticket
    top_teams: list[tuple[str, float]]
    entities: ExtractedEntities
    customer: CustomerContext | None
    service: ServiceStatus
    history: list[PastTicket] = field(default_factory=list)
