"""Customers in DynamoDB: who is behind a ticket (tier, VIP, region) for priority and for the agent's prompt."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import Any

from datalayer import aws
from datalayer.dynamo import dynamodb_errors, from_item, to_item
from datalayer.settings import Settings
from datalayer.tables import customers_table
from datalayer.types import CustomerContext


class CustomerStore:
    def __init__(self, settings: Settings, dynamodb_resource: Any = None) -> None:
        self._settings = settings
        self._resource = dynamodb_resource

    @cached_property
    def _table(self) -> Any:
        resource = self._resource if self._resource is not None else aws.dynamodb_resource(self._settings)
        return resource.Table(customers_table(self._settings).name)

    def get(self, customer_id: str) -> CustomerContext | None:
        """The customer, or None when the ticketing system sent an id we hold no record of."""
        with dynamodb_errors("get_item"):
            item = self._table.get_item(Key={"customer_id": customer_id}).get("Item")
        if not item:
            return None
        known = CustomerContext.model_fields
        return CustomerContext.model_validate({k: v for k, v in from_item(item).items() if k in known})

    def put(self, customer: CustomerContext) -> None:
        with dynamodb_errors("put_item"):
            self._table.put_item(Item=to_item(customer))

    def put_many(self, customers: Iterable[CustomerContext]) -> int:
        count = 0
        with dynamodb_errors("batch_write_item"), self._table.batch_writer(overwrite_by_pkeys=["customer_id"]) as batch:
            for customer in customers:
                batch.put_item(Item=to_item(customer))
                count += 1
        return count
