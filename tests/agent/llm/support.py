"""Builders shared by the agent tier's tests: tickets with personal data in them, contexts, model answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agent.entities import extract_entities
from agent.llm.context import AgentContext
from datalayer.types import CustomerContext, Outage, PastTicket, ServiceStatus, Ticket

PHONE = "(617) 555-0142"
EMAIL = "jane.doe@example.com"
ACCOUNT = "84951234"
ADDRESS = "12 Oak Street"
PERSONAL = (PHONE, "6175550142", EMAIL, ACCOUNT, ADDRESS)
"""Personal data in ``ticket()``; none of it may reach a model while masking is on."""

CREATED = datetime(2026, 11, 25, 14, 55, tzinfo=UTC)


def ticket(ticket_id: str = "T-1001", **overrides: Any) -> Ticket:
    fields: dict[str, Any] = {
        "ticket_id": ticket_id,
        "customer_id": "CUST-ENT-0001",
        "channel": "email",
        "subject": f"Internet down again, call {PHONE}",
        "description": (
            f"No internet since 8am at {ADDRESS}. Account #{ACCOUNT}. The modem shows error RDK-03003. "
            f"Write to {EMAIL}; I also want a credit of $40 for last week."
        ),
        "created_at": CREATED,
    }
    return Ticket(**{**fields, **overrides})


def customer(**overrides: Any) -> CustomerContext:
    fields: dict[str, Any] = {
        "customer_id": "CUST-ENT-0001",
        "vip": True,
        "account_type": "enterprise",
        "plan": "Business 1G",
        "region": "Springfield",
    }
    return CustomerContext(**{**fields, **overrides})


def outage(**overrides: Any) -> Outage:
    fields: dict[str, Any] = {
        "outage_id": "OUT-42",
        "region": "Springfield",
        "customers_affected": 1200,
        "started_at": datetime(2026, 11, 25, 9, 10, tzinfo=UTC),
    }
    return Outage(**{**fields, **overrides})


def context(the_ticket: Ticket | None = None, **overrides: Any) -> AgentContext:
    the_ticket = the_ticket or ticket()
    fields: dict[str, Any] = {
        "ticket": the_ticket,
        "top_teams": [
            ("Network Operations", 0.48),
            ("Billing Support", 0.31),
            ("Technical Support", 0.12),
            ("Account Management", 0.09),
        ],
        "entities": extract_entities(the_ticket.text),
        "customer": customer(),
        "service": ServiceStatus.of([outage()]),
        "history": [
            PastTicket(
                ticket_id="T-0999",
                received_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
                status="routed",
                subject=f"Bill wrong, reach me at {EMAIL}",
                team="Billing Support",
                category="Billing Dispute",
            )
        ],
    }
    return AgentContext(**{**fields, **overrides})


def verdict_input(team: str = "Network Operations", category: str = "Network Outage", **overrides: Any) -> dict:
    """What a model puts in its RoutingVerdict tool call."""
    return {"team": team, "category": category, "needs_human": False, "reasoning": "Area outage.", **overrides}


# -- model answers -------------------------------------------------------------------------------------------


def tool_use(name: str, tool_input: dict, use_id: str = "tu-1") -> dict:
    """A Converse content block calling a tool."""
    return {"toolUse": {"toolUseId": use_id, "name": name, "input": tool_input}}


def verdict_use(use_id: str = "tu-verdict", **overrides: Any) -> dict:
    return tool_use("RoutingVerdict", verdict_input(**overrides), use_id)


def converse(*content: dict, stop: str = "tool_use", input_tokens: int = 900, output_tokens: int = 60) -> dict:
    """A Converse response (what ``bedrock-runtime.converse`` returns) with the given content blocks."""
    return {
        "output": {"message": {"role": "assistant", "content": list(content)}},
        "stopReason": stop,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 321},
    }


# -- in-memory collaborators for the tools ---------------------------------------------------------------------


class MemoryStores:
    """Customers, service status and ticket history in memory, for tests that are about the model, not the stores."""

    def __init__(self, customers: list[CustomerContext] | None = None, outages: list[Outage] | None = None) -> None:
        self.customers = {c.customer_id: c for c in customers or []}
        self.outages = outages or []

    def get(self, customer_id: str) -> CustomerContext | None:
        return self.customers.get(customer_id)

    def status_for(self, customer: CustomerContext | None) -> ServiceStatus:
        region = customer.region if customer else None
        return ServiceStatus.of(o for o in self.outages if o.region in ("*", region))

    def history(self, customer_id: str, limit: int, *, exclude: str | None = None) -> list[PastTicket]:
        return []
