"""The layout of every DynamoDB table: keys, indexes and TTL, defined once.

The stores query by these names and keys; provisioning (``infra.resources`` for the local stack and the
CloudFormation it generates) creates the tables from the same objects. Nothing else spells a key schema or an
index, so the code and the tables it runs against cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from datalayer.settings import Settings


@dataclass(frozen=True)
class Index:
    """A global secondary index projecting every attribute, queried by ``hash_key`` and ordered by ``range_key``."""

    name: str
    hash_key: str
    range_key: str


@dataclass(frozen=True)
class Table:
    id: str
    """The table's role, the same in every stage (``tickets``); ``name`` is the stage's physical name."""
    name: str
    hash_key: str
    attributes: Mapping[str, str]
    """Every key attribute of the table and its indexes, with its DynamoDB type."""
    range_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None

    def index(self, name: str) -> Index:
        for index in self.indexes:
            if index.name == name:
                return index
        raise KeyError(f"table {self.name} has no index {name!r}")


BY_CUSTOMER = Index("by_customer", "customer_id", "received_at")
"""A customer's tickets, newest first: the API's listing and the routing brain's ticket history."""
BY_TEAM = Index("by_team", "team", "received_at")
"""A team's queue, newest first (only decided tickets have a team)."""
BY_STATUS = Index("by_status", "status", "received_at")
"""Tickets in one status, oldest first: the stuck-ticket sweep reads ``received``."""
BY_SYNC_STATUS = Index("by_sync_status", "sync_status", "updated_at")
"""Where each final decision stands in the ticketing system (pending, synced, failed), most recently changed first."""

EXPIRES_AT = "expires_at"
"""Epoch seconds after which DynamoDB may delete an item (tickets after their retention, outages after they end)."""


def tickets_table(settings: Settings) -> Table:
    return Table(
        id="tickets",
        name=settings.tickets_table,
        hash_key="ticket_id",
        attributes={
            "ticket_id": "S",
            "customer_id": "S",
            "received_at": "S",
            "team": "S",
            "status": "S",
            "sync_status": "S",
            "updated_at": "S",
        },
        indexes=(BY_CUSTOMER, BY_TEAM, BY_STATUS, BY_SYNC_STATUS),
        ttl_attribute=EXPIRES_AT,
    )


def customers_table(settings: Settings) -> Table:
    return Table(id="customers", name=settings.customers_table, hash_key="customer_id", attributes={"customer_id": "S"})


def status_table(settings: Settings) -> Table:
    """Outages per region: one query per ticket reads every outage of the customer's region."""
    return Table(
        id="service_status",
        name=settings.status_table,
        hash_key="region",
        range_key="outage_id",
        attributes={"region": "S", "outage_id": "S"},
        ttl_attribute=EXPIRES_AT,
    )


def control_table(settings: Settings) -> Table:
    """One item per shared guard of the agent tier (``budget#2026-12-03``, ``circuit#bedrock``): every worker
    updates the same items with atomic counters and conditional writes."""
    return Table(
        id="agent_control",
        name=settings.control_table,
        hash_key="key",
        attributes={"key": "S"},
        ttl_attribute=EXPIRES_AT,
    )


def all_tables(settings: Settings) -> tuple[Table, ...]:
    """Every table of the stage, in the order provisioning creates them."""
    return (tickets_table(settings), customers_table(settings), status_table(settings), control_table(settings))
