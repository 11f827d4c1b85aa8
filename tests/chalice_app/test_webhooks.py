"""POST /webhooks/ticketing: signed by the ticketing system alone, ingested like POST /tickets, and a ticket we
already have (our own update's webhook, a redelivery) answers 200 and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from chalice_app.openapi import openapi_document
from chalice_app.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from datalayer.settings import get_settings, use_settings
from datalayer.tickets import TicketStore
from infra.ticketing_server import sign, webhook_timestamp
from tests.factories import make_decision
from tests.support import API_KEY, Aws

SECRET = "dGhlLXNpZ25pbmctc2VjcmV0"
PATH = "/webhooks/ticketing"


@pytest.fixture
def signing_secret(client: Any) -> Iterator[str]:
    """The stage's webhook signing secret (the client's store and publisher stay as installed)."""
    use_settings(get_settings().derive(ticketing_webhook_secret=SECRET))
    yield SECRET


def zendesk_body(ticket_id: Any = 4711, **ticket: Any) -> bytes:
    fields = {
        "id": ticket_id,
        "requester_id": "CUST-CON-0002",
        "subject": "No internet since this morning",
        "description": "The router shows a red light and nothing loads.",
        "created_at": "2026-11-25T14:55:00Z",
        "via": {"channel": "email"},
        **ticket,
    }
    return json.dumps({"ticket": fields}).encode()


def deliver(
    client: Any,
    body: bytes,
    *,
    secret: str = SECRET,
    at: datetime | None = None,
    timestamp: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """What Zendesk sends: the body, its signature and the signature's timestamp."""
    stamp = timestamp if timestamp is not None else webhook_timestamp(at)
    signed = {
        "content-type": "application/json",
        SIGNATURE_HEADER: signature(secret, stamp, body),
        TIMESTAMP_HEADER: stamp,
    }
    return client.http.post(PATH, headers=signed if headers is None else headers, body=body)


def answer(response: Any) -> Any:
    return json.loads(response.body)


def conforms(response: Any) -> None:
    spec = openapi_document()
    declared = spec["paths"][PATH]["post"]["responses"][str(response.status_code)]
    if "$ref" in declared:
        declared = spec["components"]["responses"][declared["$ref"].rsplit("/", 1)[1]]
    schema = {**declared["content"]["application/json"]["schema"], "components": spec["components"]}
    Draft202012Validator(schema).validate(answer(response))


def test_a_new_ticket_is_ingested_like_post_tickets(client: Any, aws: Aws, store: TicketStore, signing_secret: str):
    response = deliver(client, zendesk_body(4711, via={"channel": "Mail"}))

    assert response.status_code == 202, response.body
    assert answer(response) == {"ticket_id": "4711", "status": "received", "links": {"self": "/tickets/4711"}}
    conforms(response)
    record = store.get("4711")
    assert record is not None and record.published
    assert (record.customer_id, record.ticket.channel, record.ticket.subject) == (
        "CUST-CON-0002",
        "email",
        "No internet since this morning",
    )
    assert record.ticket.created_at == datetime(2026, 11, 25, 14, 55, tzinfo=UTC)
    [event] = aws.received_events()
    assert event["detail-type"] == "TicketReceived" and event["detail"]["ticket"]["ticket_id"] == "4711"


def test_our_own_updates_webhook_for_a_known_ticket_answers_200_and_changes_nothing(
    client: Any, aws: Aws, store: TicketStore, signing_secret: str
) -> None:
    deliver(client, zendesk_body(4711))
    store.record_decision("4711", make_decision("4711"), "routed", announce_within_s=30)
    aws.received_events()
    before = store.get("4711")

    # Our sync set group, priority and tags; Zendesk's "ticket updated" trigger tells us so, with what it has now.
    response = deliver(client, zendesk_body(4711, subject="No internet [Network Operations]", requester_id=None))

    assert response.status_code == 200
    assert answer(response)["status"] == "routed"
    conforms(response)
    assert store.get("4711") == before and aws.received_events() == []


def test_a_replay_inside_the_window_changes_nothing(client: Any, aws: Aws, signing_secret: str) -> None:
    body = zendesk_body(4711)
    stamp = webhook_timestamp()
    assert deliver(client, body, timestamp=stamp).status_code == 202
    aws.received_events()

    assert deliver(client, body, timestamp=stamp).status_code == 200
    assert aws.received_events() == []


@pytest.mark.parametrize("age", [timedelta(minutes=6), timedelta(minutes=-6)], ids=["replayed-later", "future"])
def test_a_signature_outside_the_replay_window_is_refused(
    client: Any, aws: Aws, store: TicketStore, signing_secret: str, age: timedelta
) -> None:
    response = deliver(client, zendesk_body(4711), at=datetime.now(UTC) - age)

    assert response.status_code == 401
    assert answer(response)["error"] == "invalid_signature" and "replay" in answer(response)["message"]
    conforms(response)
    assert store.get("4711") is None


def _forged(client: Any, body: bytes) -> dict[str, Any]:
    stamp = webhook_timestamp()
    good = signature(SECRET, stamp, body)
    return {
        "other-secret": deliver(client, body, secret="someone-else"),
        "tampered-body": client.http.post(
            PATH,
            headers={"content-type": "application/json", SIGNATURE_HEADER: good, TIMESTAMP_HEADER: stamp},
            body=body.replace(b"CUST-CON-0002", b"CUST-ENT-0001"),
        ),
        "moved-timestamp": client.http.post(
            PATH,
            headers={"content-type": "application/json", SIGNATURE_HEADER: good, TIMESTAMP_HEADER: stamp + " "},
            body=body,
        ),
        "no-signature": client.http.post(
            PATH, headers={"content-type": "application/json", TIMESTAMP_HEADER: stamp}, body=body
        ),
        "not-base64": client.http.post(
            PATH,
            headers={"content-type": "application/json", SIGNATURE_HEADER: "é" * 44, TIMESTAMP_HEADER: stamp},
            body=body,
        ),
        "api-key-instead": client.http.post(
            PATH, headers={"content-type": "application/json", "x-api-key": API_KEY}, body=body
        ),
    }


def test_a_forged_or_missing_signature_is_refused(
    client: Any, aws: Aws, store: TicketStore, signing_secret: str
) -> None:
    for name, response in _forged(client, zendesk_body(4711)).items():
        assert response.status_code == 401, name
        assert answer(response)["error"] == "invalid_signature", name
    assert store.get("4711") is None and aws.received_events() == []


def test_without_a_signing_secret_every_webhook_is_refused(client: Any, aws: Aws) -> None:
    response = deliver(client, zendesk_body(4711))

    assert response.status_code == 401 and "No webhook signing secret" in answer(response)["message"]


def test_the_local_ticketing_servers_signature_is_zendesks(client: Any, aws: Aws, signing_secret: str) -> None:
    body, stamp = zendesk_body(4711), webhook_timestamp()
    headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(SECRET, stamp, body), TIMESTAMP_HEADER: stamp}

    assert client.http.post(PATH, headers=headers, body=body).status_code == 202


def test_an_epoch_seconds_timestamp_is_accepted_too(client: Any, aws: Aws, signing_secret: str) -> None:
    stamp = str(int(datetime.now(UTC).timestamp()))

    assert deliver(client, zendesk_body(4711), timestamp=stamp).status_code == 202


def test_unknown_fields_are_ignored_and_an_unknown_channel_is_web(
    client: Any, aws: Aws, store: TicketStore, signing_secret: str
) -> None:
    body = json.dumps(
        {
            "ticket": {
                "id": "4712",
                "requester_id": 99,
                "subject": "Bill",
                "description": "Charged twice",
                "via": {"channel": "carrier_pigeon", "source": {"from": {}}},
                "brand_id": 360001,
                "tags": ["vip"],
            },
            "event": "zen:event-type:ticket.created",
        }
    ).encode()

    assert deliver(client, body).status_code == 202
    record = store.get("4712")
    assert record is not None and record.ticket.channel == "web" and record.customer_id == "99"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "malformed_json"),
        (json.dumps({"event": "ping"}).encode(), 422, "validation_error"),
        (zendesk_body(4711, requester_id=None), 422, "validation_error"),
        (zendesk_body("no spaces allowed"), 422, "validation_error"),
        (zendesk_body(4711, created_at="1999-12-31T00:00:00Z"), 422, "validation_error"),
    ],
    ids=["not-json", "no-ticket", "no-requester", "bad-id", "too-old"],
)
def test_a_signed_body_that_is_not_a_new_ticket_is_a_4xx(
    client: Any, aws: Aws, store: TicketStore, signing_secret: str, body: bytes, status: int, error: str
) -> None:
    response = deliver(client, body)

    assert response.status_code == status and answer(response)["error"] == error
    conforms(response)
    assert aws.received_events() == []


def test_a_body_over_the_limit_is_a_413(client: Any, aws: Aws, signing_secret: str) -> None:
    response = deliver(client, zendesk_body(4711, description="x" * 70_000))

    assert response.status_code == 413


def test_deployed_the_signing_secret_is_read_from_the_ticketing_credentials(client: Any, aws: Aws) -> None:
    """No secret in the environment: the API reads ``webhook_signing_secret`` from Secrets Manager."""
    from datalayer.secrets import SecretReader

    SecretReader(aws.settings).put(aws.settings.ticketing_secret, {"webhook_signing_secret": SECRET})

    assert deliver(client, zendesk_body(4712)).status_code == 202
    assert deliver(client, zendesk_body(4713), secret="not-the-secret").status_code == 401
