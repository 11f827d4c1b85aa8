"""Priority P0 (drop everything) to P3 (routine), with the weighted factors that produced it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class PriorityLevel(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    def raised(self, steps: int = 1) -> PriorityLevel:
        """One level more urgent (P0 stays P0)."""
        order = list(PriorityLevel)
        return order[max(0, order.index(self) - steps)]


class PriorityFactors(BaseModel):
    """Each factor in [0, 1]; the score is their weighted sum (weights in the taxonomy file)."""

    model_config = ConfigDict(extra="forbid")

    vip: float = Field(ge=0, le=1)
    severity: float = Field(ge=0, le=1)
    age: float = Field(ge=0, le=1)
    sla: float = Field(ge=0, le=1)


class PriorityAssessment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: PriorityLevel
    score: float = Field(ge=0, le=1)
    factors: PriorityFactors
    decided_by: str = Field(description="The reason of the rule that set the level (score, floor, age or outage).")
    reasons: list[str] = Field(default_factory=list)
