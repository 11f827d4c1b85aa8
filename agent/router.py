"""The routing brain's front door: ``Router.load().route(ticket)`` → ``RoutingDecision``.

The queue workers, the Bedrock agent's tools and the evaluation all call this, so a ticket is
routed the same way everywhere. The router composes the parts: calibrated classification (which
reads the ticket's channel), manual review rule, priority, entities and troubleshooting, and writes
the reasons a support agent reads.

Every decision carries ``unsure_reasons``: why the thresholds shipped with the model (per channel,
``agent.policy``) consider the fast router unsure of it, empty when sure. What goes to manual review
depends on ``Settings.routing_policy``: ``local`` and ``agent`` review tickets below the review
threshold (70 %) or out of scope; ``cascade`` (the default) marks the unsure ones or out of scope,
which is what stays of the decision if the agent tier, to which the routing worker sends the unsure
ones, cannot decide them (``agent.cascade``). A model without thresholds (the keyword baseline, or one
trained without out-of-fold folds) is unsure below the review threshold under either policy.
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import lru_cache

from agent.classification import Classification
from agent.classifier import Classifier, load_classifier
from agent.entities import extract_entities
from agent.policy import Signal, unsure_reasons
from agent.priority import assess_priority
from agent.troubleshooting import plan_troubleshooting
from datalayer.settings import RoutingPolicy, Settings, get_settings
from datalayer.types import (
    CustomerContext,
    DecisionTier,
    RoutingDecision,
    ServiceStatus,
    TeamScore,
    Ticket,
)


class Router:
    """Routes tickets with one classifier; cheap to call, expensive to build (use ``Router.load``)."""

    def __init__(
        self,
        classifier: Classifier,
        review_threshold: float | None = None,
        routing_policy: RoutingPolicy = RoutingPolicy.LOCAL,
    ) -> None:
        self.classifier = classifier
        self.taxonomy = classifier.taxonomy
        self.review_threshold = (
            review_threshold if review_threshold is not None else self.taxonomy.thresholds.manual_review
        )
        self.routing_policy = RoutingPolicy(routing_policy)

    @classmethod
    def load(
        cls, model_dir: str | None = None, review_threshold: float | None = None, settings: Settings | None = None
    ) -> Router:
        """The process-wide router for ``model_dir`` (default: the settings' ``model_dir`` or the shipped model),
        with the settings' routing policy."""
        settings = settings or get_settings()
        return _cached_router(
            model_dir or settings.model_dir,
            review_threshold if review_threshold is not None else settings.review_threshold,
            settings.routing_policy,
        )

    @property
    def model_version(self) -> str:
        return self.classifier.version

    def route(
        self,
        ticket: Ticket,
        customer: CustomerContext | None = None,
        service: ServiceStatus | None = None,
        now: datetime | None = None,
    ) -> RoutingDecision:
        start = time.perf_counter()
        classification = self.classifier.classify([ticket.text], [ticket.channel.value])[0]
        return self._decide(ticket, classification, customer, service, now, start)

    def route_batch(
        self, tickets: list[Ticket], customers: dict[str, CustomerContext] | None = None
    ) -> list[RoutingDecision]:
        """Route several tickets with one batched classifier call (the sentence encoder batches well)."""
        start = time.perf_counter()
        classifications = self.classifier.classify([t.text for t in tickets], [t.channel.value for t in tickets])
        customers = customers or {}
        return [
            self._decide(t, c, customers.get(t.customer_id), None, None, start)
            for t, c in zip(tickets, classifications, strict=True)
        ]

    def _decide(
        self,
        ticket: Ticket,
        classification: Classification,
        customer: CustomerContext | None,
        service: ServiceStatus | None,
        now: datetime | None,
        start: float,
    ) -> RoutingDecision:
        taxonomy = self.taxonomy
        ranked = classification.ranked
        category = ranked[0][0]
        team = taxonomy.team_of[category]
        signal = Signal.of(classification)  # out of scope: chance level, not the prior of the biggest team
        confidence = signal.confidence
        unsure = unsure_reasons(self.classifier.policy, signal, ticket.channel.value, self.review_threshold)
        review_reasons = []
        if classification.out_of_scope:
            review_reasons.append(f"Out of scope: {classification.out_of_scope_reason}.")
        if self.routing_policy is RoutingPolicy.CASCADE:
            review_reasons += [f"Unsure: {reason}." for reason in unsure]
        elif confidence < self.review_threshold:
            review_reasons.append(f"Confidence {confidence:.0%} is below the {self.review_threshold:.0%} threshold.")
        alternatives = [
            TeamScore(team=taxonomy.team_of[c], category=c, confidence=confidence if i == 0 else p)
            for i, (c, p) in enumerate(ranked[:2])
        ]
        entities = extract_entities(ticket.text)
        priority = assess_priority(ticket, team, taxonomy, customer, service, now)
        troubleshooting = plan_troubleshooting(category, ticket.text)
        reasoning = [
            f"{team} ({category}) with {confidence:.0%} confidence; next best {alternatives[1].team} "
            f"at {alternatives[1].confidence:.0%}."
        ]
        evidence = self._evidence(ticket.text, team)
        if evidence and not classification.out_of_scope:
            reasoning.append("Words that pointed there: " + ", ".join(f"'{e}'" for e in evidence) + ".")
        others = [c for c in classification.categories if c != category]
        if others:
            reasoning.append("Also raises: " + ", ".join(others) + " (several issues in one ticket).")
        reasoning.append(f"Priority {priority.level}: {priority.decided_by}")
        if not entities.is_empty():
            found = {k: v for k, v in entities.model_dump().items() if v}
            reasoning.append("Found " + ", ".join(f"{len(v)} {k.replace('_', ' ')}" for k, v in found.items()) + ".")
        return RoutingDecision(
            ticket_id=ticket.ticket_id,
            team=team,
            category=category,
            confidence=confidence,
            alternatives=alternatives,
            categories=classification.categories,
            team_probabilities={taxonomy.team_of[c]: p for c, p in classification.probabilities.items()},
            requires_manual_review=bool(review_reasons),
            review_reasons=review_reasons,
            unsure_reasons=unsure,
            reasoning=reasoning,
            priority=priority,
            entities=entities,
            troubleshooting=troubleshooting,
            model_version=self.model_version,
            tier=DecisionTier.LOCAL,
            processing_ms=(time.perf_counter() - start) * 1000,
        )

    def _evidence(self, text: str, team: str) -> list[str]:
        explain = getattr(self.classifier, "evidence", None)
        return explain(text, team) if explain else []


@lru_cache(maxsize=4)
def _cached_router(model_dir: str | None, review_threshold: float | None, routing_policy: RoutingPolicy) -> Router:
    return Router(_cached_classifier(model_dir), review_threshold, routing_policy)


@lru_cache(maxsize=4)
def _cached_classifier(model_dir: str | None) -> Classifier:
    """One loaded model per directory, shared by the routers of every policy and review threshold."""
    return load_classifier(model_dir)
