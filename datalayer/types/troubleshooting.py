"""Ranked next steps for the agent who picks the ticket up."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ArticleRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    article_id: str
    title: str


class TroubleshootingStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rank: int = Field(ge=1)
    action: str
    expected_outcome: str
    article_id: str


class TroubleshootingPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[TroubleshootingStep] = Field(default_factory=list)
    articles: list[ArticleRef] = Field(default_factory=list)
    manual_investigation_required: bool = False
    note: str = ""
