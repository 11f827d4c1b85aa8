"""Metrics as CloudWatch reads them: EMF lines with the names and dimensions the dashboard and alarms use."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from datalayer.metrics import PowertoolsMetrics, milliseconds_since, record_final
from datalayer.types import AgentUsage, DecisionTier, FallbackCause
from tests.factories import make_decision


def emf_lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_plain_metrics_are_buffered_until_flushed_and_dimensioned_ones_written_at_once(capsys) -> None:
    sink = PowertoolsMetrics(service="agent-worker")
    sink.add("AgentDecisions", 1)
    sink.add("AgentFallbacks", 1, cause="throttled")
    [fallback] = emf_lines(capsys)
    assert fallback["AgentFallbacks"] == [1.0] or fallback["AgentFallbacks"] == 1.0
    assert fallback["cause"] == "throttled" and fallback["service"] == "agent-worker"

    sink.flush()
    [buffered] = emf_lines(capsys)
    assert buffered["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Switchboard"
    assert buffered["service"] == "agent-worker" and "AgentDecisions" in buffered
    sink.flush()
    assert emf_lines(capsys) == []  # nothing recorded, nothing written (and no warning)


def test_a_final_decision_feeds_every_pipeline_metric(capsys) -> None:
    sink = PowertoolsMetrics(service="agent-worker")
    fallback = make_decision("T-1").model_copy(
        update={
            "tier": DecisionTier.LOCAL,
            "agent": AgentUsage(provider="bedrock", model_id="m", fallback=FallbackCause.TIMEOUT),
        }
    )
    now = datetime(2026, 11, 25, 15, 0, 2, tzinfo=UTC)

    record_final(sink, fallback, True, "2026-11-25T15:00:00.000000+00:00", now)

    lines = emf_lines(capsys)
    assert {line["service"] for line in lines} == {"pipeline"}  # whichever component emits them
    assert {line.get("tier") for line in lines} >= {"fallback"}
    assert any("ManualReview" in line for line in lines)
    [final] = [line for line in lines if "ReceiptToFinalMs" in line]
    assert final["ReceiptToFinalMs"] in (2000.0, [2000.0])
    assert milliseconds_since(None, now) is None
