"""The routing decision: the one object every consumer (worker, API, evaluation) reads."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from datalayer.types.entities import ExtractedEntities
from datalayer.types.priority import PriorityAssessment
from datalayer.types.troubleshooting import TroubleshootingPlan


class DecisionTier(StrEnum):
    """Which part of the brain made the call: the fast local model, or the agent tier (a model with tools)."""

    LOCAL = "local"
    AGENT = "agent"


class FallbackCause(StrEnum):
    """Why the agent tier did not decide a ticket it was given; the fast decision then became final, marked for
    manual review. Every cause ends the same way; they differ in what happened first (README: the agent tier)."""

    NO_PROVIDER = "no_provider"
    """The cascade runs local-only: no model provider is configured."""
    INVALID_OUTPUT = "invalid_output"
    THROTTLED = "throttled"
    TIMEOUT = "timeout"
    PROVIDER_ERROR = "provider_error"
    CIRCUIT_OPEN = "circuit_open"
    BUDGET_EXHAUSTED = "budget_exhausted"
    WORKER_ERROR = "worker_error"
    """The agent worker itself failed on every delivery (a bug: its message is in the agent DLQ)."""


class AgentUsage(BaseModel):
    """What asking the agent tier cost and gave, recorded on every decision it was involved in."""

    model_config = ConfigDict(extra="forbid")

    provider: str
    model_id: str
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    model_calls: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)
    latency_ms: float = Field(default=0.0, ge=0)
    fallback: FallbackCause | None = Field(default=None, description="Set when the agent did not decide.")
    second_team: str | None = None


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
    team_probabilities: dict[str, float] = Field(
        default_factory=dict, description="The fast router's calibrated probability of every team."
    )
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
    deferred_reason: str | None = Field(
        default=None, description="Why the fast router's decision went to the agent tier (its thresholds' verdict)."
    )
    agent: AgentUsage | None = Field(default=None, description="Present once the agent tier was asked.")
    processing_ms: float = Field(ge=0)
    decided_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def ranked_teams(self) -> list[TeamScore]:
        """Every team the fast router scored, most probable first (its top-2 when it recorded no more)."""
        if not self.team_probabilities:
            return list(self.alternatives)
        category_of = {score.team: score.category for score in self.alternatives}
        ranked = sorted(self.team_probabilities.items(), key=lambda item: (-item[1], item[0]))
        return [TeamScore(team=team, category=category_of.get(team, ""), confidence=p) for team, p in ranked]
