"""The routing decision: the one object every consumer (worker, API, evaluation) reads."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from datalayer.types.entities import ExtractedEntities
from datalayer.types.priority import PriorityAssessment
from datalayer.types.troubleshooting import TroubleshootingPlan


class DecisionTier(StrEnum):
    """Which part of the brain made the call: the fast local model, or the Bedrock agent."""

    LOCAL = "local"
    BEDROCK = "bedrock"


class TeamScore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: str
    category: str
    confidence: float = Field(ge=0, le=1)


class RoutingDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: str
    team: str
    category: str
    confidence: float = Field(ge=0, le=1)
    alternatives: list[TeamScore] = Field(description="The top-2 teams with their confidences, best first.")
    categories: list[str] = Field(default_factory=list, description="Every category above the multi-issue threshold.")
    requires_manual_review: bool
    review_reasons: list[str] = Field(default_factory=list)
    unsure_reasons: list[str] = Field(
        default_factory=list,
        description="Why the model's per-channel thresholds consider the fast router unsure of this decision "
        "(empty: sure), whatever the routing policy; the cascade policy defers these tickets.",
    )
    reasoning: list[str] = Field(default_factory=list)
    priority: PriorityAssessment
    entities: ExtractedEntities
    troubleshooting: TroubleshootingPlan
    model_version: str
    tier: DecisionTier = DecisionTier.LOCAL
    processing_ms: float = Field(ge=0)
    decided_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
