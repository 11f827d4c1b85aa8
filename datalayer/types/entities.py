"""Structured facts pulled out of ticket text so that agents need not re-read it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MoneyAmount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: float
    currency: str = "USD"
    text: str


class ExtractedEntities(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_numbers: list[str] = Field(default_factory=list)
    service_ids: list[str] = Field(default_factory=list)
    error_codes: list[str] = Field(default_factory=list)
    phone_numbers: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    money_amounts: list[MoneyAmount] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    street_addresses: list[str] = Field(default_factory=list)

    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in type(self).model_fields)
