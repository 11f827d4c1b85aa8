"""The agent's answer as a schema built from the taxonomy at run time, so that an answer outside it cannot validate.

``verdict_model(taxonomy)`` returns a subclass of ``Verdict`` whose ``team``, ``category`` and ``second_team``
are Literals of that taxonomy's names: strands offers it to the model as the structured-output tool (its JSON
schema carries the enums), and an answer naming an unknown team, a category of another team, the same team twice
or ``needs_human`` without a reason fails validation, goes back to the model as the tool's error, and is retried
within the runner's caps. Another taxonomy file gives other allowed answers with no code change.

Build the model once per taxonomy (``RoutingAgent`` does, in its constructor): strands caches tool specs per
class, so a class per ticket would grow that cache for ever. ``verdict_model`` itself memoises per taxonomy.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from agent.taxonomy import Taxonomy

VERDICT_TOOL_NAME = "RoutingVerdict"
"""The class name of every generated verdict model, hence the name of the structured-output tool."""

REASONING_MAX_CHARS = 600


class Verdict(BaseModel):
    """The fields every taxonomy's verdict has; code that reads an answer types against this class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str
    category: str
    second_team: str | None = None
    needs_human: bool
    needs_human_reason: str = ""
    reasoning: str = Field(min_length=1, max_length=REASONING_MAX_CHARS)

    category_of: ClassVar[dict[str, str]] = {}
    """Team name to its category, filled in by ``verdict_model`` for the generated subclass."""

    @model_validator(mode="after")
    def _consistent(self) -> Verdict:
        expected = type(self).category_of.get(self.team)
        if expected is not None and self.category != expected:
            raise ValueError(f"category {self.category!r} is not the category of {self.team}; use {expected!r}")
        if self.second_team is not None and self.second_team == self.team:
            raise ValueError("second_team must be another team than team, or null")
        if self.needs_human and not self.needs_human_reason.strip():
            raise ValueError("needs_human_reason must say why when needs_human is true")
        return self


def verdict_model(taxonomy: Taxonomy) -> type[Verdict]:
    """The verdict schema of ``taxonomy``: team, category and second team restricted to its names."""
    return _verdict_model(taxonomy.model_dump_json())


@lru_cache(maxsize=8)
def _verdict_model(taxonomy_json: str) -> type[Verdict]:
    taxonomy = Taxonomy.model_validate_json(taxonomy_json)
    teams: Any = Literal[tuple(taxonomy.team_names)]
    categories: Any = Literal[tuple(taxonomy.category_of[team] for team in taxonomy.team_names)]
    pairs = "; ".join(f"{team} → {category}" for team, category in taxonomy.category_of.items())
    model = create_model(
        VERDICT_TOOL_NAME,
        __base__=Verdict,
        __doc__=(
            "Your routing decision for the ticket. Call this exactly once, as your last action, when you have decided."
        ),
        team=(teams, Field(description="The one team that must act first on the customer's core problem.")),
        category=(categories, Field(description=f"The category of the chosen team ({pairs}).")),
        second_team=(
            teams | None,
            Field(default=None, description="Another team a second issue in the ticket needs; null if none."),
        ),
        needs_human=(bool, Field(description="True when a person must look at the ticket (see the instructions).")),
        needs_human_reason=(
            str,
            Field(default="", description="Why a person must look at it; required when needs_human is true."),
        ),
        reasoning=(
            str,
            Field(
                min_length=1,
                max_length=REASONING_MAX_CHARS,
                description="One or two sentences on why this team, without personal data.",
            ),
        ),
    )
    model.category_of = dict(taxonomy.category_of)
    return model
