"""The one definition of every AWS resource Switchboard needs, and how to create them through boto3.

Tables are laid out in ``datalayer.tables`` (the stores query by the same definitions) and the event names come
from ``datalayer.events``; the bus, the rule and the queues are defined here. Two consumers read ``define``:
``provision`` (below) creates the resources against moto, in-process under ``mock_aws`` or through a moto server
(``settings.endpoint_url``); the CDK data stack (``infra.cdk.data_stack``) turns the same objects into CloudFormation
for AWS. Nothing else spells a key schema, an index, a queue setting or a rule's retry policy, so the local stack and
production cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from datalayer import aws
from datalayer.customers import CustomerStore
from datalayer.events import TICKET_RECEIVED, TICKET_ROUTED
from datalayer.settings import Settings
from datalayer.tables import Table, all_tables
from datalayer.types import AccountType, CustomerContext, Standing
from workers.limits import (
    AGENT_VISIBILITY_TIMEOUT_SECONDS,
    MAX_RECEIVE_COUNT,
    SYNC_VISIBILITY_TIMEOUT_SECONDS,
    VISIBILITY_TIMEOUT_SECONDS,
)

ROUTING_TARGET_ID = "routing-queue"
SYNC_TARGET_ID = "sync-queue"

ROUTING_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
"""The maximum SQS allows: on-call gets two weeks to look at a poisoned ticket before it is gone."""
ARCHIVE_RETENTION_DAYS = 7
"""Every event on the bus is archived this long, so a lost delivery can be replayed (EventBridge archive)."""


@dataclass(frozen=True)
class Queue:
    name: str
    visibility_timeout_s: int
    retention_s: int
    dead_letter_queue: str | None = None
    max_receive_count: int = MAX_RECEIVE_COUNT


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often EventBridge retries a target it could not deliver to, before its dead-letter queue."""

    maximum_event_age_s: int = 3600
    maximum_retry_attempts: int = 10


@dataclass(frozen=True)
class Rule:
    name: str
    bus: str
    event_pattern: Mapping[str, Any]
    target_queue: str
    target_id: str
    dead_letter_queue: str
    """Where EventBridge puts an event it gave up delivering to ``target_queue`` (every rule target has one)."""
    retry_policy: RetryPolicy = RetryPolicy()


@dataclass(frozen=True)
class Stack:
    """Every resource of one stage, in the order ``provision`` creates them."""

    tables: tuple[Table, ...]
    event_bus: str
    routing_dlq: Queue
    routing_queue: Queue
    ticket_received_rule: Rule
    agent_dlq: Queue
    agent_queue: Queue
    """Filled by the routing worker (SendMessage), not by a rule: only it knows which tickets are unsure."""
    events_dlq: Queue
    """Events a rule could not deliver to its target after its retry policy."""
    sync_dlq: Queue
    """Also filled by the sync worker itself, at once, when the ticketing system will never take an update."""
    sync_queue: Queue
    ticket_routed_rule: Rule
    """Every final decision (TicketRouted) to the sync worker, which writes it to the ticketing system."""

    @property
    def queues(self) -> tuple[Queue, ...]:
        """Every queue, each dead-letter queue before the queue that uses it."""
        return (
            self.events_dlq,
            self.routing_dlq,
            self.routing_queue,
            self.agent_dlq,
            self.agent_queue,
            self.sync_dlq,
            self.sync_queue,
        )

    @property
    def dead_letter_queues(self) -> tuple[Queue, ...]:
        """The queues where failures end up: a message in any of them needs a person (an alarm each)."""
        return (self.events_dlq, self.routing_dlq, self.agent_dlq, self.sync_dlq)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return (self.ticket_received_rule, self.ticket_routed_rule)

    def queue(self, name: str) -> Queue:
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise KeyError(f"no queue {name!r} in stage")


def define(settings: Settings, *, visibility_timeout_s: int | None = None) -> Stack:
    """The resources of ``settings``' stage.

    ``visibility_timeout_s`` exists for tests that watch a message fail five times: with the production values
    (six times each worker's timeout) that takes many minutes. Everything else must stay as defined.
    """
    routing_visibility = visibility_timeout_s or VISIBILITY_TIMEOUT_SECONDS
    agent_visibility = visibility_timeout_s or AGENT_VISIBILITY_TIMEOUT_SECONDS
    sync_visibility = visibility_timeout_s or SYNC_VISIBILITY_TIMEOUT_SECONDS
    dlq = Queue(name=settings.routing_dlq, visibility_timeout_s=routing_visibility, retention_s=DLQ_RETENTION_SECONDS)
    routing = Queue(
        name=settings.routing_queue,
        visibility_timeout_s=routing_visibility,
        retention_s=ROUTING_RETENTION_SECONDS,
        dead_letter_queue=dlq.name,
    )
    agent_dlq = Queue(name=settings.agent_dlq, visibility_timeout_s=agent_visibility, retention_s=DLQ_RETENTION_SECONDS)
    agent = Queue(
        name=settings.agent_queue,
        visibility_timeout_s=agent_visibility,
        retention_s=ROUTING_RETENTION_SECONDS,
        dead_letter_queue=agent_dlq.name,
    )
    events_dlq = Queue(
        name=f"switchboard-{settings.stage}-events-dlq",
        visibility_timeout_s=routing_visibility,
        retention_s=DLQ_RETENTION_SECONDS,
    )
    rule = Rule(
        name=f"switchboard-{settings.stage}-ticket-received",
        bus=settings.event_bus,
        event_pattern={"source": [settings.event_source], "detail-type": [TICKET_RECEIVED]},
        target_queue=routing.name,
        target_id=ROUTING_TARGET_ID,
        dead_letter_queue=events_dlq.name,
    )
    sync_dlq = Queue(name=settings.sync_dlq, visibility_timeout_s=sync_visibility, retention_s=DLQ_RETENTION_SECONDS)
    sync = Queue(
        name=settings.sync_queue,
        visibility_timeout_s=sync_visibility,
        retention_s=ROUTING_RETENTION_SECONDS,
        dead_letter_queue=sync_dlq.name,
    )
    routed_rule = Rule(
        name=f"switchboard-{settings.stage}-ticket-routed",
        bus=settings.event_bus,
        event_pattern={"source": [settings.event_source], "detail-type": [TICKET_ROUTED]},
        target_queue=sync.name,
        target_id=SYNC_TARGET_ID,
        dead_letter_queue=events_dlq.name,
    )
    return Stack(
        all_tables(settings),
        settings.event_bus,
        dlq,
        routing,
        rule,
        agent_dlq,
        agent,
        events_dlq,
        sync_dlq,
        sync,
        routed_rule,
    )


# ---------------------------------------------------------------------------------------------------------------
# boto3 request shapes (the CloudFormation side is in infra.cdk.data_stack)


def create_table_request(table: Table) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": table.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in table.attributes.items()],
        "KeySchema": [{"AttributeName": table.hash_key, "KeyType": "HASH"}],
    }
    if table.range_key:
        request["KeySchema"].append({"AttributeName": table.range_key, "KeyType": "RANGE"})
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


def queue_policy(queue_arn: Any, rule_arn: Any, sid: str = "AllowRule") -> dict[str, Any]:
    """Let EventBridge deliver to the queue, and only for our rule (ARNs may be CloudFormation expressions)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }


def rule_target(rule: Rule, queue_arn: Any, dead_letter_arn: Any) -> dict[str, Any]:
    """The rule's target as both PutTargets and CloudFormation spell it: the queue, its DLQ, its retries."""
    return {
        "Id": rule.target_id,
        "Arn": queue_arn,
        "DeadLetterConfig": {"Arn": dead_letter_arn},
        "RetryPolicy": {
            "MaximumEventAgeInSeconds": rule.retry_policy.maximum_event_age_s,
            "MaximumRetryAttempts": rule.retry_policy.maximum_retry_attempts,
        },
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
    agent_queue_url: str
    agent_queue_arn: str
    agent_dlq_url: str
    agent_dlq_arn: str
    sync_queue_url: str
    sync_queue_arn: str
    sync_dlq_url: str
    sync_dlq_arn: str
    sync_rule_arn: str


def provision(
    settings: Settings,
    *,
    session: boto3.session.Session | None = None,
    visibility_timeout_s: int | None = None,
) -> Provisioned:
    """Create (or converge) every resource of the stage; safe to run any number of times."""
    stack = define(settings, visibility_timeout_s=visibility_timeout_s)
    dynamodb, sqs, events = (_client(session, name, settings) for name in ("dynamodb", "sqs", "events"))

    for table in stack.tables:
        _ensure_table(dynamodb, table)

    try:
        events.create_event_bus(Name=stack.event_bus)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    _, events_dlq_arn = _ensure_queue(sqs, stack.events_dlq, dead_letter_arn=None)
    dlq_url, dlq_arn = _ensure_queue(sqs, stack.routing_dlq, dead_letter_arn=None)
    queue_url, queue_arn, rule_arn = _ensure_rule_to_queue(
        events, sqs, stack.ticket_received_rule, stack.routing_queue, dlq_arn, events_dlq_arn
    )
    agent_dlq_url, agent_dlq_arn = _ensure_queue(sqs, stack.agent_dlq, dead_letter_arn=None)
    agent_url, agent_arn = _ensure_queue(sqs, stack.agent_queue, dead_letter_arn=agent_dlq_arn)
    sync_dlq_url, sync_dlq_arn = _ensure_queue(sqs, stack.sync_dlq, dead_letter_arn=None)
    sync_url, sync_arn, sync_rule_arn = _ensure_rule_to_queue(
        events, sqs, stack.ticket_routed_rule, stack.sync_queue, sync_dlq_arn, events_dlq_arn
    )
    return Provisioned(
        routing_queue_url=queue_url,
        routing_queue_arn=queue_arn,
        routing_dlq_url=dlq_url,
        routing_dlq_arn=dlq_arn,
        rule_arn=rule_arn,
        agent_queue_url=agent_url,
        agent_queue_arn=agent_arn,
        agent_dlq_url=agent_dlq_url,
        agent_dlq_arn=agent_dlq_arn,
        sync_queue_url=sync_url,
        sync_queue_arn=sync_arn,
        sync_dlq_url=sync_dlq_url,
        sync_dlq_arn=sync_dlq_arn,
        sync_rule_arn=sync_rule_arn,
    )


def _ensure_rule_to_queue(
    events: Any, sqs: Any, rule: Rule, queue: Queue, dead_letter_arn: str, events_dlq_arn: str
) -> tuple[str, str, str]:
    """The rule, its queue (allowing the rule to send) and the target between them: url, queue ARN, rule ARN."""
    rule_arn = events.put_rule(
        Name=rule.name, EventBusName=rule.bus, EventPattern=json.dumps(rule.event_pattern), State="ENABLED"
    )["RuleArn"]
    url, arn = _ensure_queue(sqs, queue, dead_letter_arn=dead_letter_arn)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(queue_policy(arn, rule_arn))})
    events.put_targets(Rule=rule.name, EventBusName=rule.bus, Targets=[rule_target(rule, arn, events_dlq_arn)])
    return url, arn, rule_arn


def _client(session: Any, service: str, settings: Settings) -> Any:
    """A client from ``session`` when given (tests pass one), else the data layer's for ``settings``."""
    if session is not None:
        return session.client(service, region_name=settings.region)
    return aws.client(service, settings)


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
        region="Los Angeles", lifetime_value=1_250_000.0,
    ),
    CustomerContext(
        customer_id="CUST-ENT-0002", vip=False, account_type=AccountType.ENTERPRISE, plan="Enterprise Fiber 1G",
        region="Chicago", standing=Standing.PAST_DUE, lifetime_value=310_000.0,
    ),
    CustomerContext(
        customer_id="CUST-BIZ-0001", vip=True, account_type=AccountType.BUSINESS, plan="Business Pro 500",
        region="Chicago", lifetime_value=48_000.0,
    ),
    CustomerContext(
        customer_id="CUST-BIZ-0002", vip=False, account_type=AccountType.BUSINESS, plan="Business Essentials 200",
        region="Springfield", lifetime_value=9_600.0,
    ),
    CustomerContext(
        customer_id="CUST-CON-0001", vip=True, account_type=AccountType.CONSUMER, plan="Gigabit Home + TV",
        region="Los Angeles", lifetime_value=7_800.0,
    ),
    CustomerContext(
        customer_id="CUST-CON-0002", vip=False, account_type=AccountType.CONSUMER, plan="Home Internet 300",
        region="Springfield", lifetime_value=1_450.0,
    ),
    CustomerContext(
        customer_id="CUST-CON-0003", vip=False, account_type=AccountType.CONSUMER, plan="Mobile Unlimited",
        region="Los Angeles", standing=Standing.SUSPENDED, lifetime_value=620.0,
    ),
)


def seed_customers(settings: Settings, *, dynamodb_resource: Any = None) -> int:
    """Write the sample customers (VIP and not, every account type) so that priorities differ in demos."""
    return CustomerStore(settings, dynamodb_resource).put_many(SAMPLE_CUSTOMERS)
