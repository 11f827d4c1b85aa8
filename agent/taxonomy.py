"""The routing taxonomy as data: teams, their categories, severities and thresholds.

The product never names a team in code. Everything team-specific lives in a taxonomy file
(``agent/taxonomies/telecom.json`` by default), and a trained model carries a copy of the taxonomy
it was trained under, so a different organisation needs a new file and a retrain, not a code change.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.exceptions import TaxonomyError
from agent.jsonfile import read_model

DEFAULT_TAXONOMY_PATH = Path(__file__).parent / "taxonomies" / "telecom.json"


class TeamSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: str = Field(min_length=1)
    category: str = Field(min_length=1)
    severity: str = "medium"
    description: str = ""
    keywords: list[str] = Field(default_factory=list)


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    manual_review: float = Field(default=0.70, ge=0, le=1)
    multi_issue: float = Field(default=0.25, ge=0, le=1)
    min_known_token_ratio: float = Field(default=0.35, ge=0, le=1)
    min_text_chars: int = Field(default=8, ge=0)


class PriorityWeights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vip: float = 0.30
    severity: float = 0.40
    age: float = 0.20
    sla: float = 0.10

    @model_validator(mode="after")
    def _sum_to_one(self) -> PriorityWeights:
        total = self.vip + self.severity + self.age + self.sla
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"priority weights must sum to 1, got {total:.3f}")
        return self


Factor = Annotated[float, Field(ge=0, le=1)]
"""A priority factor: every factor is in [0, 1] so the weighted score is too."""


class SlaFactors(BaseModel):
    """SLA/outage factor: the most pressing of the network's state and the customer's contract applies."""

    model_config = ConfigDict(extra="forbid")

    outage: Factor = 1.0
    degraded: Factor = 0.5
    enterprise: Factor = 1.0
    """Enterprise contracts carry response-time SLAs, so the clock matters for them even without an outage."""


class PriorityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: PriorityWeights = Field(default_factory=PriorityWeights)
    levels: dict[str, float] = Field(default_factory=lambda: {"P0": 0.80, "P1": 0.60, "P2": 0.35})
    age_full_hours: float = Field(default=48, gt=0)
    escalate_after_hours: float = Field(default=24, gt=0)
    account_type_factors: dict[str, Factor] = Field(
        default_factory=lambda: {"enterprise": 0.8, "business": 0.5, "consumer": 0.0}
    )
    """Customer-value factor by account type (a VIP scores ``vip_factor`` whatever the type; unknown types 0)."""
    vip_factor: Factor = 1.0
    sla_factors: SlaFactors = Field(default_factory=SlaFactors)
    informational_scale: Factor = 0.8
    """Severity multiplier for a question ("how do I ..."): less pressing than a fault of the same kind, still work."""
    urgent_from_severity: str = "high"
    """Severity from which a loss-of-service signal makes a ticket urgent (at least P1); a taxonomy without a
    severity of this name makes only its most severe level qualify."""


class Taxonomy(BaseModel):
    """A validated taxonomy. Team and category names are unique; each team owns one category."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str = "1"
    description: str = ""
    teams: list[TeamSpec] = Field(min_length=2)
    severities: dict[str, float] = Field(
        default_factory=lambda: {"critical": 1.0, "high": 0.75, "medium": 0.5, "low": 0.25}
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    priority: PriorityConfig = Field(default_factory=PriorityConfig)
    routing_rules: list[str] = Field(default_factory=list)
    """How to choose between the teams when a ticket could go to several, in the order a person applies them. The
    agent tier's system prompt is written from them (``agent.llm.prompt``); the fast router does not read them."""

    @model_validator(mode="after")
    def _consistent(self) -> Taxonomy:
        teams = [t.team for t in self.teams]
        categories = [t.category for t in self.teams]
        if len(set(teams)) != len(teams):
            raise ValueError("team names must be unique")
        if len(set(categories)) != len(categories):
            raise ValueError("category names must be unique")
        unknown = {t.severity for t in self.teams} - set(self.severities)
        if unknown:
            raise ValueError(f"unknown severities {sorted(unknown)}; known: {sorted(self.severities)}")
        return self

    @cached_property
    def team_names(self) -> list[str]:
        return [t.team for t in self.teams]

    @cached_property
    def category_of(self) -> dict[str, str]:
        """Team name to category name."""
        return {t.team: t.category for t in self.teams}

    @cached_property
    def team_of(self) -> dict[str, str]:
        """Category name to team name."""
        return {t.category: t.team for t in self.teams}

    def spec(self, team: str) -> TeamSpec:
        for t in self.teams:
            if t.team == team:
                return t
        raise TaxonomyError(f"team {team!r} is not in taxonomy {self.name!r}")

    def resolve_label(self, label: str) -> str:
        """Accept a team or a category name (labelled data uses either), in any case and spacing; return the team."""
        if label in self.category_of:
            return label
        if label in self.team_of:
            return self.team_of[label]
        folded = " ".join(label.split()).casefold()
        for team, category in self.category_of.items():
            if folded in (team.casefold(), category.casefold()):
                return team
        raise TaxonomyError(f"label {label!r} is neither a team nor a category of taxonomy {self.name!r}")

    @classmethod
    def from_labels(cls, labels: list[str], name: str = "derived") -> Taxonomy:
        """A flat taxonomy with one team per label, for datasets (BANKING77, CLINC150) that bring their own labels."""
        return cls(name=name, teams=[TeamSpec(team=label, category=label) for label in sorted(set(labels))])


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read and validate a taxonomy file; the telecom default when no path is given."""
    return read_model(Path(path) if path else DEFAULT_TAXONOMY_PATH, Taxonomy, TaxonomyError, "taxonomy")
