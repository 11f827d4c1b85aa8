"""What the worker already knows about a ticket when it asks the agent: everything cheap, gathered once.

The first message is written from it (``agent.llm.prompt``), so that a typical ticket needs one model call and
no tool; the tools that need the ticket at hand (priority, history) read it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datalayer.types import CustomerContext, ExtractedEntities, PastTicket, ServiceStatus, Ticket


@dataclass(frozen=True)
class AgentContext:
    """One ticket and what is known about it.

    ``top_teams``: the fast router's best teams with their calibrated probabilities, best first (three are
    shown). ``customer`` is None when the ticketing system sent an id we hold no record of; ``service`` None when
    the outages were not read; ``history`` the customer's earlier tickets, newest first, without this one.
    """

    ticket: Ticket
    top_teams: list[tuple[str, float]]
    entities: ExtractedEntities = field(default_factory=ExtractedEntities)
    customer: CustomerContext | None = None
    service: ServiceStatus | None = None
    history: list[PastTicket] = field(default_factory=list)
