"""What we know about the customer behind a ticket (from the customers table)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class AccountType(StrEnum):
    ENTERPRISE = "enterprise"
    BUSINESS = "business"
    CONSUMER = "consumer"


class Standing(StrEnum):
    """Payment standing; a suspended account explains many 'no service' tickets."""

    GOOD = "good"
    PAST_DUE = "past_due"
    SUSPENDED = "suspended"


class CustomerContext(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=128)
    vip: bool = False
    account_type: AccountType = AccountType.CONSUMER
    plan: str = ""
    standing: Standing = Standing.GOOD
    region: str = Field(default="", max_length=64, description="Service area, matched against outages' regions.")
    lifetime_value: float = Field(default=0.0, ge=0)
