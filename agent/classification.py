"""What the classifier believes, before priority and troubleshooting are added."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Classification(BaseModel):
    """Calibrated probability per category (they sum to 1), best first.

    ``categories`` lists every category above the multi-issue threshold, so a ticket about a
    dropped line *and* the bill for it names both. ``out_of_scope`` is set for empty, gibberish or
    unrelated text: such a ticket must reach a human rather than get a confident guess.
    """

    model_config = ConfigDict(extra="forbid")

    probabilities: dict[str, float]
    categories: list[str] = Field(default_factory=list)
    out_of_scope: bool = False
    out_of_scope_reason: str = ""

    @property
    def ranked(self) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: (-kv[1], kv[0]))

    @property
    def top(self) -> tuple[str, float]:
        return self.ranked[0]
