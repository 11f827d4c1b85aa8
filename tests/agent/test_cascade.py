"""The cascade's rules: what is deferred, how the agent's verdict becomes a decision, how a failure ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.cascade import EVERY_TICKET, AgentDecisions, deferred_reason, fall_back, local_only
from agent.llm.verdict import verdict_model
from agent.taxonomy import load_taxonomy
from datalayer.settings import RoutingPolicy
from datalayer.types import (
    AccountType,
    AgentUsage,
    CustomerContext,
    DecisionTier,
    FallbackCause,
    PriorityLevel,
    ServiceStatus,
    Ticket,
)
from tests.factories import make_decision

TAXONOMY = load_taxonomy()
Verdict = verdict_model(TAXONOMY)
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
TICKET = Ticket(
    ticket_id="T-1", customer_id="C-1", description="I was charged twice for my modem rental", created_at=NOW
)
USAGE = AgentUsage(provider="bedrock", model_id="haiku", input_tokens=900, output_tokens=80, cost_usd=0.0013)


def unsure(**update: object):
    decision = make_decision("T-1", team="Technical Support", category="Technical Problem", confidence=0.52)
    return decision.model_copy(
        update={
            "unsure_reasons": ["confidence 0.52 is below the web channel's 0.81"],
            "team_probabilities": {"Technical Support": 0.52, "Billing Support": 0.41, "Network Operations": 0.07},
            **update,
        }
    )


@pytest.mark.parametrize(
    ("policy", "sure_reason", "unsure_reason"),
    [
        (RoutingPolicy.LOCAL, None, None),
        (RoutingPolicy.CASCADE, None, "confidence 0.52 is below the web channel's 0.81"),
        (RoutingPolicy.AGENT, EVERY_TICKET, "confidence 0.52 is below the web channel's 0.81"),
    ],
)
def test_what_each_policy_defers(policy, sure_reason, unsure_reason) -> None:
    assert deferred_reason(make_decision("T-1"), policy) == sure_reason
    assert deferred_reason(unsure(), policy) == unsure_reason


def test_the_agents_team_gets_its_own_priority_troubleshooting_and_the_fast_routers_confidence() -> None:
    verdict = Verdict(
        team="Billing Support",
        category="Billing Dispute",
        second_team="Technical Support",
        needs_human=False,
        reasoning="The ask is a refund of a double charge; the modem itself works.",
    )
    enterprise = CustomerContext(customer_id="C-1", account_type=AccountType.ENTERPRISE)

    decision = AgentDecisions(TAXONOMY).compose(TICKET, unsure(), verdict, USAGE, enterprise, ServiceStatus(), NOW)

    assert (decision.team, decision.category, decision.tier) == (
        "Billing Support",
        "Billing Dispute",
        DecisionTier.AGENT,
    )
    assert decision.confidence == 0.41  # calibrated: the fast router's probability of that team, not the agent's
    assert [a.team for a in decision.alternatives] == ["Billing Support", "Technical Support"]
    assert decision.priority.level is PriorityLevel.P1 and "Enterprise" in decision.priority.decided_by
    assert decision.troubleshooting.steps and decision.troubleshooting.steps[0].article_id.startswith("KB-BIL")
    assert not decision.requires_manual_review and decision.review_reasons == []  # no 70 % rule on the agent
    assert "overrules the fast router (Technical Support at 52%)" in decision.reasoning[0]
    assert decision.reasoning[1] == verdict.reasoning and decision.agent == USAGE


def test_the_agent_asking_for_a_person_is_the_only_way_its_decision_goes_to_review() -> None:
    verdict = Verdict(
        team="Account Management",
        category="Account Access",
        needs_human=True,
        needs_human_reason="possible identity theft",
        reasoning="Someone opened an account in the customer's name.",
    )
    decision = AgentDecisions(TAXONOMY).compose(TICKET, unsure(), verdict, USAGE, None, None, NOW)
    assert decision.requires_manual_review and decision.review_reasons == [
        "The agent asks for a person: possible identity theft"
    ]


def test_every_failure_ends_with_the_fast_decision_for_a_person_and_its_cause() -> None:
    provisional = unsure(deferred_reason="confidence 0.52 is below the web channel's 0.81")
    usage = AgentUsage(provider="bedrock", model_id="haiku", fallback=FallbackCause.TIMEOUT)

    final = fall_back(provisional, usage, "read timeout after 20 s")

    assert final.team == provisional.team and final.tier is DecisionTier.LOCAL
    assert final.requires_manual_review and "(timeout: read timeout after 20 s)" in final.review_reasons[-1]
    assert final.agent == usage and final.deferred_reason == provisional.deferred_reason

    alone = local_only(unsure(), "unsure")
    assert alone.agent is not None and alone.agent.fallback is FallbackCause.NO_PROVIDER
    assert alone.deferred_reason == "unsure" and "local-only" in alone.review_reasons[-1]
