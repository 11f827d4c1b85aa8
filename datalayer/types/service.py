"""Network health at routing time: an active outage turns 'no internet' into an urgent network ticket.

Operators declare outages (``python -m ops outage declare``) into the status table; the routing worker reads the
ones active in the customer's region (and the nationwide ones) and hands them to the routing brain as a
``ServiceStatus``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

EVERYWHERE = "*"
"""The region of a nationwide outage: it affects every customer, whatever their region."""


class ServiceHealth(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    OUTAGE = "outage"


class Outage(BaseModel):
    """One incident in the network: which service, where, since when, and (once over) until when."""

    model_config = ConfigDict(extra="forbid")

    outage_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
    service: str = Field(default="internet", min_length=1, max_length=64)
    region: str = Field(default=EVERYWHERE, min_length=1, max_length=64)
    impact: ServiceHealth = ServiceHealth.OUTAGE
    started_at: datetime | None = None
    ended_at: datetime | None = None
    customers_affected: int = Field(default=0, ge=0)
    description: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _ends_after_start(self) -> Outage:
        if self.impact is ServiceHealth.HEALTHY:
            raise ValueError("an outage's impact is outage or degraded")
        if self.started_at and self.ended_at and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self

    def active_at(self, moment: datetime) -> bool:
        started = self.started_at is None or self.started_at <= moment
        return started and (self.ended_at is None or moment < self.ended_at)

    def chronological_key(self) -> tuple[bool, datetime | None, str]:
        """Sort key: oldest first, undated last, then by id."""
        return (self.started_at is None, self.started_at, self.outage_id)

    @property
    def where(self) -> str:
        return "nationwide" if self.region == EVERYWHERE else f"in {self.region}"


class ServiceStatus(BaseModel):
    """The network where a customer is served; ``health`` is never better than its worst active outage."""

    model_config = ConfigDict(extra="forbid")

    health: ServiceHealth = ServiceHealth.HEALTHY
    active_outages: list[Outage] = Field(default_factory=list)

    @model_validator(mode="after")
    def _at_least_as_bad_as_the_outages(self) -> ServiceStatus:
        order = (ServiceHealth.HEALTHY, ServiceHealth.DEGRADED, ServiceHealth.OUTAGE)
        self.health = max([self.health, *(outage.impact for outage in self.active_outages)], key=order.index)
        return self

    @classmethod
    def of(cls, outages: Iterable[Outage]) -> ServiceStatus:
        """The status of the given active outages, oldest first."""
        return cls(active_outages=sorted(outages, key=Outage.chronological_key))
