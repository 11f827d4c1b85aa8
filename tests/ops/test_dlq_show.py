"""``dlq list`` and ``dlq show``: every DLQ with depth and age, each body shape decoded, the error found where it is,
personal data masked, filters, ``--json``; and the one-line errors every command shares."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import EndpointConnectionError

from datalayer.events import AgentRequest
from tests.ops.conftest import Pipeline, Stage, Tool, tickets
from tests.workers.fakes import event_body, ticket

PII_TEXT = "Call me on 555-201-7788 or mail jane.doe@example.com, I live at 42 Elm Street"


def _routed_body(ticket_id: str) -> str:
    return json.dumps({"version": "0", "id": f"evt-{ticket_id}", "detail-type": "TicketRouted",
                       "source": "switchboard.tickets", "detail": {"ticket_id": ticket_id, "status": "routed"}})


def test_list_shows_every_dlq_with_its_depth_the_oldest_and_where_it_goes_back(stage: Stage, tool: Tool) -> None:
    settings = stage.settings
    stage.dead_letter_directly(settings.sync_dlq, _routed_body("S-1"), "TicketNotFoundError: gone")
    tool.time.advance(3600)
    stage.dead_letter_directly(settings.sync_dlq, _routed_body("S-2"), "TicketNotFoundError: gone")
    stage.sqs.send_message(QueueUrl=stage.url(settings.routing_dlq), MessageBody="garbage")

    rows = {row["queue"]: row for row in tool.json("list")}

    assert list(rows) == ["routing", "agent", "sync", "events"]
    assert rows["sync"]["messages"] == 2 and 3600 <= rows["sync"]["oldest_age_s"] < 3660
    assert rows["routing"]["messages"] == 1 and rows["agent"]["messages"] == 0
    assert rows["agent"]["oldest_age_s"] is None
    assert rows["sync"]["back_to"] == settings.sync_queue and rows["sync"]["worker"] == "sync_decisions"
    assert rows["events"]["back_to"] == f"bus {settings.event_bus}"
    assert stage.depth(settings.sync_dlq) == 2, "listing moves nothing"
    table = tool("list").stdout
    assert "switchboard-test-sync-dlq" in table and "1h 00m" in table and "the bus (PutEvents)" in table


def test_a_routing_dead_letter_shows_the_reason_the_worker_left_on_its_ticket(pipeline: Pipeline, tool: Tool) -> None:
    """SQS moved it after five failed receives: the message says nothing, the ticket says why."""
    pipeline.router.fail_for = {"T-000"}
    pipeline.submit(*tickets(2))
    pipeline.run_routing()

    [letter] = tool.json("show", "routing")

    assert letter["ticket_id"] == "T-000" and letter["kind"] == "TicketReceived"
    assert letter["error"] == "RuntimeError: router crashed on T-000"
    assert letter["ticket_status"] == "failed" and letter["worker"] == "route_tickets"
    assert letter["receive_count"] >= 5  # the worker's five, and every look of ours
    assert letter["first_failure"] is not None and 0 <= letter["age_s"] < 60


def test_every_body_shape_is_decoded(stage: Stage, tool: Tool) -> None:
    settings = stage.settings
    stage.dead_letter_directly(settings.sync_dlq, _routed_body("S-7"), "TicketingRejectedError: ticket closed")
    stage.sqs.send_message(QueueUrl=stage.url(settings.agent_dlq),
                           MessageBody=AgentRequest(ticket_id="A-1", deferred_reason="unsure").model_dump_json())
    stage.sqs.send_message(QueueUrl=stage.url(settings.routing_dlq), MessageBody="this is not an event")
    stage.undeliverable_event(event_body(ticket("E-1")), settings.routing_queue)

    [synced] = tool.json("show", "sync")
    [agent] = tool.json("show", "agent")
    [poison] = tool.json("show", "routing")
    [event] = tool.json("show", "events")

    assert (synced["kind"], synced["ticket_id"], synced["error"]) == (
        "TicketRouted", "S-7", "TicketingRejectedError: ticket closed")
    assert synced["worker"] == "sync_decisions" and synced["ticket_status"] == "not stored"
    assert (agent["kind"], agent["ticket_id"], agent["worker"]) == ("AgentRequest", "A-1", "decide_unsure_tickets")
    assert (poison["kind"], poison["ticket_id"], poison["error"]) == ("unreadable", None, None)
    assert (event["kind"], event["ticket_id"]) == ("TicketReceived", "E-1")
    assert event["error"] == "SQS.AccessDenied: Access to the queue was denied"
    assert event["worker"] == f"EventBridge → {settings.routing_queue} (route_tickets)"


def test_personal_data_is_masked_in_the_table_the_text_and_the_json(stage: Stage, tool: Tool) -> None:
    body = event_body(ticket("P-1", text=PII_TEXT))
    reason = "EventFormatError: invalid TicketReceived detail: input_value='reach me at jane.doe@example.com'"
    stage.dead_letter_directly(stage.settings.routing_dlq, body, reason)

    plain = tool("show", "routing").stdout
    with_text = tool("show", "routing", "--text").stdout
    [as_json] = tool.json("show", "routing", "--text")

    for output in (plain, with_text, json.dumps(as_json)):
        assert "jane.doe@example.com" not in output and "555-201-7788" not in output and "42 Elm" not in output
    assert "Call me" not in plain, "no ticket text unless asked"
    assert "[PHONE-1]" in with_text and "[EMAIL-1]" in with_text and "[ADDRESS-1]" in with_text
    assert as_json["text"].startswith("Call me on [PHONE-1] or mail [EMAIL-1]")
    assert as_json["error"].endswith("reach me at [EMAIL-1]'")
    assert "body" not in as_json


def test_show_filters_by_ticket_error_text_and_age(stage: Stage, tool: Tool) -> None:
    dlq = stage.settings.sync_dlq
    stage.dead_letter_directly(dlq, _routed_body("OLD-1"), "TicketNotFoundError: no such ticket")
    stage.dead_letter_directly(dlq, _routed_body("OLD-2"), "TicketingRejectedError: closed")
    tool.time.advance(2 * 3600)
    stage.dead_letter_directly(dlq, _routed_body("NEW-1"), "TicketNotFoundError: no such ticket")

    def shown(*filters: str) -> list[str]:
        return sorted(letter["ticket_id"] for letter in tool.json("show", "sync", *filters))

    assert shown() == ["NEW-1", "OLD-1", "OLD-2"]
    assert shown("--ticket-id", "OLD-2", "--ticket-id", "NEW-1") == ["NEW-1", "OLD-2"]
    assert shown("--filter", "NOTFOUND") == ["NEW-1", "OLD-1"]
    assert shown("--older-than", "1h") == ["OLD-1", "OLD-2"]
    assert shown("--newer-than", "30m") == ["NEW-1"]
    assert shown("--older-than", "1h", "--filter", "notfound") == ["OLD-1"]
    assert len(tool.json("show", "sync", "--limit", "2")) == 2
    assert stage.depth(dlq) == 3


def test_a_bad_duration_is_a_usage_error(stage: Stage, tool: Tool) -> None:
    result = tool("show", "sync", "--older-than", "yesterday")
    assert result.exit_code == 2 and "not a duration" in result.output


# -- errors: one line, never a traceback -----------------------------------------------------------------------------


def test_an_unknown_queue_is_one_line_naming_the_known_ones(stage: Stage, tool: Tool) -> None:
    result = tool("show", "billing")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: no dead-letter queue 'billing' in stage test: use one of routing, agent, sync, events or a full "
        "name (switchboard-test-routing-dlq, …)"]
    assert "Traceback" not in result.output


def test_a_queue_a_stage_does_not_have_says_so(stage: Stage, tool: Tool) -> None:
    result = tool("show", "routing", "--stage", "qa")
    assert result.exit_code == 1
    assert "queue switchboard-qa-routing-dlq does not exist in AWS: is stage qa deployed" in result.stderr


def test_a_stopped_local_stack_is_one_line_and_debug_shows_the_traceback(tool: Tool) -> None:
    endpoint = "http://127.0.0.1:9"  # discard: nothing listens
    result = tool("list", "--endpoint-url", endpoint)
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"error: nothing answers at {endpoint}/: is the local stack running? "
                                     "(make run prints its moto URL)")
    debugged = tool("list", "--endpoint-url", endpoint, debug=True)
    assert isinstance(debugged.exception, EndpointConnectionError)


def test_no_credentials_in_aws_is_one_line(tool: Tool, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_CONFIG_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = tool("list")
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: no AWS credentials")
