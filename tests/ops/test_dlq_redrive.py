"""``dlq redrive`` against in-process moto, with the real routing and sync workers on either side.

moto has no StartMessageMoveTask, so every redrive here moves message by message (the AWS path is in
``test_move_task.py``). The kill tests stop the redrive at each step of a batch, let the hold run out (moto's SQS
clock moved on, no sleeping) and run it again: no dead letter is lost, none is decided twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from datalayer.dead_letters import FAILURE_REASON_ATTRIBUTE
from ops.dead_letters import HOLD_SECONDS
from ops.dlq import Services
from tests.ops.conftest import DUPLICATE, ROUTED, SYNCED, Pipeline, Stage, Tool, tickets
from tests.workers.fakes import event_body, ticket


class Killed(BaseException):
    """The process dies here: no ``except Exception`` runs, no audit record is written."""


class KillingSqs:
    """The SQS client, except that the ``call``-th call of ``operation`` kills the process before or after SQS
    answered it."""

    def __init__(self, sqs: Any, operation: str, when: str, call: int) -> None:
        self._sqs, self._operation, self._when, self._call = sqs, operation, when, call
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._sqs, name)
        if name != self._operation:
            return method

        def killing(**request: Any) -> Any:
            self.calls += 1
            if self.calls == self._call and self._when == "before":
                raise Killed(f"killed before {name}")
            answer = method(**request)
            if self.calls == self._call and self._when == "after":
                raise Killed(f"killed after {name}")
            return answer

        return killing


def killing(operation: str, when: str, call: int) -> Callable[[Services], None]:
    def change(services: Services) -> None:
        services.sqs = KillingSqs(services.sqs, operation, when, call)

    return change


def dead_letter_in_routing(pipeline: Pipeline, count: int) -> list[str]:
    """``count`` tickets whose routing crashes five times: their messages end in the routing DLQ."""
    submitted = tickets(count)
    pipeline.router.fail_for = {t.ticket_id for t in submitted}
    pipeline.submit(*submitted)
    pipeline.run_routing()
    assert pipeline.stage.depth(pipeline.stage.settings.routing_dlq) == count
    pipeline.router.fail_for = set()  # the bug is fixed
    return [t.ticket_id for t in submitted]


def assert_decided_once(pipeline: Pipeline, ticket_ids: list[str]) -> None:
    """Each ticket routed, one TicketRouted each, one write to the ticketing system each."""
    pipeline.run_routing()
    assert {ticket_id: pipeline.status(ticket_id) for ticket_id in ticket_ids} == dict.fromkeys(ticket_ids, "routed")
    assert pipeline.routing_outcomes[ROUTED] == len(ticket_ids)
    assert pipeline.routed_events() == Counter(dict.fromkeys(ticket_ids, 1))
    pipeline.run_sync()
    assert pipeline.ticketing.applied == Counter(dict.fromkeys(ticket_ids, 1))


# -- the whole queue -----------------------------------------------------------------------------------------------


def test_a_full_redrive_moves_everything_back_and_each_ticket_is_decided_once(pipeline: Pipeline, tool: Tool) -> None:
    ticket_ids = dead_letter_in_routing(pipeline, 12)
    routing_dlq = pipeline.stage.settings.routing_dlq

    result = tool("redrive", "routing")

    assert result.exit_code == 0, result.output
    assert (f"moved 12 message(s) from {routing_dlq} to switchboard-test-routing "
            "(message-by-message (no move task here)") in result.stdout
    assert pipeline.stage.depth(routing_dlq) == 0
    assert_decided_once(pipeline, ticket_ids)
    [record] = [r for r in pipeline.stage.audit_records() if r["action"] == "redrive"]
    assert (record["who"], record["queue"], record["count"], record["outcome"]) == (
        "arn:aws:sts::123456789012:user/moto", routing_dlq, 12, "completed")


def test_bodies_and_attributes_travel_unchanged_but_the_old_failure_reason(stage: Stage, tool: Tool) -> None:
    body = event_body(ticket("X-1"))
    stage.sqs.send_message(QueueUrl=stage.url(stage.settings.routing_dlq), MessageBody=body, MessageAttributes={
        "trace": {"DataType": "String", "StringValue": "abc"},
        FAILURE_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": "old reason"}})

    assert tool("redrive", "routing").exit_code == 0

    [message] = stage.sqs.receive_message(QueueUrl=stage.url(stage.settings.routing_queue),
                                          MessageAttributeNames=["All"])["Messages"]
    assert message["Body"] == body
    assert message["MessageAttributes"] == {"trace": {"DataType": "String", "StringValue": "abc"}}


def test_a_dead_letter_whose_ticket_was_routed_meanwhile_ends_as_a_duplicate(pipeline: Pipeline, tool: Tool) -> None:
    """A second copy of a decided ticket's event failed (say, during an outage of the store): redriven, the worker
    sees the decision and stops. No second decision, no second TicketRouted."""
    done = ticket("DONE-1")
    pipeline.submit(done)
    pipeline.run_routing()
    assert pipeline.status("DONE-1") == "routed" and pipeline.router.calls == ["DONE-1"]
    stage = pipeline.stage
    stage.dead_letter_directly(stage.settings.routing_dlq, event_body(done), "StoreError: DynamoDB throttled")

    assert tool("redrive", "routing").exit_code == 0
    pipeline.run_routing()

    assert pipeline.routing_outcomes == Counter({ROUTED: 1, DUPLICATE: 1})
    assert pipeline.router.calls == ["DONE-1"], "never routed again"
    assert pipeline.routed_events() == Counter({"DONE-1": 1})


# -- interrupted and resumed ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "when", "call", "duplicates"),
    [
        ("receive_message", "after", 2, 0),  # the second batch held, nothing of it sent
        ("send_message_batch", "before", 2, 0),
        ("send_message_batch", "after", 2, 5),  # the second batch sent, not deleted: in both queues
        ("delete_message_batch", "before", 1, 10),  # the first batch, likewise
        ("delete_message_batch", "after", 1, 0),
    ],
)
def test_a_redrive_killed_at_any_step_and_run_again_loses_nothing_and_decides_each_ticket_once(
    pipeline: Pipeline, tool: Tool, operation: str, when: str, call: int, duplicates: int
) -> None:
    ticket_ids = dead_letter_in_routing(pipeline, 15)  # two batches: ten, then five
    stage = pipeline.stage
    tool.customise.append(killing(operation, when, call))

    with pytest.raises(Killed):
        tool("redrive", "routing")

    tool.customise.clear()
    tool.time.advance(HOLD_SECONDS + 1)  # the dead process's holds run out
    in_dlq, back = stage.depth(stage.settings.routing_dlq), stage.depth(stage.settings.routing_queue)
    assert in_dlq + back == 15 + duplicates, "none lost"
    result = tool("redrive", "routing")
    assert result.exit_code == 0, result.output
    assert f"moved {in_dlq} message(s)" in result.stdout
    assert stage.depth(stage.settings.routing_dlq) == 0
    assert_decided_once(pipeline, ticket_ids)
    assert pipeline.routing_outcomes[DUPLICATE] == duplicates, "a second copy is a duplicate, never a decision"


def test_ctrl_c_stops_cleanly_audits_how_far_it_got_and_the_rest_follows_next_run(pipeline: Pipeline,
                                                                                  tool: Tool) -> None:
    ticket_ids = dead_letter_in_routing(pipeline, 15)

    class Interrupted:
        def __init__(self, sqs: Any) -> None:
            self._sqs, self._sends = sqs, 0

        def __getattr__(self, name: str) -> Any:
            if name != "send_message_batch":
                return getattr(self._sqs, name)

            def send(**request: Any) -> Any:
                self._sends += 1
                if self._sends == 2:
                    raise KeyboardInterrupt
                return self._sqs.send_message_batch(**request)

            return send

    tool.customise.append(lambda services: setattr(services, "sqs", Interrupted(services.sqs)))
    result = tool("redrive", "routing")

    assert result.exit_code == 130
    assert "interrupted: 10 moved so far; run the same command again" in result.stderr
    tool.customise.clear()
    tool.time.advance(HOLD_SECONDS + 1)
    assert tool("redrive", "routing").exit_code == 0
    assert_decided_once(pipeline, ticket_ids)
    redrives = [(r["outcome"], r["count"]) for r in pipeline.stage.audit_records() if r["action"] == "redrive"]
    assert redrives == [("interrupted", 10), ("completed", 5)]


def test_the_sync_dlq_killed_between_send_and_delete_writes_each_decision_once(pipeline: Pipeline,
                                                                             tool: Tool) -> None:
    """The ticketing system did not have the tickets: the sync worker dead-lettered them at once. They are
    created there, the redrive dies after sending, runs again: one note per ticket."""
    decided = tickets(12, prefix="S")
    pipeline.ticketing.missing = {t.ticket_id for t in decided}
    pipeline.submit(*decided)
    pipeline.run_routing()
    pipeline.run_sync()
    stage = pipeline.stage
    assert stage.depth(stage.settings.sync_dlq) == 12 and not pipeline.ticketing.applied
    [letter, *_] = tool.json("show", "sync")
    assert letter["error"].startswith("TicketNotFoundError: no ticket S-") and "sync failed" in letter["ticket_status"]
    pipeline.ticketing.missing = set()

    tool.customise.append(killing("send_message_batch", "after", 1))
    with pytest.raises(Killed):
        tool("redrive", "sync")
    tool.customise.clear()
    tool.time.advance(HOLD_SECONDS + 1)
    assert tool("redrive", "sync").exit_code == 0
    pipeline.run_sync()

    assert pipeline.ticketing.applied == Counter({t.ticket_id: 1 for t in decided})
    assert pipeline.sync_outcomes[SYNCED] == 12 and pipeline.sync_outcomes["duplicate"] == 10


# -- filters, dry run, rate, limit ----------------------------------------------------------------------------------


def test_a_filtered_redrive_moves_only_what_matches(pipeline: Pipeline, tool: Tool) -> None:
    ticket_ids = dead_letter_in_routing(pipeline, 6)
    stage = pipeline.stage

    result = tool("redrive", "routing", "--ticket-id", ticket_ids[1], "--ticket-id", ticket_ids[4])

    assert result.exit_code == 0, result.output
    assert "moved 2 message(s)" in result.stdout and "(message-by-message" in result.stdout
    assert "4 not matching the filters left in switchboard-test-routing-dlq" in result.stdout
    assert sorted(json.loads(body)["detail"]["ticket"]["ticket_id"] for body in stage.bodies(
        stage.settings.routing_queue)) == [ticket_ids[1], ticket_ids[4]]
    assert stage.depth(stage.settings.routing_dlq) == 4


def test_the_error_text_filter_reads_the_reason_from_the_message_or_the_ticket(pipeline: Pipeline,
                                                                              tool: Tool) -> None:
    dead_letter_in_routing(pipeline, 3)  # reason on the tickets: "RuntimeError: router crashed on T-…"
    stage = pipeline.stage
    stage.dead_letter_directly(stage.settings.routing_dlq, "not an event", "EventFormatError: not an event")

    assert "moved 1 message(s)" in tool("redrive", "routing", "--filter", "eventformat").stdout
    assert "moved 3 message(s)" in tool("redrive", "routing", "--filter", "router crashed").stdout
    assert stage.depth(stage.settings.routing_dlq) == 0


def test_age_filters_pick_by_when_the_failures_began(stage: Stage, tool: Tool) -> None:
    dlq = stage.settings.sync_dlq
    stage.dead_letter_directly(dlq, "old", "TicketNotFoundError: x")
    tool.time.advance(5400)
    stage.dead_letter_directly(dlq, "new", "TicketNotFoundError: x")

    assert "moved 1 message(s)" in tool("redrive", "sync", "--older-than", "1h").stdout
    assert stage.bodies(stage.settings.sync_queue) == ["old"]
    assert "moved 1 message(s)" in tool("redrive", "sync", "--newer-than", "1h").stdout
    assert stage.bodies(stage.settings.sync_queue) == ["new"]


def test_a_dry_run_lists_what_would_move_and_moves_nothing(pipeline: Pipeline, tool: Tool) -> None:
    ticket_ids = dead_letter_in_routing(pipeline, 3)
    stage = pipeline.stage

    result = tool("redrive", "routing", "--dry-run", "--ticket-id", ticket_ids[0])

    assert result.exit_code == 0
    assert "would move 1 dead letter(s) from switchboard-test-routing-dlq to switchboard-test-routing" in result.stdout
    assert ticket_ids[0] in result.stdout and ticket_ids[1] not in result.stdout
    assert "dry run: nothing moved" in result.stdout
    assert stage.depth(stage.settings.routing_dlq) == 3 and stage.depth(stage.settings.routing_queue) == 0
    [record] = [r for r in stage.audit_records() if r["action"] == "redrive"]
    assert record["details"]["dry_run"] is True and record["count"] == 1
    assert record["filters"] == {"ticket_ids": [ticket_ids[0]]}


def test_the_rate_caps_messages_per_second_without_real_sleeping(stage: Stage, tool: Tool) -> None:
    for number in range(20):
        stage.dead_letter_directly(stage.settings.sync_dlq, f"m{number}", "TicketNotFoundError: x")

    result = tool("redrive", "sync", "--rate", "5")

    assert result.exit_code == 0 and "moved 20 message(s)" in result.stdout
    assert tool.timer.sleeps == pytest.approx([1.0, 1.0, 1.0]), "batches of five; the first second is the burst"
    assert len(stage.bodies(stage.settings.sync_queue)) == 20


def test_the_limit_stops_after_that_many(stage: Stage, tool: Tool) -> None:
    for number in range(15):
        stage.dead_letter_directly(stage.settings.sync_dlq, f"m{number}", "TicketNotFoundError: x")

    assert "moved 4 message(s)" in tool("redrive", "sync", "--limit", "4").stdout
    assert stage.depth(stage.settings.sync_dlq) == 11


# -- the events DLQ: back on the bus ----------------------------------------------------------------------------------


def test_undelivered_events_go_back_on_the_bus_and_their_rule_delivers_them(pipeline: Pipeline, tool: Tool) -> None:
    """A TicketReceived the rule could not deliver is put back on the bus: it reaches the routing queue through the
    rule and is decided; an undelivered TicketRouted reaches the sync queue. What is no event stays, said why."""
    stage = pipeline.stage
    lost = ticket("EV-1")
    pipeline.store.create_if_absent(lost)
    stage.undeliverable_event(event_body(lost), stage.settings.routing_queue)
    routed = ticket("EV-2")
    pipeline.submit(routed)
    pipeline.run_routing()
    [routed_event] = stage.bodies(stage.settings.sync_queue)
    stage.undeliverable_event(routed_event, stage.settings.sync_queue)
    stage.undeliverable_event("garbage", stage.settings.routing_queue)

    result = tool("redrive", "events")

    assert result.exit_code == 1, "one dead letter could not go back"
    assert "moved 2 message(s) from switchboard-test-events-dlq to bus switchboard-test-bus (put-events" in (
        result.stdout)
    assert "not an EventBridge event: it cannot go back on the bus (purge it)" in result.stdout
    pipeline.run_routing()
    assert pipeline.status("EV-1") == "routed"
    assert pipeline.routed_events() == Counter({"EV-1": 1, "EV-2": 1})
    assert stage.depth(f"switchboard-{stage.settings.stage}-events-dlq") == 1


def test_put_events_failures_leave_the_dead_letter_in_place(stage: Stage, tool: Tool) -> None:
    stage.undeliverable_event(event_body(ticket("EV-9")), stage.settings.routing_queue)

    class RefusingBus:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            return {"FailedEntryCount": len(Entries),
                    "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try later"} for _ in Entries]}

    tool.customise.append(lambda services: setattr(services, "events", RefusingBus()))
    result = tool("redrive", "events")

    assert result.exit_code == 1 and "moved 0 message(s)" in result.stdout
    assert "InternalFailure: try later" in result.stdout
    assert stage.depth(f"switchboard-{stage.settings.stage}-events-dlq") == 1

