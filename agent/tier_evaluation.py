"""The cascade measured on labelled tickets: ``python -m agent.evaluate --data F --tier cascade --provider …``.

Each ticket takes the workers' decision path (``agent.cascade``): the fast router decides, the policy defers
what it is unsure of, the agent decides those (one ``RoutingAgent.decide`` per ticket, no retries: a failure
counts as a fallback, by cause), and the final team is compared with the truth. Evaluation has no customer
records, outages or history: the agent sees the ticket and the fast router's view only.

The report adds, overall and per channel: ``deferred_rate``, accuracy of the locally decided and of the agent-
decided tickets, fallbacks by cause, tokens, model cost per ticket at the configured prices, the agent's latency
p50/p99, and the accuracy the agent would need on the deferred tickets for 0.90 and 0.95 overall. An endpoint on
this machine is a test endpoint, not a model: its latency and accuracy are labelled as such, and the cost is an
estimate from the measured request sizes at the configured model's prices.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from agent.cascade import AgentDecisions, deferred_reason, fallback_cause
from agent.llm.context import AgentContext
from agent.llm.errors import AgentError
from agent.router import Router
from datalayer.settings import AgentProvider, Settings
from datalayer.types import AgentUsage, Channel, CustomerContext, PastTicket, ServiceStatus, Ticket

OVERALL_TARGETS = (0.90, 0.95)


class _NoContext:
    """Evaluation's stand-in for the stores the agent's tools read: no customer, no outage, no history."""

    def get(self, customer_id: str) -> CustomerContext | None:
        return None

    def status_for(self, customer: CustomerContext | None) -> ServiceStatus:
        return ServiceStatus()

    def history(self, customer_id: str, limit: int, *, exclude: str | None = None) -> list[PastTicket]:
        return []


@dataclass(frozen=True)
class Outcome:
    channel: str
    correct: bool
    deferred: bool
    by_agent: bool
    fallback: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    agent_latency_ms: float | None


def build_agent(router: Router, settings: Settings):  # type: ignore[no-untyped-def]
    """The agent the agent worker would build for ``settings``, with no stores behind its tools."""
    from agent.llm.providers import build_model
    from agent.llm.routing_agent import RoutingAgent
    from agent.llm.tools import RoutingTools
    from agent.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    nothing = _NoContext()
    tools = RoutingTools(taxonomy, router.classifier, nothing, nothing, nothing, history_limit=0)
    return RoutingAgent(build_model(settings), tools.tools, taxonomy, settings)


def decide_each(
    router: Router, agent, texts: list[str], truth: list[str], channels: list[str], settings: Settings
) -> list[Outcome]:  # type: ignore[no-untyped-def]
    """Every ticket through the cascade, as the workers would decide it."""
    from agent.taxonomy import load_taxonomy

    compose = AgentDecisions(load_taxonomy()).compose
    outcomes = []
    for number, (text, team, channel) in enumerate(zip(texts, truth, channels, strict=True)):
        ticket = Ticket(
            ticket_id=f"EVAL-{number}", customer_id="evaluation", description=text, channel=Channel(channel)
        )
        fast = router.route(ticket)
        reason = deferred_reason(fast, settings.routing_policy)
        if reason is None:
            outcomes.append(Outcome(channel, fast.team == team, False, False, None, 0, 0, 0.0, None))
            continue
        context = AgentContext(
            ticket=ticket, top_teams=[(s.team, s.confidence) for s in fast.ranked_teams], entities=fast.entities
        )
        started = time.perf_counter()
        try:
            answer = agent.decide(context)
        except AgentError as error:
            spent = error.usage
            from agent.llm.pricing import cost_usd

            cost = cost_usd(spent.input_tokens, spent.output_tokens, settings)
            latency = (time.perf_counter() - started) * 1000
            outcomes.append(
                Outcome(
                    channel,
                    fast.team == team,
                    True,
                    False,
                    fallback_cause(error).value,
                    spent.input_tokens,
                    spent.output_tokens,
                    cost,
                    latency,
                )
            )
            continue
        usage = AgentUsage(
            provider=settings.agent_provider.value,
            model_id=answer.model_id,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            cost_usd=answer.cost_usd,
            latency_ms=answer.latency_ms,
        )
        final = compose(ticket, fast, answer.verdict, usage, None, None)
        outcomes.append(
            Outcome(
                channel,
                final.team == team,
                True,
                True,
                None,
                answer.input_tokens,
                answer.output_tokens,
                answer.cost_usd,
                answer.latency_ms,
            )
        )
    return outcomes


def _rate(values: list[bool]) -> float | None:
    return float(np.mean(values)) if values else None


def needed_agent_accuracy(outcomes: list[Outcome], overall: float) -> float | None:
    """What the agent must get right on the deferred tickets for ``overall`` accuracy (None: nothing deferred;
    above 1: out of reach whatever the agent does)."""
    n = len(outcomes)
    deferred = sum(o.deferred for o in outcomes)
    if not deferred:
        return None
    local_correct = sum(o.correct for o in outcomes if not o.deferred)
    return round((overall * n - local_correct) / deferred, 4)


def summary(outcomes: list[Outcome]) -> dict:
    n = len(outcomes)
    latencies = [o.agent_latency_ms for o in outcomes if o.agent_latency_ms is not None]
    return {
        "n": n,
        "accuracy": _rate([o.correct for o in outcomes]),
        "deferred_rate": _rate([o.deferred for o in outcomes]),
        "local_accuracy": _rate([o.correct for o in outcomes if not o.deferred]),
        "agent_accuracy": _rate([o.correct for o in outcomes if o.by_agent]),
        "agent_decided": sum(o.by_agent for o in outcomes),
        "fallbacks": dict(Counter(o.fallback for o in outcomes if o.fallback)),
        "input_tokens": sum(o.input_tokens for o in outcomes),
        "output_tokens": sum(o.output_tokens for o in outcomes),
        "cost_per_ticket_usd": sum(o.cost_usd for o in outcomes) / n if n else 0.0,
        "agent_latency_ms": {
            "p50": float(np.percentile(latencies, 50)) if latencies else None,
            "p99": float(np.percentile(latencies, 99)) if latencies else None,
        },
        "needed_agent_accuracy": {
            f"{target:.2f}": needed_agent_accuracy(outcomes, target) for target in OVERALL_TARGETS
        },
    }


def endpoint_label(settings: Settings) -> dict:
    local = bool(settings.agent_base_url) and urlsplit(settings.agent_base_url or "").hostname in (
        "127.0.0.1",
        "localhost",
        "::1",
    )
    return {
        "provider": settings.agent_provider.value,
        "model_id": settings.agent_model_id,
        "base_url": settings.agent_base_url,
        "test_endpoint": local,
        "note": (
            "a local test endpoint, not a model: its accuracy and latency say nothing about a real model; cost is "
            f"estimated from the measured request sizes at ${settings.agent_price_input_per_mtok}/"
            f"${settings.agent_price_output_per_mtok} per million input/output tokens"
            if local
            else f"cost at ${settings.agent_price_input_per_mtok}/${settings.agent_price_output_per_mtok} per "
            "million input/output tokens"
        ),
    }


def evaluate_tier(router: Router, texts: list[str], truth: list[str], channels: list[str], settings: Settings) -> dict:
    """The cascade report: overall, per channel, and what was measured against."""
    agent = build_agent(router, settings) if settings.agent_provider is not AgentProvider.NONE else None
    if agent is None:
        raise ValueError("--tier needs an agent provider (--provider bedrock or openai)")
    outcomes = decide_each(router, agent, texts, truth, channels, settings)
    return {
        "tier": settings.routing_policy.value,
        "endpoint": endpoint_label(settings),
        **summary(outcomes),
        "channels": {c: summary([o for o in outcomes if o.channel == c]) for c in sorted(set(channels))},
    }
