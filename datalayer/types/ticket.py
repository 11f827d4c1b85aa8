"""The ticket as the ticketing system submits it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


EARLIEST_CREATED_AT = datetime(2000, 1, 1, tzinfo=UTC)
"""No ticketing system in use was creating tickets before this; an older stamp is a default or a typo."""
MAX_CLOCK_SKEW = timedelta(hours=24)
"""How far in the future a ``created_at`` may lie: time zones mixed up, a client clock a little ahead."""


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
    def _plausible(cls, value: datetime) -> datetime:
        """Naive timestamps are read as UTC so that ticket age never depends on the host's zone; a stamp in year
        1 or 9999 would make the ticket look days overdue or brand new for ever, so it is refused."""
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            value.astimezone(UTC)
        except OverflowError:  # year 1 east of UTC, year 9999 west of it: not representable in UTC
            raise ValueError("created_at is outside the range of real ticket times") from None
        if value < EARLIEST_CREATED_AT:
            raise ValueError(f"created_at is before {EARLIEST_CREATED_AT:%Y-%m-%d}: not a real ticket time")
        latest = datetime.now(UTC) + MAX_CLOCK_SKEW
        if value > latest:
            raise ValueError(
                f"created_at is more than {MAX_CLOCK_SKEW.total_seconds() / 3600:.0f} h in the future "
                f"(latest accepted now: {latest:%Y-%m-%dT%H:%M}Z)"
            )
        return value

    @property
    def text(self) -> str:
        """Subject and description as the classifier reads them."""
        return f"{self.subject}\n{self.description}".strip()
