"""POST /tickets: stored and published before 202, idempotent on ticket_id, never stranded on a failure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalice_app import deps
from datalayer.errors import StoreError
from datalayer.publisher import EventPublisher
from datalayer.settings import get_settings, use_settings
from datalayer.tickets import TicketStore
from tests.support import AUTH, OTHER_API_KEY, Aws, BrokenEvents, post_ticket, ticket_payload


def body(response: Any) -> Any:
    return json.loads(response.body)


class DroppingEvents:
    """An EventBridge client that answers 200 but drops the entry, as put_events does under throttling."""

    def put_events(self, **_: Any) -> dict[str, Any]:
        return {
            "FailedEntryCount": 1,
            "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}],
        }


def test_accepts_stores_and_publishes(client: Any, aws: Aws, store: TicketStore) -> None:
    response = post_ticket(client, ticket_payload("TCK-1"))

    assert response.status_code == 202
    assert body(response) == {"ticket_id": "TCK-1", "status": "received", "links": {"self": "/tickets/TCK-1"}}
    assert response.headers["Location"] == "/tickets/TCK-1"
    assert response.headers["Content-Type"] == "application/json"
    record = store.get("TCK-1")
    assert record is not None and record.published and record.status == "received"
    assert record.ticket.subject == "No internet since this morning"
    [event] = aws.received_events()
    assert event["detail-type"] == "TicketReceived" and event["source"] == "switchboard.tickets"
    assert event["detail"]["ticket"]["ticket_id"] == "TCK-1"


def test_replay_answers_the_same_and_publishes_nothing(client: Any, aws: Aws) -> None:
    first = post_ticket(client, ticket_payload("TCK-2"))
    aws.received_events()

    again = post_ticket(client, ticket_payload("TCK-2"))

    assert again.status_code == 202 and body(again) == body(first)
    assert aws.received_events() == []


def test_replay_without_created_at_is_the_same_ticket(client: Any, aws: Aws) -> None:
    """A server-filled created_at must not turn the client's retry into a conflict."""
    payload = ticket_payload("TCK-3")
    del payload["created_at"]

    assert post_ticket(client, payload).status_code == 202
    assert post_ticket(client, payload).status_code == 202
    assert len(aws.received_events()) == 1


def test_equivalent_json_is_the_same_ticket(client: Any, aws: Aws) -> None:
    post_ticket(client, ticket_payload("TCK-4"))
    same = ticket_payload("TCK-4", created_at="2026-11-25T14:55:00Z", subject="  No internet since this morning ")

    assert post_ticket(client, same).status_code == 202


def test_different_payload_under_an_existing_id_is_a_conflict(client: Any, aws: Aws) -> None:
    post_ticket(client, ticket_payload("TCK-5"))
    aws.received_events()

    response = post_ticket(client, ticket_payload("TCK-5", subject="Billing question"))

    assert response.status_code == 409
    assert body(response)["error"] == "conflict"
    assert body(response)["details"]["ticket_id"] == "TCK-5"
    assert aws.received_events() == []


@pytest.mark.parametrize("dropping", [False, True], ids=["put_events raises", "FailedEntryCount=1"])
def test_event_failure_is_a_503_and_the_retry_completes(
    client: Any, aws: Aws, store: TicketStore, dropping: bool
) -> None:
    deps.publisher.override(
        EventPublisher(aws.settings, events_client=DroppingEvents() if dropping else BrokenEvents())
    )

    failed = post_ticket(client, ticket_payload("TCK-6"))

    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == str(aws.settings.retry_after_seconds)
    assert body(failed)["error"] == "service_unavailable"
    record = store.get("TCK-6")
    assert record is not None and not record.published  # stored, and known to be unpublished
    assert aws.received_events() == []

    deps.publisher.override(EventPublisher(aws.settings, events_client=aws.clients.events))
    retried = post_ticket(client, ticket_payload("TCK-6"))

    assert retried.status_code == 202
    assert body(retried)["status"] == "received"
    record = store.get("TCK-6")
    assert record is not None and record.published and record.publish_count == 1
    assert [e["detail"]["ticket"]["ticket_id"] for e in aws.received_events()] == ["TCK-6"]


def test_store_failure_is_a_503_and_publishes_nothing(client: Any, aws: Aws, store: TicketStore) -> None:
    def unavailable(*_args: Any) -> Any:
        raise StoreError("DynamoDB put_item failed: ProvisionedThroughputExceededException")

    store.create_if_absent = unavailable  # type: ignore[method-assign]

    response = post_ticket(client, ticket_payload("TCK-7"))

    assert response.status_code == 503 and "Retry-After" in response.headers
    assert "Throughput" not in response.body.decode()  # internals stay in the logs
    assert aws.received_events() == []


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json"},
        {"content-type": "application/json", "x-api-key": "wrong"},
        {"content-type": "application/json", "x-api-key": ""},
    ],
    ids=["missing", "wrong", "empty"],
)
def test_requires_a_valid_api_key(client: Any, aws: Aws, headers: dict[str, str]) -> None:
    response = post_ticket(client, ticket_payload("TCK-8"), headers=headers)

    assert response.status_code == 401
    assert body(response)["error"] == "unauthorized"
    assert aws.received_events() == []


def test_any_configured_key_is_accepted(client: Any, aws: Aws) -> None:
    headers = {"content-type": "application/json", "X-Api-Key": OTHER_API_KEY}

    assert post_ticket(client, ticket_payload("TCK-9"), headers=headers).status_code == 202


def test_authentication_comes_before_body_checks(client: Any, aws: Aws) -> None:
    response = post_ticket(client, b"not json", headers={"content-type": "text/plain"})

    assert response.status_code == 401


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b"\xff\xfe\x00", b"[" * 5000], ids=["syntax", "empty", "utf8", "deep"]
)
def test_malformed_json_is_a_400(client: Any, aws: Aws, raw: bytes) -> None:
    response = post_ticket(client, raw)

    assert response.status_code == 400
    assert body(response)["error"] == "malformed_json"
    assert set(body(response)) == {"error", "message", "details"}


def test_oversized_body_is_a_413(client: Any, aws: Aws, settings: Any) -> None:
    payload = ticket_payload("TCK-10", description="x" * settings.max_body_bytes)

    response = post_ticket(client, payload)

    assert response.status_code == 413
    assert body(response)["error"] == "payload_too_large"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_non_json_content_type_is_a_415(client: Any, aws: Aws, content_type: str) -> None:
    headers = {**AUTH, "content-type": content_type}

    response = post_ticket(client, ticket_payload("TCK-11"), headers=headers)

    assert response.status_code == 415
    assert body(response)["error"] == "unsupported_media_type"


def test_json_with_charset_is_accepted(client: Any, aws: Aws) -> None:
    headers = {**AUTH, "content-type": "application/json; charset=utf-8"}

    assert post_ticket(client, ticket_payload("TCK-12"), headers=headers).status_code == 202


def test_schema_violations_are_a_422_listing_each_without_echoing_input(client: Any, aws: Aws) -> None:
    secret = "s3cr3t-" + "y" * 2000
    payload = ticket_payload("bad id with spaces", channel="pigeon", created_at=1_700_000_000, extra_field=secret)
    del payload["customer_id"]

    response = post_ticket(client, payload)

    assert response.status_code == 422
    answer = body(response)
    assert answer["error"] == "validation_error"
    problems = {tuple(d["loc"]): d["type"] for d in answer["details"]}
    assert problems == {
        ("ticket_id",): "string_pattern_mismatch",
        ("customer_id",): "missing",
        ("created_at",): "datetime_type",
        ("channel",): "enum",
        ("extra_field",): "extra_forbidden",
    }
    assert "s3cr3t" not in response.body.decode()
    assert aws.received_events() == []


@pytest.mark.parametrize(
    ("created_at", "why"),
    [
        ("0001-01-01T00:00:00Z", "created_at is before 2000-01-01"),
        ("1999-12-31T23:59:59Z", "created_at is before 2000-01-01"),
        ("9999-12-31T23:59:59Z", "more than 24 h in the future"),
        ("0001-01-01T00:00:00+05:00", "outside the range of real ticket times"),
        ("9999-12-31T23:59:59-05:00", "outside the range of real ticket times"),
    ],
)
def test_an_implausible_created_at_is_a_422_saying_why(client: Any, aws: Aws, created_at: str, why: str) -> None:
    """Year 1 or 9999 would make a ticket look days overdue (or new for ever) to the priority's age factor."""
    response = post_ticket(client, ticket_payload("TCK-AGE", created_at=created_at))

    assert response.status_code == 422
    [problem] = body(response)["details"]
    assert problem["loc"] == ["created_at"] and why in problem["msg"]
    assert aws.received_events() == []


def test_a_created_at_a_little_ahead_of_our_clock_is_accepted(client: Any, aws: Aws) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    assert post_ticket(client, ticket_payload("TCK-SKEW", created_at=soon)).status_code == 202


@pytest.mark.parametrize("document", [[], "ticket", 42, None], ids=["array", "string", "number", "null"])
def test_json_that_is_not_an_object_is_a_422(client: Any, aws: Aws, document: Any) -> None:
    response = post_ticket(client, document)

    assert response.status_code == 422


def test_behind_api_gateway_the_gateway_checks_the_key(client: Any, aws: Aws) -> None:
    """Deployed (``SWITCHBOARD_API_AUTH=gateway``) API Gateway has checked the key against the usage plan before the
    app runs; the app then lets the request through whatever its own key list says."""
    use_settings(get_settings().derive(api_auth="gateway", api_keys=()))

    response = post_ticket(client, ticket_payload("TCK-GW"), headers={"content-type": "application/json"})

    assert response.status_code == 202


def test_every_answer_carries_a_correlation_id_that_the_ticket_and_its_event_keep(client: Any, aws: Aws) -> None:
    given = post_ticket(client, ticket_payload("TCK-CORR"), headers={**AUTH, "X-Correlation-Id": "zendesk-req-77"})
    invented = post_ticket(client, ticket_payload("TCK-CORR-2"), headers={**AUTH, "X-Correlation-Id": "bad id!"})

    assert given.headers["X-Correlation-Id"] == "zendesk-req-77"
    assert invented.headers["X-Correlation-Id"] not in ("", "bad id!")  # an implausible one is replaced
    events = {e["detail"]["ticket"]["ticket_id"]: e["detail"]["correlation_id"] for e in aws.received_events()}
    assert events == {"TCK-CORR": "zendesk-req-77", "TCK-CORR-2": invented.headers["X-Correlation-Id"]}
    view = client.http.get("/tickets/TCK-CORR", headers=AUTH)
    assert view.headers["X-Correlation-Id"] != "zendesk-req-77"  # each request has its own


def test_a_new_ticket_is_counted_once_for_the_dashboard(client: Any, aws: Aws) -> None:
    from chalice_app import deps
    from tests.workers.fakes import MetricRecorder

    recorder = MetricRecorder()
    deps.metrics.override(recorder)  # type: ignore[arg-type]
    recorder.flush = lambda: None  # type: ignore[attr-defined]

    post_ticket(client, ticket_payload("TCK-COUNT"))
    post_ticket(client, ticket_payload("TCK-COUNT"))  # the client's retry: not a new ticket

    assert recorder.names() == ["TicketsReceived"]
