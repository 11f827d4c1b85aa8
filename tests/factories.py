"""Builders of valid domain objects for tests that exercise the plumbing, not the routing brain."""

from __future__ import annotations

from datalayer.types import (
    ExtractedEntities,
    PriorityAssessment,
    PriorityFactors,
    PriorityLevel,
    RoutingDecision,
    TeamScore,
    TroubleshootingPlan,
)

FACTORY_MODEL_VERSION = "test-factory-1"

_KEYWORDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Billing Support", "Billing Dispute", ("bill", "charge", "refund", "fee", "invoice", "payment", "credit")),
    ("Account Management", "Account Access", ("password", "login", "log in", "cancel", "move", "account", "fraud")),
    ("Technical Support", "Technical Problem", ("router", "modem", "wifi", "wi-fi", "install", "error", "app")),
    ("Network Operations", "Network Outage", ("outage", "down", "no internet", "signal", "slow", "drop")),
)


def make_decision(
    ticket_id: str,
    *,
    team: str = "Network Operations",
    category: str = "Network Outage",
    confidence: float = 0.9,
    requires_manual_review: bool = False,
    priority: PriorityLevel = PriorityLevel.P2,
) -> RoutingDecision:
    """A complete, valid decision with the given headline fields (the rest neutral)."""
    runner_up = "Technical Support" if team != "Technical Support" else "Network Operations"
    return RoutingDecision(
        ticket_id=ticket_id,
        team=team,
        category=category,
        confidence=confidence,
        alternatives=[
            TeamScore(team=team, category=category, confidence=confidence),
            TeamScore(team=runner_up, category="Technical Problem", confidence=round(1 - confidence, 6)),
        ],
        categories=[category],
        requires_manual_review=requires_manual_review,
        review_reasons=["low confidence"] if requires_manual_review else [],
        priority=PriorityAssessment(
            level=priority,
            score=0.5,
            factors=PriorityFactors(vip=0.0, severity=0.5, age=0.0, sla=0.5),
            decided_by="factory",
        ),
        entities=ExtractedEntities(),
        troubleshooting=TroubleshootingPlan(),
        model_version=FACTORY_MODEL_VERSION,
        processing_ms=0.1,
    )
