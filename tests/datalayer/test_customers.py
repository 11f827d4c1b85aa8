"""CustomerStore: the customer record that priority and the agent read."""

from __future__ import annotations

import pytest

from datalayer.customers import CustomerStore
from datalayer.errors import StoreError
from datalayer.types import AccountType, CustomerContext, Standing
from tests.support import Aws


def test_customers_round_trip_with_every_field(customers: CustomerStore) -> None:
    customer = CustomerContext(
        customer_id="CUST-ENT-9",
        vip=True,
        account_type=AccountType.ENTERPRISE,
        plan="Fiber",
        standing=Standing.PAST_DUE,
        region="Springfield",
        lifetime_value=1234.5,
    )
    customers.put(customer)

    assert customers.get("CUST-ENT-9") == customer
    assert customers.get("CUST-NONE") is None


def test_put_many_and_attributes_other_tools_added_are_ignored(aws: Aws, customers: CustomerStore) -> None:
    assert customers.put_many(CustomerContext(customer_id=f"C-{n}", lifetime_value=n) for n in range(3)) == 3
    table = aws.clients.dynamodb_resource.Table(aws.settings.customers_table)
    table.update_item(
        Key={"customer_id": "C-1"}, UpdateExpression="SET crm_note = :n", ExpressionAttributeValues={":n": "x"}
    )

    assert customers.get("C-1") == CustomerContext(customer_id="C-1", lifetime_value=1)


def test_dynamodb_errors_become_store_errors(aws: Aws) -> None:
    with pytest.raises(StoreError, match="ResourceNotFoundException"):
        CustomerStore(aws.settings.derive(customers_table="no-such-table")).get("C-1")
