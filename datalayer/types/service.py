"""Network health at routing time: an active outage turns 'no internet' into an urgent network ticket."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ServiceHealth(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    OUTAGE = "outage"


class Outage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outage_id: str
    service: str = "internet"
    region: str = ""
    started_at: datetime | None = None
    customers_affected: int = Field(default=0, ge=0)


class ServiceStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    health: ServiceHealth = ServiceHealth.HEALTHY
    active_outages: list[Outage] = Field(default_factory=list)
