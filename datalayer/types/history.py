"""A customer's earlier tickets, as the routing brain sees them: a repeat problem reads differently."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PastTicket(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: str
    received_at: datetime
    status: str
    subject: str = Field(default="", description="The first 120 characters of the subject.")
    team: str | None = None
    category: str | None = None
