"""provision() creates what the contract describes, idempotently, and the pieces are wired together."""

from __future__ import annotations

import json

import boto3

from datalayer.customers import CustomerStore
from datalayer.publisher import EventPublisher
from datalayer.settings import Settings
from datalayer.types import Ticket
from infra.resources import SAMPLE_CUSTOMERS, provision, seed_customers
from tests.factories import make_decision
from workers.limits import MAX_RECEIVE_COUNT, SYNC_WORKER_TIMEOUT_SECONDS, WORKER_TIMEOUT_SECONDS


def test_tickets_table_has_the_contract_layout(session: boto3.session.Session, settings: Settings) -> None:
    provision(settings, session=session)
    dynamodb = session.client("dynamodb")
    table = dynamodb.describe_table(TableName=settings.tickets_table)["Table"]

    assert table["KeySchema"] == [{"AttributeName": "ticket_id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {
        index["IndexName"]: ([k["AttributeName"] for k in index["KeySchema"]], index["Projection"]["ProjectionType"])
        for index in table["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        "by_customer": (["customer_id", "received_at"], "ALL"),
        "by_team": (["team", "received_at"], "ALL"),
        "by_status": (["status", "received_at"], "ALL"),
        "by_sync_status": (["sync_status", "updated_at"], "ALL"),
    }
    ttl = dynamodb.describe_time_to_live(TableName=settings.tickets_table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    customers = dynamodb.describe_table(TableName=settings.customers_table)["Table"]
    assert customers["KeySchema"] == [{"AttributeName": "customer_id", "KeyType": "HASH"}]


def test_status_table_holds_outages_by_region(session: boto3.session.Session, settings: Settings) -> None:
    provision(settings, session=session)
    dynamodb = session.client("dynamodb")
    table = dynamodb.describe_table(TableName=settings.status_table)["Table"]

    assert table["KeySchema"] == [
        {"AttributeName": "region", "KeyType": "HASH"},
        {"AttributeName": "outage_id", "KeyType": "RANGE"},
    ]
    ttl = dynamodb.describe_time_to_live(TableName=settings.status_table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_routing_queue_timing_and_redrive(session: boto3.session.Session, settings: Settings) -> None:
    provisioned = provision(settings, session=session)
    sqs = session.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=provisioned.routing_queue_url, AttributeNames=["All"])["Attributes"]

    assert int(attributes["VisibilityTimeout"]) == 6 * WORKER_TIMEOUT_SECONDS
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": provisioned.routing_dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    [statement] = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": provisioned.rule_arn}}


def test_provision_is_idempotent_and_converges(session: boto3.session.Session, settings: Settings) -> None:
    first = provision(settings, session=session)
    sqs = session.client("sqs")
    sqs.set_queue_attributes(QueueUrl=first.routing_queue_url, Attributes={"VisibilityTimeout": "5"})

    assert provision(settings, session=session) == first
    attributes = sqs.get_queue_attributes(QueueUrl=first.routing_queue_url, AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"]["VisibilityTimeout"] == str(6 * WORKER_TIMEOUT_SECONDS)
    targets = session.client("events").list_targets_by_rule(
        Rule="switchboard-dev-ticket-received", EventBusName=settings.event_bus
    )["Targets"]
    [target] = targets
    assert (target["Id"], target["Arn"]) == ("routing-queue", first.routing_queue_arn)
    assert target["DeadLetterConfig"]["Arn"].endswith(":switchboard-dev-events-dlq")
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_ticket_received_reaches_the_routing_queue_as_an_envelope(
    session: boto3.session.Session, settings: Settings
) -> None:
    provisioned = provision(settings, session=session)
    ticket = Ticket(ticket_id="T-1", customer_id="CUST-CON-0002", subject="No internet")
    publisher = EventPublisher(settings, events_client=session.client("events"))
    publisher.publish_received(ticket)

    sqs = session.client("sqs")
    [message] = sqs.receive_message(QueueUrl=provisioned.routing_queue_url, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert body["detail-type"] == "TicketReceived"
    assert Ticket.model_validate(body["detail"]["ticket"]) == ticket


def test_ticket_routed_events_do_not_loop_back_into_the_routing_queue(
    session: boto3.session.Session, settings: Settings
) -> None:
    provisioned = provision(settings, session=session)
    publisher = EventPublisher(settings, events_client=session.client("events"))
    publisher.publish_routed("T-1", make_decision("T-1"), "routed")
    sqs = session.client("sqs")
    assert "Messages" not in sqs.receive_message(QueueUrl=provisioned.routing_queue_url)


def test_ticket_routed_reaches_the_sync_queue_and_only_it(session: boto3.session.Session, settings: Settings) -> None:
    provisioned = provision(settings, session=session)
    publisher = EventPublisher(settings, events_client=session.client("events"))
    publisher.publish_received(Ticket(ticket_id="T-1", customer_id="CUST-CON-0002", subject="No internet"))
    publisher.publish_routed("T-1", make_decision("T-1"), "routed")

    sqs = session.client("sqs")
    [message] = sqs.receive_message(QueueUrl=provisioned.sync_queue_url, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert body["detail-type"] == "TicketRouted" and body["detail"]["ticket_id"] == "T-1"
    attributes = sqs.get_queue_attributes(QueueUrl=provisioned.sync_queue_url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["VisibilityTimeout"]) == 6 * SYNC_WORKER_TIMEOUT_SECONDS
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": provisioned.sync_dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    [statement] = json.loads(attributes["Policy"])["Statement"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": provisioned.sync_rule_arn}}


def test_seeded_customers_read_back_through_the_store(session: boto3.session.Session, settings: Settings) -> None:
    provision(settings, session=session)
    resource = session.resource("dynamodb")
    assert seed_customers(settings, dynamodb_resource=resource) == len(SAMPLE_CUSTOMERS)
    store = CustomerStore(settings, dynamodb_resource=resource)
    for customer in SAMPLE_CUSTOMERS:
        assert store.get(customer.customer_id) == customer
    kinds = {(c.vip, c.account_type) for c in SAMPLE_CUSTOMERS}
    assert {vip for vip, _ in kinds} == {True, False}
    assert {kind.value for _, kind in kinds} == {"enterprise", "business", "consumer"}
