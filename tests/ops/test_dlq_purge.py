"""``dlq purge``: never without confirmation, never a message that is not in the archive first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ops.dead_letters import HOLD_SECONDS
from tests.ops.conftest import Stage, Tool
from tests.ops.test_dlq_redrive import Killed, killing


def _fill(stage: Stage, count: int) -> list[str]:
    bodies = [json.dumps({"poison": number}) for number in range(count)]
    for body in bodies:
        stage.dead_letter_directly(stage.settings.routing_dlq, body, "EventFormatError: not an EventBridge event")
    return bodies


def _archived(stage: Stage) -> list[dict[str, Any]]:
    """Every record in the stage's archive bucket."""
    records = []
    for item in stage.s3.list_objects_v2(Bucket=stage.bucket).get("Contents", []):
        text = stage.s3.get_object(Bucket=stage.bucket, Key=item["Key"])["Body"].read().decode()
        records += [json.loads(line) for line in text.splitlines()]
    return records


@pytest.mark.parametrize("answer", [None, "n\n"])
def test_purge_refuses_without_confirmation(stage: Stage, tool: Tool, answer: str | None) -> None:
    _fill(stage, 3)

    result = tool("purge", "routing", input=answer)

    assert result.exit_code == 1 and "Aborted" in result.output
    assert "Archive about 3 message(s) of switchboard-test-routing-dlq to s3://switchboard-test-dlq-archive-" in (
        result.output)
    assert stage.depth(stage.settings.routing_dlq) == 3 and not _archived(stage)
    assert not [r for r in stage.audit_records() if r["action"] == "purge"]


def test_purge_archives_every_message_to_s3_then_deletes_it(stage: Stage, tool: Tool) -> None:
    bodies = _fill(stage, 23)

    result = tool("purge", "routing", input="y\n")

    assert result.exit_code == 0, result.output
    assert "archived and deleted 23 message(s) from switchboard-test-routing-dlq; archive: s3://" in result.stdout
    assert stage.depth(stage.settings.routing_dlq) == 0
    archived = _archived(stage)
    assert sorted(record["body"] for record in archived) == sorted(bodies)
    first = archived[0]
    assert first["queue"] == stage.settings.routing_dlq and first["message_id"]
    assert first["message_attributes"]["failure_reason"]["StringValue"].startswith("EventFormatError")
    assert "SentTimestamp" in first["attributes"]
    keys = [item["Key"] for item in stage.s3.list_objects_v2(Bucket=stage.bucket)["Contents"]]
    assert len(keys) == 3 and all(key.startswith("switchboard-test-routing-dlq/") for key in keys), "one per batch"
    [record] = [r for r in stage.audit_records() if r["action"] == "purge"]
    assert record["count"] == 23 and record["details"]["archive"].startswith("s3://switchboard-test-dlq-archive-")


def test_purge_to_a_local_directory_writes_json_lines_only_its_owner_reads(stage: Stage, tool: Tool,
                                                                         tmp_path: Path) -> None:
    bodies = _fill(stage, 4)

    result = tool("purge", "routing", "--yes", "--archive-dir", str(tmp_path))

    assert result.exit_code == 0, result.output
    [archive] = (tmp_path / stage.settings.routing_dlq).glob("*.jsonl")
    assert archive.stat().st_mode & 0o077 == 0
    assert sorted(json.loads(line)["body"] for line in archive.read_text().splitlines()) == sorted(bodies)
    assert str(archive) in result.stdout and stage.depth(stage.settings.routing_dlq) == 0


def test_a_filtered_purge_archives_and_deletes_only_what_matches(stage: Stage, tool: Tool) -> None:
    _fill(stage, 3)
    stage.dead_letter_directly(stage.settings.routing_dlq, "keep me", "StoreError: throttled")

    result = tool("purge", "routing", "--yes", "--filter", "EventFormatError")

    assert result.exit_code == 0 and "archived and deleted 3 message(s)" in result.stdout
    assert stage.bodies(stage.settings.routing_dlq) == ["keep me"]
    assert len(_archived(stage)) == 3


def test_an_archive_that_fails_stops_the_purge_before_deleting_what_it_did_not_take(stage: Stage, tool: Tool) -> None:
    bodies = _fill(stage, 25)

    class FailingSecondPut:
        def __init__(self, s3: Any) -> None:
            self._s3, self._puts = s3, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self._s3, name)

        def put_object(self, **request: Any) -> Any:
            self._puts += 1
            if self._puts == 2:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")
            return self._s3.put_object(**request)

    tool.customise.append(lambda services: setattr(services, "s3", FailingSecondPut(services.s3)))
    result = tool("purge", "routing", "--yes")

    assert result.exit_code == 1
    assert "not written" in result.stderr and "AccessDenied" in result.stderr
    tool.time.advance(HOLD_SECONDS + 1)
    left = stage.bodies(stage.settings.routing_dlq)
    archived = [record["body"] for record in _archived(stage)]
    assert len(archived) == 10 and len(left) == 15
    assert sorted(archived + left) == sorted(bodies), "every message is in the archive or still in the DLQ"
    [record] = [r for r in stage.audit_records() if r["action"] == "purge"]
    assert (record["outcome"], record["count"]) == ("failed", 10)


def test_a_purge_killed_between_archive_and_delete_keeps_the_message_in_both(stage: Stage, tool: Tool) -> None:
    bodies = _fill(stage, 12)
    tool.customise.append(killing("delete_message_batch", "before", 1))

    with pytest.raises(Killed):
        tool("purge", "routing", "--yes")

    tool.customise.clear()
    tool.time.advance(HOLD_SECONDS + 1)
    assert len(_archived(stage)) == 10 and stage.depth(stage.settings.routing_dlq) == 12
    assert tool("purge", "routing", "--yes").exit_code == 0
    archived = [record["body"] for record in _archived(stage)]
    assert sorted(set(archived)) == sorted(bodies) and len(archived) == 22, "ten archived twice, none lost"
    assert stage.depth(stage.settings.routing_dlq) == 0


def test_an_empty_queue_needs_no_confirmation(stage: Stage, tool: Tool) -> None:
    result = tool("purge", "agent")
    assert result.exit_code == 0 and "switchboard-test-agent-dlq is empty: nothing to purge" in result.stdout
