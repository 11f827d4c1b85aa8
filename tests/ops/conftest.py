"""Operator commands against in-process moto (fixtures in tests/conftest.py), and for ``dlq``: a stage with its audit
log group and archive bucket (what the data stack adds in AWS), a clock that moves moto's SQS time forward (holds
run out and dead letters age without sleeping), and the real routing and sync workers to fill and drain the
queues the way Lambda would."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import moto.sqs.models as moto_sqs
import pytest
from typer.testing import CliRunner, Result

from datalayer.customers import CustomerStore
from datalayer.dead_letters import DeadLetterQueue
from datalayer.publisher import EventPublisher
from datalayer.service_status import ServiceStatusStore
from datalayer.settings import Settings, dlq_archive_bucket_name
from datalayer.tickets import TicketStore
from datalayer.types import Ticket
from infra.poller import lambda_record
from ops import cli, dlq
from ops.dlq import Services
from tests.support import Aws
from tests.workers.fakes import FakeRouter, ticket
from workers.routing import Outcome as RoutingOutcome
from workers.routing import RoutingWorker
from workers.sync import Outcome as SyncOutcome
from workers.sync import SyncWorker
from workers.ticketing.base import DecisionUpdate, TicketNotFoundError

ACCOUNT = "123456789012"
"""moto's account."""
CALLER = f"arn:aws:sts::{ACCOUNT}:user/moto"
"""Who moto says we are (``sts get-caller-identity``)."""


@pytest.fixture(autouse=True)
def _moto(moto_environment: None) -> None:
    """Every test here runs in the test stage with fake credentials."""


# -- time ---------------------------------------------------------------------------------------------------------


@dataclass
class SqsTime:
    """moto's SQS clock, moved forward by tests; ``now`` is the tool's clock, moved alike."""

    offset_s: float = 0.0

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)


@pytest.fixture
def sqs_time(monkeypatch: pytest.MonkeyPatch) -> SqsTime:
    shifted = SqsTime()
    real_ms, real_s = moto_sqs.unix_time_millis, moto_sqs.unix_time
    monkeypatch.setattr(moto_sqs, "unix_time_millis", lambda *a: real_ms(*a) + (0 if a else shifted.offset_s * 1000))
    monkeypatch.setattr(moto_sqs, "unix_time", lambda *a: real_s(*a) + (0 if a else shifted.offset_s))
    return shifted


@dataclass
class Timer:
    """The rate limit's monotonic clock and sleep: sleeping moves the clock and is recorded, nothing waits."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# -- the stage and the command line --------------------------------------------------------------------------------


@dataclass
class Stage:
    aws: Aws
    settings: Settings
    sqs: Any
    logs: Any
    s3: Any
    bucket: str

    def url(self, name: str) -> str:
        return str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def depth(self, name: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url(name), AttributeNames=names)["Attributes"]
        return sum(int(attributes[n]) for n in names)

    def bodies(self, name: str) -> list[str]:
        """Every message of a queue, received and deleted."""
        found: list[str] = []
        url = self.url(name)
        while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                found.append(message["Body"])
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def audit_records(self) -> list[dict[str, Any]]:
        events = self.logs.filter_log_events(logGroupName=self.settings.audit_log_group)["events"]
        return [json.loads(event["message"]) for event in events]

    def dead_letter_directly(self, queue: str, body: str, reason: str) -> None:
        """What a worker does with a message no retry can fix (``datalayer.dead_letters``)."""
        DeadLetterQueue(self.settings, queue, self.sqs).send(body, reason)

    def undeliverable_event(self, body: str, target_queue: str) -> None:
        """What EventBridge does with an event it could not deliver to a rule's queue."""
        attributes = {
            "ERROR_CODE": "SQS.AccessDenied",
            "ERROR_MESSAGE": "Access to the queue was denied",
            "RULE_ARN": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{self.settings.event_bus}/some-rule",
            "TARGET_ARN": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{target_queue}",
        }
        self.sqs.send_message(
            QueueUrl=self.url(f"switchboard-{self.settings.stage}-events-dlq"), MessageBody=body,
            MessageAttributes={name: {"DataType": "String", "StringValue": text} for name, text in attributes.items()},
        )


@pytest.fixture
def stage(aws: Aws) -> Stage:
    """The provisioned test stage plus what the data stack adds for on-call: the audit log group, the archive."""
    settings = aws.settings
    logs, s3 = boto3.client("logs", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
    logs.create_log_group(logGroupName=settings.audit_log_group)
    bucket = dlq_archive_bucket_name(settings.stage, ACCOUNT)
    s3.create_bucket(Bucket=bucket)
    return Stage(aws, settings, aws.clients.sqs, logs, s3, bucket)


@dataclass
class Tool:
    """``switchboard dlq …`` through typer's runner, with the tool's clocks injected."""

    time: SqsTime
    timer: Timer
    runner: CliRunner = field(default_factory=CliRunner)
    customise: list[Any] = field(default_factory=list)
    """Functions applied to every ``Services`` the commands build (to swap a client, say)."""

    def services(self, settings: Settings) -> Services:
        built = Services(settings, clock=self.time.now, monotonic=self.timer.monotonic, sleep=self.timer.sleep)
        for change in self.customise:
            change(built)
        return built

    def __call__(self, *args: str, input: str | None = None, debug: bool = False) -> Result:
        argv = [*(["--debug"] if debug else []), "dlq", *args]
        return self.runner.invoke(cli.app, argv, input=input, env={"COLUMNS": "220"})

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def tool(sqs_time: SqsTime) -> Iterator[Tool]:
    built = Tool(sqs_time, Timer())
    dlq.use_services(built.services)
    yield built
    dlq.use_services(None)


# -- the workers, run the way Lambda's event source mapping runs them -------------------------------------------------


class Metrics:
    def add(self, name: str, value: float, unit: Any = None, **dimensions: str) -> None:
        pass


@dataclass
class CountingTicketing:
    """The ticketing system: counts the decisions written to each ticket; refuses tickets it does not have."""

    missing: set[str] = field(default_factory=set)
    applied: Counter[str] = field(default_factory=Counter)

    def apply(self, update: DecisionUpdate) -> None:
        if update.ticket_id in self.missing:
            raise TicketNotFoundError(f"no ticket {update.ticket_id} in the ticketing system")
        self.applied[update.ticket_id] += 1


@dataclass
class Pipeline:
    stage: Stage
    store: TicketStore
    router: FakeRouter
    routing: RoutingWorker
    ticketing: CountingTicketing
    sync: SyncWorker
    routing_outcomes: Counter[str] = field(default_factory=Counter)
    sync_outcomes: Counter[str] = field(default_factory=Counter)

    def submit(self, *tickets: Ticket) -> None:
        """As the API does: stored, then TicketReceived on the bus (the rule delivers it to the routing queue)."""
        publisher = EventPublisher(self.stage.settings)
        for one in tickets:
            self.store.create_if_absent(one)
            publisher.publish_received(one)

    def run_routing(self) -> None:
        self._run(self.stage.settings.routing_queue, self.routing, self.routing_outcomes)

    def run_sync(self) -> None:
        self._run(self.stage.settings.sync_queue, self.sync, self.sync_outcomes)

    def _run(self, queue: str, worker: Any, outcomes: Counter[str]) -> None:
        """Until the queue is empty: a failed record is received again at once (its visibility timeout passed),
        and SQS moves it to the DLQ after the fifth receive."""
        sqs, url = self.stage.sqs, self.stage.url(queue)
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                              AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages"):
            for message in messages:
                result = worker.process_record(lambda_record(message, f"arn:{queue}", "us-east-1"))
                outcomes[str(result.outcome)] += 1
                if result.failed:
                    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                                  VisibilityTimeout=0)
                else:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def routed_events(self) -> Counter[str]:
        """TicketRouted events waiting in the sync queue, per ticket (read without consuming)."""
        sqs, url = self.stage.sqs, self.stage.url(self.stage.settings.sync_queue)
        seen: dict[str, str] = {}
        handles: list[str] = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
                "Messages"):
            for message in messages:
                seen[message["MessageId"]] = json.loads(message["Body"])["detail"]["ticket_id"]
                handles.append(message["ReceiptHandle"])
        for handle in handles:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        return Counter(seen.values())

    def status(self, ticket_id: str) -> str:
        record = self.store.get(ticket_id)
        assert record is not None, ticket_id
        return str(record.status)


@pytest.fixture
def pipeline(stage: Stage) -> Pipeline:
    settings = stage.settings
    resource = stage.aws.clients.dynamodb_resource
    store = TicketStore(settings, dynamodb_resource=resource)
    router = FakeRouter()
    routing = RoutingWorker(router, store, CustomerStore(settings, resource), ServiceStatusStore(settings, resource),
                            EventPublisher(settings), metrics=Metrics())
    ticketing = CountingTicketing()
    sync = SyncWorker(store, ticketing, DeadLetterQueue(settings, settings.sync_dlq, stage.sqs), metrics=Metrics(),
                      sleep=lambda _s: None, backoff_deadline_s=0)
    return Pipeline(stage, store, router, routing, ticketing, sync)


def tickets(count: int, prefix: str = "T", **kwargs: Any) -> list[Ticket]:
    return [ticket(f"{prefix}-{number:03d}", **kwargs) for number in range(count)]


ROUTED = str(RoutingOutcome.ROUTED)
DUPLICATE = str(RoutingOutcome.DUPLICATE)
SYNCED = str(SyncOutcome.SYNCED)
