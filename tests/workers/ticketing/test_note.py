"""The private comment carries the decision's reasoning and steps, and nothing about the customer the ticket
does not already hold."""

from __future__ import annotations

from agent.router import Router
from datalayer.types import (
    AccountType,
    AgentUsage,
    CustomerContext,
    DecisionTier,
    Outage,
    ServiceStatus,
    Ticket,
)
from tests.factories import make_decision
from workers.ticketing.base import DecisionUpdate, decision_marker
from workers.ticketing.note import AGENT_ASKED_FOR_A_PERSON

VIP_IN_SPRINGFIELD = CustomerContext(
    customer_id="CUST-ENT-0009",
    vip=True,
    account_type=AccountType.ENTERPRISE,
    plan="Enterprise Fiber 10G",
    region="Springfield",
    lifetime_value=1_250_000.0,
)
TICKET = Ticket(
    ticket_id="4711",
    customer_id="CUST-ENT-0009",
    subject="Charged twice",
    description="I was billed twice this month for my router rental, account 123456789.",
)


def test_the_fast_routers_reasoning_and_steps_are_in_it_and_the_customers_record_is_not() -> None:
    outage = Outage(outage_id="OUT-42", region="Springfield", service="internet", customers_affected=1200)
    decision = Router.load().route(TICKET, VIP_IN_SPRINGFIELD, ServiceStatus.of([outage]))
    assert any("VIP" in line for line in decision.reasoning)  # what must stay out of the comment

    update = DecisionUpdate.of("4711", decision)

    note = update.note
    assert f"Team: {decision.team} ({decision.category})" in note and f"Priority: {decision.priority.level}" in note
    assert any(line.startswith("Words that pointed there:") for line in decision.reasoning)
    assert "Words that pointed there:" in note
    assert decision.troubleshooting.steps and all(step.action in note for step in decision.troubleshooting.steps)
    for private in ("VIP", "Enterprise", "Springfield", "OUT-42", "Fiber", "1,250,000", "123456789"):
        assert private not in note, private
    assert note.endswith(update.marker) and update.marker == decision_marker("4711", decision)


def test_the_agent_tiers_own_words_stay_in_switchboard() -> None:
    words = "The customer is a suspended Mobile Unlimited subscriber who asked twice before."
    decision = make_decision("4711", team="Billing Support", category="Billing Dispute", requires_manual_review=True)
    decision = decision.model_copy(
        update={
            "tier": DecisionTier.AGENT,
            "agent": AgentUsage(provider="bedrock", model_id="claude-haiku"),
            "reasoning": ["Billing Support (Billing Dispute), decided by the agent tier.", words],
            "review_reasons": ["The agent asks for a person: suspended account with a past-due balance"],
        }
    )

    note = DecisionUpdate.of("4711", decision).note

    assert "Decided by: the agent tier (claude-haiku)" in note and AGENT_ASKED_FOR_A_PERSON in note
    assert "suspended" not in note and words not in note


def test_threshold_review_reasons_are_shown() -> None:
    decision = make_decision("4711", requires_manual_review=True)

    assert "Needs a person:\n- low confidence" in DecisionUpdate.of("4711", decision).note
