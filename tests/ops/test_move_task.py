"""The AWS path of a full redrive: SQS's own StartMessageMoveTask, watched with ListMessageMoveTasks (botocore's
Stubber plays SQS), and the fall-back to moving message by message where the API is missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops.dead_letter_queues import Dlq
from ops.dead_letters import DEPTH_ATTRIBUTES, Selection
from ops.redrive import Method, MoveTask, MoveTaskUnavailableError, plan
from tests.ops.conftest import Stage, Tool

ACCOUNT = "123456789012"
DLQ_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/switchboard-test-routing-dlq"
QUEUE_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/switchboard-test-routing"
DLQ_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:switchboard-test-routing-dlq"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:switchboard-test-routing"
HANDLE = "eyJ0YXNrSWQiOiJleGFtcGxlIn0="


@pytest.fixture
def sqs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _queues(stubber: Stubber, depth: int = 40) -> None:
    """The lookups before the start: both queues' URLs, the DLQ's depth (an empty DLQ starts nothing), both ARNs."""
    for name, url in (("switchboard-test-routing-dlq", DLQ_URL), ("switchboard-test-routing", QUEUE_URL)):
        stubber.add_response("get_queue_url", {"QueueUrl": url}, {"QueueName": name})
    stubber.add_response("get_queue_attributes", {"Attributes": {"ApproximateNumberOfMessages": str(depth)}},
                         {"QueueUrl": DLQ_URL, "AttributeNames": list(DEPTH_ATTRIBUTES)})
    for url, arn in ((DLQ_URL, DLQ_ARN), (QUEUE_URL, QUEUE_ARN)):
        stubber.add_response("get_queue_attributes", {"Attributes": {"QueueArn": arn}},
                             {"QueueUrl": url, "AttributeNames": ["QueueArn"]})


def _task(status: str, moved: int, to_move: int = 40, **extra: Any) -> dict[str, Any]:
    return {"Results": [{"TaskHandle": HANDLE, "Status": status, "SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN,
                         "ApproximateNumberOfMessagesMoved": moved, "ApproximateNumberOfMessagesToMove": to_move,
                         "StartedTimestamp": 1_796_000_000_000, **extra}]}


def _listing() -> dict[str, Any]:
    return {"SourceArn": DLQ_ARN, "MaxResults": 1}


def test_a_full_redrive_in_aws_is_an_sqs_move_task_watched_to_the_end(stage: Stage, tool: Tool,
                                                                     sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    _queues(stubber)
    stubber.add_response("list_message_move_tasks", {"Results": []}, _listing())
    stubber.add_response("start_message_move_task", {"TaskHandle": HANDLE},
                         {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN, "MaxNumberOfMessagesPerSecond": 50})
    stubber.add_response("list_message_move_tasks", _task("RUNNING", 12), _listing())
    stubber.add_response("list_message_move_tasks", _task("RUNNING", 31), _listing())
    stubber.add_response("list_message_move_tasks", _task("COMPLETED", 40), _listing())
    tool.customise.append(lambda services: setattr(services, "sqs", client))

    result = tool("redrive", "routing", "--rate", "50")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ("moved 40 message(s) from switchboard-test-routing-dlq to "
                                     "switchboard-test-routing (SQS move task COMPLETED)")
    assert tool.timer.sleeps == [2.0, 2.0], "polled every two seconds, no real sleeping"
    [record] = [r for r in stage.audit_records() if r["action"] == "redrive"]
    assert (record["count"], record["outcome"], record["details"]["method"]) == (40, "completed", "move-task")
    assert record["details"]["task_handle"] == HANDLE


def test_a_running_move_task_is_not_doubled(stage: Stage, tool: Tool, sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    _queues(stubber)
    stubber.add_response("list_message_move_tasks", _task("RUNNING", 5), _listing())
    tool.customise.append(lambda services: setattr(services, "sqs", client))

    result = tool("redrive", "routing")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: a move task is already running on this queue (handle {HANDLE})")


def test_a_failed_move_task_says_why_and_fails(stage: Stage, tool: Tool, sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    _queues(stubber)
    stubber.add_response("list_message_move_tasks", {"Results": []}, _listing())
    stubber.add_response("start_message_move_task", {"TaskHandle": HANDLE},
                         {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN})
    stubber.add_response("list_message_move_tasks",
                         _task("FAILED", 7, FailureReason="AWS.SimpleQueueService.KmsAccessDenied"), _listing())
    tool.customise.append(lambda services: setattr(services, "sqs", client))

    result = tool("redrive", "routing")

    assert result.exit_code == 1
    assert "(SQS move task FAILED): AWS.SimpleQueueService.KmsAccessDenied" in result.stdout
    [record] = [r for r in stage.audit_records() if r["action"] == "redrive"]
    assert (record["count"], record["outcome"]) == (7, "failed")


def test_an_empty_dlq_starts_no_move_task(stage: Stage, tool: Tool, sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    for name, url in (("switchboard-test-routing-dlq", DLQ_URL), ("switchboard-test-routing", QUEUE_URL)):
        stubber.add_response("get_queue_url", {"QueueUrl": url}, {"QueueName": name})
    stubber.add_response("get_queue_attributes", {"Attributes": {"ApproximateNumberOfMessages": "0"}},
                         {"QueueUrl": DLQ_URL, "AttributeNames": list(DEPTH_ATTRIBUTES)})
    tool.customise.append(lambda services: setattr(services, "sqs", client))

    result = tool("redrive", "routing")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "switchboard-test-routing-dlq is empty: nothing to redrive"
    [record] = [r for r in stage.audit_records() if r["action"] == "redrive"]
    assert record["count"] == 0


@pytest.mark.parametrize("code", ["UnsupportedOperation", "InvalidAction", "500"])
def test_an_sqs_without_the_api_is_told_apart(sqs: tuple[Any, Stubber], code: str) -> None:
    client, stubber = sqs
    stubber.add_client_error("list_message_move_tasks", service_error_code=code, http_status_code=400)
    with pytest.raises(MoveTaskUnavailableError):
        MoveTask(client).start(DLQ_ARN, QUEUE_ARN)


def test_other_errors_of_the_api_are_not_mistaken_for_its_absence(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    stubber.add_client_error("list_message_move_tasks", service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(Exception, match="AccessDenied"):
        MoveTask(client).start(DLQ_ARN, QUEUE_ARN)


def test_moto_has_no_move_task_and_the_redrive_falls_back_to_message_by_message(stage: Stage, tool: Tool) -> None:
    stage.dead_letter_directly(stage.settings.routing_dlq, "a", "EventFormatError: x")
    result = tool("redrive", "routing")
    assert result.exit_code == 0
    assert "moved 1 message(s)" in result.stdout and "(message-by-message (no move task here)" in result.stdout


def test_the_plan_uses_the_move_task_only_for_a_whole_queue_in_aws() -> None:
    routing = Dlq("routing", "switchboard-test-routing-dlq", "switchboard-test-routing")
    events = Dlq("events", "switchboard-test-events-dlq", "switchboard-test-bus", source_is_bus=True)
    everything, some = Selection(), Selection(ticket_ids=frozenset({"T-1"}))
    assert plan(routing, everything, limit=None, local=False) is Method.MOVE_TASK
    assert plan(routing, everything, limit=None, local=True) is Method.MESSAGE_BY_MESSAGE
    assert plan(routing, some, limit=None, local=False) is Method.MESSAGE_BY_MESSAGE
    assert plan(routing, everything, limit=5, local=False) is Method.MESSAGE_BY_MESSAGE
    assert plan(events, everything, limit=None, local=False) is Method.PUT_EVENTS
