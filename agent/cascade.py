"""The cascade's rules, shared by the workers and the evaluation so that both decide a ticket the same way.

The fast router decides; ``deferred_reason`` says whether the routing policy sends its decision to the agent
tier; ``AgentDecisions.compose`` turns the agent's team and category into a full decision (priority and
troubleshooting recomputed by the deterministic code for that team); ``local_only`` is what becomes of a deferred
decision when no agent provider is configured; ``fall_back`` is the one way every failure of the agent tier ends:
the fast decision, final, marked for manual review, with the cause recorded.
"""

from __future__ import annotations

from datetime import datetime

from agent.llm.errors import AgentError, AgentOutputError, AgentThrottledError, AgentTimeoutError
from agent.llm.verdict import Verdict
from agent.priority import assess_priority
from agent.taxonomy import Taxonomy
from agent.troubleshooting import plan_troubleshooting
from datalayer.settings import AgentProvider, RoutingPolicy
from datalayer.types import (
    AgentUsage,
    CustomerContext,
    DecisionTier,
    FallbackCause,
    RoutingDecision,
    ServiceStatus,
    TeamScore,
    Ticket,
)

EVERY_TICKET = "the agent policy sends every ticket to the agent tier"


def deferred_reason(decision: RoutingDecision, policy: RoutingPolicy) -> str | None:
    """Why ``decision`` goes to the agent tier under ``policy``, or None when the fast router keeps it."""
    if policy is RoutingPolicy.AGENT:
        return "; ".join(decision.unsure_reasons) or EVERY_TICKET
    if policy is RoutingPolicy.CASCADE and decision.unsure_reasons:
        return "; ".join(decision.unsure_reasons)
    return None


def fallback_cause(error: AgentError) -> FallbackCause:
    """The decision-level cause of an agent failure (the error's own ``cause`` says more, for the logs)."""
    if isinstance(error, AgentOutputError):
        return FallbackCause.INVALID_OUTPUT
    if isinstance(error, AgentThrottledError):
        return FallbackCause.THROTTLED
    if isinstance(error, AgentTimeoutError):
        return FallbackCause.TIMEOUT
    return FallbackCause.PROVIDER_ERROR


def local_only(decision: RoutingDecision, reason: str) -> RoutingDecision:
    """The cascade without an agent provider: what it would have deferred goes to a person instead."""
    usage = AgentUsage(provider=AgentProvider.NONE.value, model_id="", fallback=FallbackCause.NO_PROVIDER)
    detail = "no agent provider is configured, the cascade runs local-only"
    return fall_back(decision.model_copy(update={"deferred_reason": reason}), usage, detail)


def fall_back(provisional: RoutingDecision, usage: AgentUsage, detail: str) -> RoutingDecision:
    """The fast decision, final and for a person to check, saying why the agent tier did not decide it."""
    cause = usage.fallback or FallbackCause.WORKER_ERROR
    reason = f"The agent tier did not decide ({cause.value}: {detail[:200]}); the fast router's decision stands."
    return provisional.model_copy(
        update={
            "requires_manual_review": True,
            "review_reasons": [*provisional.review_reasons, reason],
            "tier": DecisionTier.LOCAL,
            "agent": usage.model_copy(update={"fallback": cause}),
        }
    )


class AgentDecisions:
    """Builds the final decision from the agent's verdict and the provisional (fast) decision.

    The agent decides team and category. Priority and troubleshooting are recomputed for that team by the same
    code the fast path uses, entities stay as extracted. ``confidence`` stays the fast router's calibrated
    probability of the chosen team: the agent's own sense of certainty is not calibrated, so the decision goes to
    manual review only when the agent asks for a person.
    """

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy

    def compose(
        self,
        ticket: Ticket,
        provisional: RoutingDecision,
        verdict: Verdict,
        usage: AgentUsage,
        customer: CustomerContext | None,
        service: ServiceStatus | None,
        now: datetime | None = None,
    ) -> RoutingDecision:
        fast = {score.team: score for score in provisional.ranked_teams}
        confidence = fast[verdict.team].confidence if verdict.team in fast else 0.0
        runner_up = verdict.second_team or next((t for t in fast if t != verdict.team), None)
        alternatives = [TeamScore(team=verdict.team, category=verdict.category, confidence=confidence)]
        if runner_up is not None:
            alternatives.append(
                TeamScore(
                    team=runner_up,
                    category=self.taxonomy.spec(runner_up).category,
                    confidence=fast[runner_up].confidence if runner_up in fast else 0.0,
                )
            )
        priority = assess_priority(ticket, verdict.team, self.taxonomy, customer, service, now)
        agreed = "agrees with" if verdict.team == provisional.team else "overrules"
        reasoning = [
            f"{verdict.team} ({verdict.category}), decided by the agent tier ({usage.model_id}), which {agreed} the "
            f"fast router ({provisional.team} at {provisional.confidence:.0%}).",
            verdict.reasoning,
        ]
        if verdict.second_team:
            reasoning.append(f"Also involves {verdict.second_team} (several issues in one ticket).")
        reasoning.append(f"Priority {priority.level}: {priority.decided_by}")
        review = [f"The agent asks for a person: {verdict.needs_human_reason}"] if verdict.needs_human else []
        return provisional.model_copy(
            update={
                "team": verdict.team,
                "category": verdict.category,
                "confidence": confidence,
                "alternatives": alternatives,
                "requires_manual_review": verdict.needs_human,
                "review_reasons": review,
                "reasoning": reasoning,
                "priority": priority,
                "troubleshooting": plan_troubleshooting(verdict.category, ticket.text),
                "tier": DecisionTier.AGENT,
                "agent": usage,
            }
        )
