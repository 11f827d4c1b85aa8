"""Metrics of the workers, as CloudWatch embedded-metric-format lines through Powertools.

Workers take a ``MetricSink`` (constructor argument), so tests can count what a worker reports; in Lambda the
``PowertoolsMetrics`` adapter buffers plain metrics until the handler flushes them and writes a metric with
dimensions (the cause of an agent fallback) at once, as its own EMF line.
"""

from __future__ import annotations

from typing import Protocol

from aws_lambda_powertools import Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "Switchboard"


class MetricSink(Protocol):
    def add(self, name: str, value: float, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None: ...


class PowertoolsMetrics:
    def __init__(self, service: str) -> None:
        self._metrics = Metrics(namespace=NAMESPACE, service=service)
        self._service = service

    def add(self, name: str, value: float, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None:
        if not dimensions:
            self._metrics.add_metric(name=name, unit=unit, value=value)
            return
        with single_metric(
            name=name, unit=unit, value=value, namespace=NAMESPACE, default_dimensions={"service": self._service}
        ) as metric:
            for key, dimension in dimensions.items():
                metric.add_dimension(name=key, value=dimension)

    def flush(self) -> None:
        """Write the buffered metrics as one EMF line (nothing when an invocation recorded none)."""
        if self._metrics.metric_set:
            self._metrics.flush_metrics()
