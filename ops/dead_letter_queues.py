"""Which dead-letter queues a stage has, where each one's messages came from, and who consumes them there.

Everything is read from ``infra.resources.define`` (the one definition of every queue, rule and DLQ) and from the
function catalogue (``infra.cdk.functions``: which worker consumes which queue), so a queue added there shows up
here without an edit. Four DLQs today:

* ``routing``, ``agent``, ``sync``: each the ``RedrivePolicy`` target of one queue, to which its messages go back;
* ``events``: the rules' target DLQ. It holds EventBridge events a rule could not deliver to its queue; they go
  back on the bus (``PutEvents``), where the rule matches them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from datalayer.settings import Settings
from infra.cdk.functions import WORKERS
from infra.resources import define


class UnknownQueueError(Exception):
    """The name given is neither a short name nor a full name of one of the stage's dead-letter queues."""


@dataclass(frozen=True)
class Dlq:
    """One dead-letter queue and where its messages go back to."""

    short_name: str
    """``routing``, ``agent``, ``sync`` or ``events``."""
    name: str
    source: str
    """The queue its messages failed in (and go back to), or the event bus for ``events``."""
    source_is_bus: bool = False

    @property
    def back_to(self) -> str:
        return f"bus {self.source}" if self.source_is_bus else self.source


@dataclass(frozen=True)
class StageQueues:
    """The stage's DLQs, which function consumes each queue, and which queue each event type is delivered to."""

    stage: str
    dlqs: tuple[Dlq, ...]
    consumers: Mapping[str, str]
    """Queue name → the Lambda function (Chalice name) that consumes it: ``route_tickets``, ``sync_decisions``, …"""
    targets: Mapping[str, str]
    """Event type (``TicketReceived``) → the queue its rule delivers it to."""

    def resolve(self, name: str) -> Dlq:
        """The DLQ called ``name``: a short name (``routing``) or the full queue name."""
        for dlq in self.dlqs:
            if name in (dlq.short_name, dlq.name):
                return dlq
        known = ", ".join(dlq.short_name for dlq in self.dlqs)
        raise UnknownQueueError(f"no dead-letter queue {name!r} in stage {self.stage}: use one of {known} "
                                f"or a full name ({self.dlqs[0].name}, …)")

    def consumer_of(self, queue_name: str) -> str:
        return self.consumers.get(queue_name, "?")


def stage_queues(settings: Settings) -> StageQueues:
    stack = define(settings)
    prefix = f"switchboard-{settings.stage}-"
    dlqs = [
        Dlq(_short(queue.dead_letter_queue, prefix), queue.dead_letter_queue, queue.name)
        for queue in stack.queues
        if queue.dead_letter_queue
    ]
    rule_dlqs = {rule.dead_letter_queue for rule in stack.rules}
    dlqs += [Dlq(_short(name, prefix), name, stack.event_bus, source_is_bus=True) for name in sorted(rule_dlqs)]
    consumers = {getattr(stack, function.needs.consumes).name: function.name
                 for function in WORKERS if function.needs.consumes}
    targets = {detail_type: rule.target_queue for rule in stack.rules
               for detail_type in rule.event_pattern.get("detail-type", ())}
    return StageQueues(settings.stage, tuple(dlqs), consumers, targets)


def _short(name: str, prefix: str) -> str:
    """``switchboard-dev-routing-dlq`` → ``routing``."""
    return name.removeprefix(prefix).removesuffix("-dlq")
