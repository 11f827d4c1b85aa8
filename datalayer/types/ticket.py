"""The ticket as the ticketing system submits it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Channel(StrEnum):
    """Where the customer reached us; phone and chat tickets are often terser than e-mail."""

    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    WEB = "web"
    SOCIAL = "social"
    API = "api"


class Ticket(BaseModel):
    """One customer ticket. ``ticket_id`` is the ticketing system's own id and our idempotency key."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ticket_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
    customer_id: str = Field(min_length=1, max_length=128)
    subject: str = Field(default="", max_length=1_000)
    description: str = Field(default="", max_length=50_000)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    channel: Channel = Channel.WEB

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        """Naive timestamps are read as UTC so that ticket age never depends on the host's zone."""
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @property
    def text(self) -> str:
        """Subject and description as the classifier reads them."""
        return f"{self.subject}\n{self.description}".strip()
