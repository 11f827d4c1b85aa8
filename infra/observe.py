"""A downstream consumer for tests and benchmarks: a queue subscribed to one event type on the bus.

Counting TicketRouted events where a real subscriber would see them (through a rule, not by reading the
worker's logs or the table) is the honest way to prove "exactly one event per ticket".
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from datalayer import aws
from datalayer.settings import Settings
from infra.resources import queue_policy


@dataclass
class Observer:
    sqs: Any
    queue_url: str
    events_client: Any
    rule: str
    bus: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def close(self) -> None:
        """Unsubscribe: the rule and its target go before the queue (a rule targeting a deleted queue makes moto
        refuse every later PutEvents on the bus)."""
        self.events_client.remove_targets(Rule=self.rule, EventBusName=self.bus, Ids=["observer"])
        self.events_client.delete_rule(Name=self.rule, EventBusName=self.bus)
        self.sqs.delete_queue(QueueUrl=self.queue_url)

    def drain(self, *, until: Callable[[list[dict[str, Any]]], bool], timeout_s: float) -> list[dict[str, Any]]:
        """Receive and delete events until ``until(events)`` holds or ``timeout_s`` passes; returns all seen."""
        deadline = time.monotonic() + timeout_s
        while not until(self.events) and time.monotonic() < deadline:
            self.receive_once()
        return self.events

    def receive_once(self, wait_s: int = 1) -> int:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
        ).get("Messages", [])
        for message in messages:
            self.events.append(json.loads(message["Body"]))
        if messages:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return len(messages)

    def per_ticket(self) -> Counter[str]:
        return Counter(event["detail"]["ticket_id"] for event in self.events)


def observe(
    settings: Settings, detail_type: str, name: str
) -> Observer:
    """Subscribe a fresh queue called ``name`` to ``detail_type`` events of the stage's bus."""
    sqs, events = aws.client("sqs", settings), aws.client("events", settings)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = events.put_rule(
        Name=name,
        EventBusName=settings.event_bus,
        EventPattern=json.dumps({"source": [settings.event_source], "detail-type": [detail_type]}),
    )["RuleArn"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(queue_policy(queue_arn, rule_arn))})
    events.put_targets(Rule=name, EventBusName=settings.event_bus, Targets=[{"Id": "observer", "Arn": queue_arn}])
    return Observer(sqs, queue_url, events, name, settings.event_bus)
