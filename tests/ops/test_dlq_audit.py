"""The audit trail: every action leaves who, when, what and how many; no trail, no action; ``dlq audit`` reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ops.audit import AuditLog, AuditLogError, AuditRecord
from tests.ops.conftest import CALLER, Stage, Tool


def test_every_action_is_audited_and_read_back(stage: Stage, tool: Tool) -> None:
    dlq = stage.settings.sync_dlq
    for number in range(3):
        stage.dead_letter_directly(dlq, f"m{number}", "TicketNotFoundError: x")

    assert tool("list").exit_code == 0
    assert tool("show", "sync", "--filter", "notfound").exit_code == 0
    assert tool("redrive", "sync", "--limit", "1").exit_code == 0
    assert tool("purge", "sync", "--yes").exit_code == 0

    records = tool.json("audit")
    assert [(r["action"], r["queue"], r["count"]) for r in records] == [
        ("list", None, 3), ("show", dlq, 3), ("redrive", dlq, 1), ("purge", dlq, 2)]
    assert {r["who"] for r in records} == {CALLER} and {r["stage"] for r in records} == {"test"}
    assert all(r["outcome"] == "completed" for r in records)
    assert records[1]["filters"] == {"error_text": "notfound"}
    assert records[2]["details"]["limit"] == 1 and records[2]["details"]["to"] == stage.settings.sync_queue
    when = datetime.fromisoformat(records[0]["when"])
    assert abs(when - datetime.now(UTC)) < timedelta(minutes=1)
    lines = tool("audit", "--since", "1h").stdout
    assert f"{CALLER}  redrive sync  1  " in lines and "archive=s3://" in lines


def test_without_the_audit_log_group_nothing_moves(stage: Stage, tool: Tool) -> None:
    """In AWS the data stack owns the group; the tool does not create it there."""
    stage.dead_letter_directly(stage.settings.sync_dlq, "m", "TicketNotFoundError: x")
    stage.logs.delete_log_group(logGroupName=stage.settings.audit_log_group)

    result = tool("redrive", "sync")

    assert result.exit_code == 1
    assert result.stderr.strip() == ("error: audit log group switchboard-test-audit does not exist: deploy the "
                                     "stage's data stack (make deploy-data)")
    assert stage.depth(stage.settings.sync_dlq) == 1


def _log(create_group: bool, clock: Any = None) -> tuple[AuditLog, Any]:
    logs = boto3.client("logs", region_name="us-east-1")
    return AuditLog(logs, "switchboard-test-audit", create_group=create_group,
                    clock=clock or (lambda: datetime.now(UTC))), logs


def _record(**fields: Any) -> AuditRecord:
    values = {"who": "me", "when": "2026-12-03T10:00:00+00:00", "stage": "test", "action": "show", "queue": "q",
              "count": 1, **fields}
    return AuditRecord(**values)


def test_locally_the_group_and_the_day_stream_are_created_on_first_use(aws: Any) -> None:
    log, logs = _log(create_group=True)
    log.write(_record())
    log.write(_record(action="purge", count=4))

    [stream] = logs.describe_log_streams(logGroupName="switchboard-test-audit")["logStreams"]
    assert stream["logStreamName"] == f"dlq/{datetime.now(UTC):%Y-%m-%d}"
    assert [(r.action, r.count) for r in log.read(timedelta(hours=1), 10)] == [("show", 1), ("purge", 4)]


def test_a_record_the_log_refuses_is_an_error_not_a_silent_loss(aws: Any) -> None:
    """CloudWatch drops events stamped more than two hours ahead without failing the call."""
    log, _ = _log(create_group=True, clock=lambda: datetime.now(UTC) + timedelta(hours=3))
    with pytest.raises(AuditLogError, match="refused the record"):
        log.write(_record())


def test_reading_a_stage_without_a_trail_yet_is_empty(aws: Any) -> None:
    log, _ = _log(create_group=False)
    assert log.read(timedelta(days=7), 10) == []
