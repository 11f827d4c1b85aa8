"""Metrics of the API and the workers, as CloudWatch embedded-metric-format lines through Powertools.

Components take a ``MetricSink`` (constructor argument), so tests can count what they report; in Lambda the
``PowertoolsMetrics`` adapter buffers plain metrics until the handler flushes them, and writes a metric with
dimensions at once, as its own EMF line. The names and dimensions are the ones the stage's dashboard and alarms
read (``infra.cdk.observability.METRICS``): the pipeline's metrics carry ``service=pipeline`` whichever component
emits them, because a percentile of receipt-to-decision cannot be combined across two services.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from aws_lambda_powertools import Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from datalayer.types import DecisionTier, RoutingDecision

NAMESPACE = "Switchboard"
PIPELINE = "pipeline"


class MetricSink(Protocol):
    def add(self, name: str, value: float, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None: ...


class PowertoolsMetrics:
    def __init__(self, service: str) -> None:
        self._metrics = Metrics(namespace=NAMESPACE, service=service)
        self._service = service

    def add(self, name: str, value: float, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None:
        """``service`` among ``dimensions`` overrides this sink's service (the pipeline metrics of a worker)."""
        service = dimensions.pop("service", self._service)
        if not dimensions and service == self._service:
            self._metrics.add_metric(name=name, unit=unit, value=value)
            return
        with single_metric(
            name=name, unit=unit, value=value, namespace=NAMESPACE, default_dimensions={"service": service}
        ) as metric:
            for key, dimension in dimensions.items():
                metric.add_dimension(name=key, value=dimension)

    def flush(self) -> None:
        """Write the buffered metrics as one EMF line (nothing when an invocation recorded none)."""
        if self._metrics.metric_set:
            self._metrics.flush_metrics()


def milliseconds_since(received_at: str | datetime | None, now: datetime) -> float | None:
    """Time from a ticket's receipt (its stored ISO stamp) to ``now``, or None when the receipt is unknown."""
    if received_at is None:
        return None
    received = datetime.fromisoformat(received_at) if isinstance(received_at, str) else received_at
    return max(0.0, (now - received).total_seconds() * 1000)


def record_provisional(sink: MetricSink, received_at: str | datetime | None, now: datetime) -> None:
    """The fast router's decision is stored and the ticket waits for the agent tier."""
    elapsed = milliseconds_since(received_at, now)
    if elapsed is not None:
        sink.add("ReceiptToProvisionalMs", elapsed, MetricUnit.Milliseconds, service=PIPELINE)


def record_final(
    sink: MetricSink, decision: RoutingDecision, manual_review: bool, received_at: str | datetime | None, now: datetime
) -> None:
    """A final decision is stored: counts by team, priority and tier, review, confidence and receipt-to-final."""
    tier = "agent" if decision.tier is DecisionTier.AGENT else "fallback" if decision.agent is not None else "fast"
    sink.add("TicketsDecided", 1, service=PIPELINE)
    sink.add("TicketsDecided", 1, service=PIPELINE, team=decision.team)
    sink.add("TicketsDecided", 1, service=PIPELINE, priority=decision.priority.level.value)
    sink.add("TicketsDecided", 1, service=PIPELINE, tier=tier)
    if manual_review:
        sink.add("ManualReview", 1, service=PIPELINE)
    sink.add("DecisionConfidence", decision.confidence, MetricUnit.NoUnit, service=PIPELINE)
    elapsed = milliseconds_since(received_at, now)
    if elapsed is not None:
        sink.add("ReceiptToFinalMs", elapsed, MetricUnit.Milliseconds, service=PIPELINE)
