"""The cascade's rules, shared by the workers and the evaluation so that both decide a ticket the same way.

The fast router decides; ``deferred_reason`` says whether the routing policy sends its decision to the agent
tier; ``local_only`` is what becomes of such a decision when no agent provider is configured; ``fall_back`` is
the one way every failure of the agent tier ends: the fast decision, final, marked for manual review, with the
cause recorded.
"""

from __future__ import annotations

from datalayer.settings import AgentProvider, RoutingPolicy
from datalayer.types import AgentUsage, DecisionTier, FallbackCause, RoutingDecision

EVERY_TICKET = "the agent policy sends every ticket to the agent tier"


def deferred_reason(decision: RoutingDecision, policy: RoutingPolicy) -> str | None:
    """Why ``decision`` goes to the agent tier under ``policy``, or None when the fast router keeps it."""
    if policy is RoutingPolicy.AGENT:
        return "; ".join(decision.unsure_reasons) or EVERY_TICKET
    if policy is RoutingPolicy.CASCADE and decision.unsure_reasons:
        return "; ".join(decision.unsure_reasons)
    return None


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
