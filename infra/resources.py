"""The one definition of every AWS resource Switchboard needs, and how to create them through boto3.

Two consumers read these definitions: ``provision`` (below) creates them against moto, in-process under
``mock_aws`` or through a moto server named by ``AWS_ENDPOINT_URL``; ``infra.template`` turns the same objects
into CloudFormation for AWS. Nothing else spells a key schema, an index or a queue setting, so the local stack
and production cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from datalayer.settings import Settings
from datalayer.types import AccountType, CustomerContext, Standing
from workers.limits import MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT_SECONDS

TICKET_RECEIVED = "TicketReceived"
TICKET_ROUTED = "TicketRouted"
ROUTING_TARGET_ID = "routing-queue"

ROUTING_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
"""The maximum SQS allows: on-call gets two weeks to look at a poisoned ticket before it is gone."""


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str


@dataclass(frozen=True)
class Table:
    name: str
    hash_key: str
    attributes: Mapping[str, str]
    """Every key attribute of the table and its indexes, with its DynamoDB type."""
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class Queue:
    name: str
    visibility_timeout_s: int
    retention_s: int
    dead_letter_queue: str | None = None
    max_receive_count: int = MAX_RECEIVE_COUNT


@dataclass(frozen=True)
class Rule:
    name: str
    bus: str
    event_pattern: Mapping[str, Any]
    target_queue: str


@dataclass(frozen=True)
class Stack:
    """Every resource of one stage, in the order ``provision`` creates them."""

    tickets: Table
    customers: Table
    event_bus: str
    routing_dlq: Queue
    routing_queue: Queue
    ticket_received_rule: Rule

    @property
    def tables(self) -> tuple[Table, ...]:
        return (self.tickets, self.customers)


def define(settings: Settings, *, visibility_timeout_s: int = VISIBILITY_TIMEOUT_SECONDS) -> Stack:
    """The resources of ``settings``' stage.

    ``visibility_timeout_s`` exists for tests that watch a message fail five times: with the production value
    that takes fifteen minutes. Everything else must stay as defined.
    """
    tickets = Table(
        name=settings.tickets_table,
        hash_key="ticket_id",
        attributes={
            "ticket_id": "S",
            "customer_id": "S",
            "received_at": "S",
            "team": "S",
            "sync_status": "S",
            "updated_at": "S",
            "status": "S",
        },
        indexes=(
            Index("by_customer", "customer_id", "received_at"),
            Index("by_team", "team", "received_at"),
            Index("by_sync_status", "sync_status", "updated_at"),
            Index("by_status", "status", "received_at"),
        ),
        ttl_attribute="expires_at",
    )
    customers = Table(name=settings.customers_table, hash_key="customer_id", attributes={"customer_id": "S"})
    dlq = Queue(name=settings.routing_dlq, visibility_timeout_s=visibility_timeout_s, retention_s=DLQ_RETENTION_SECONDS)
    routing = Queue(
        name=settings.routing_queue,
        visibility_timeout_s=visibility_timeout_s,
        retention_s=ROUTING_RETENTION_SECONDS,
        dead_letter_queue=dlq.name,
    )
    rule = Rule(
        name=f"switchboard-{settings.stage}-ticket-received",
        bus=settings.event_bus,
        event_pattern={"source": [settings.event_source], "detail-type": [TICKET_RECEIVED]},
        target_queue=routing.name,
    )
    return Stack(tickets, customers, settings.event_bus, dlq, routing, rule)


# ---------------------------------------------------------------------------------------------------------------
# boto3 request shapes (CloudFormation shapes are in infra.template)


def create_table_request(table: Table) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": table.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in table.attributes.items()],
        "KeySchema": [{"AttributeName": table.hash_key, "KeyType": "HASH"}],
    }
    if table.indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.hash_key, "KeyType": "HASH"},
                    {"AttributeName": index.range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in table.indexes
        ]
    return request


def queue_attributes(queue: Queue, dead_letter_arn: str | None) -> dict[str, str]:
    """SQS attributes as strings, the way both the API and CloudFormation's JSON policies want them."""
    attributes = {
        "VisibilityTimeout": str(queue.visibility_timeout_s),
        "MessageRetentionPeriod": str(queue.retention_s),
    }
    if dead_letter_arn is not None:
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": queue.max_receive_count}
        )
    return attributes


def queue_policy(queue_arn: Any, rule_arn: Any) -> dict[str, Any]:
    """Let EventBridge deliver to the queue, and only for our rule (ARNs may be CloudFormation expressions)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowTicketReceivedRule",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }


# ---------------------------------------------------------------------------------------------------------------
# provisioning


@dataclass(frozen=True)
class Provisioned:
    """What callers need afterwards (queue URLs and ARNs are only known once the queues exist)."""

    routing_queue_url: str
    routing_queue_arn: str
    routing_dlq_url: str
    routing_dlq_arn: str
    rule_arn: str


def provision(
    settings: Settings,
    *,
    session: boto3.session.Session | None = None,
    visibility_timeout_s: int = VISIBILITY_TIMEOUT_SECONDS,
) -> Provisioned:
    """Create (or converge) every resource of the stage; safe to run any number of times."""
    session = session or boto3.session.Session()
    stack = define(settings, visibility_timeout_s=visibility_timeout_s)
    dynamodb = session.client("dynamodb", region_name=settings.region)
    sqs = session.client("sqs", region_name=settings.region)
    events = session.client("events", region_name=settings.region)

    for table in stack.tables:
        _ensure_table(dynamodb, table)

    try:
        events.create_event_bus(Name=stack.event_bus)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    rule = stack.ticket_received_rule
    rule_arn = events.put_rule(
        Name=rule.name, EventBusName=rule.bus, EventPattern=json.dumps(rule.event_pattern), State="ENABLED"
    )["RuleArn"]

    dlq_url, dlq_arn = _ensure_queue(sqs, stack.routing_dlq, dead_letter_arn=None)
    queue_url, queue_arn = _ensure_queue(sqs, stack.routing_queue, dead_letter_arn=dlq_arn)
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(queue_policy(queue_arn, rule_arn))})

    events.put_targets(Rule=rule.name, EventBusName=rule.bus, Targets=[{"Id": ROUTING_TARGET_ID, "Arn": queue_arn}])
    return Provisioned(queue_url, queue_arn, dlq_url, dlq_arn, rule_arn)


def _ensure_table(dynamodb: Any, table: Table) -> None:
    try:
        dynamodb.describe_table(TableName=table.name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        dynamodb.create_table(**create_table_request(table))
        dynamodb.get_waiter("table_exists").wait(TableName=table.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    if table.ttl_attribute is None:
        return
    ttl = dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        dynamodb.update_time_to_live(
            TableName=table.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
        )


def _ensure_queue(sqs: Any, queue: Queue, *, dead_letter_arn: str | None) -> tuple[str, str]:
    """create_queue fails on an existing queue whose attributes differ, so create bare and then converge."""
    url = sqs.create_queue(QueueName=queue.name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=queue_attributes(queue, dead_letter_arn))
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


# ---------------------------------------------------------------------------------------------------------------
# sample data

SAMPLE_CUSTOMERS: tuple[CustomerContext, ...] = (
    CustomerContext(
        customer_id="CUST-ENT-0001", vip=True, account_type=AccountType.ENTERPRISE, plan="Enterprise Fiber 10G",
        lifetime_value=1_250_000.0,
    ),
    CustomerContext(
        customer_id="CUST-ENT-0002", vip=False, account_type=AccountType.ENTERPRISE, plan="Enterprise Fiber 1G",
        standing=Standing.PAST_DUE, lifetime_value=310_000.0,
    ),
    CustomerContext(
        customer_id="CUST-BIZ-0001", vip=True, account_type=AccountType.BUSINESS, plan="Business Pro 500",
        lifetime_value=48_000.0,
    ),
    CustomerContext(
        customer_id="CUST-BIZ-0002", vip=False, account_type=AccountType.BUSINESS, plan="Business Essentials 200",
        lifetime_value=9_600.0,
    ),
    CustomerContext(
        customer_id="CUST-CON-0001", vip=True, account_type=AccountType.CONSUMER, plan="Gigabit Home + TV",
        lifetime_value=7_800.0,
    ),
    CustomerContext(
        customer_id="CUST-CON-0002", vip=False, account_type=AccountType.CONSUMER, plan="Home Internet 300",
        lifetime_value=1_450.0,
    ),
    CustomerContext(
        customer_id="CUST-CON-0003", vip=False, account_type=AccountType.CONSUMER, plan="Mobile Unlimited",
        standing=Standing.SUSPENDED, lifetime_value=620.0,
    ),
)


def customer_item(customer: CustomerContext) -> dict[str, Any]:
    """A customer as a DynamoDB item: one attribute per CustomerContext field (floats as Decimal)."""
    return json.loads(customer.model_dump_json(), parse_float=Decimal)


def seed_customers(
    settings: Settings,
    *,
    session: boto3.session.Session | None = None,
    customers: tuple[CustomerContext, ...] = SAMPLE_CUSTOMERS,
) -> int:
    """Write the sample customers (VIP and not, every account type) so that priorities differ in demos."""
    session = session or boto3.session.Session()
    table = session.resource("dynamodb", region_name=settings.region).Table(settings.customers_table)
    with table.batch_writer(overwrite_by_pkeys=["customer_id"]) as batch:
        for customer in customers:
            batch.put_item(Item=customer_item(customer))
    return len(customers)
