"""GET /tickets/{id} and GET /tickets: status, decision, and newest-first pages with opaque cursors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from datalayer.cursor import encode_cursor
from datalayer.tickets import TicketStore
from datalayer.types import RoutingDecision
from tests.factories import make_decision
from tests.support import API_KEY, Aws, post_ticket, ticket_payload

KEY = {"x-api-key": API_KEY}


def get(client: Any, path: str) -> tuple[int, Any]:
    response = client.http.get(path, headers=KEY)
    return response.status_code, json.loads(response.body)


def submit(client: Any, ticket_id: str, customer_id: str = "CUST-CON-0002") -> None:
    assert post_ticket(client, ticket_payload(ticket_id, customer_id=customer_id)).status_code == 202


def route(store: TicketStore, ticket_id: str, team: str = "Network Operations") -> RoutingDecision:
    decision = make_decision(ticket_id, team=team)
    assert store.record_decision(ticket_id, decision, "routed", announce_within_s=30)
    return decision


def test_received_ticket_has_no_decision_yet(client: Any, aws: Aws) -> None:
    submit(client, "TCK-1")

    status, ticket = get(client, "/tickets/TCK-1")

    assert status == 200
    assert ticket["status"] == "received" and ticket["decision"] is None and ticket["team"] is None
    assert ticket["ticket"]["subject"] == "No internet since this morning"
    assert ticket["links"] == {"self": "/tickets/TCK-1"}


def test_routed_ticket_shows_the_full_decision(client: Any, aws: Aws, store: TicketStore) -> None:
    submit(client, "TCK-2")
    decision = route(store, "TCK-2")

    status, ticket = get(client, "/tickets/TCK-2")

    assert status == 200
    assert ticket["status"] == "routed" and ticket["team"] == "Network Operations"
    assert ticket["confidence"] == pytest.approx(decision.confidence)
    assert RoutingDecision.model_validate(ticket["decision"]) == decision


def test_a_decision_shows_where_it_stands_in_the_ticketing_system(client: Any, aws: Aws, store: TicketStore) -> None:
    for ticket_id in ("SYNC-1", "SYNC-2", "SYNC-3"):
        submit(client, ticket_id)
        route(store, ticket_id)
    store.mark_synced("SYNC-2")
    assert store.mark_sync_failed("SYNC-3", "TicketNotFoundError: Zendesk has no such ticket")

    views = {ticket_id: get(client, f"/tickets/{ticket_id}")[1] for ticket_id in ("SYNC-1", "SYNC-2", "SYNC-3")}
    listed = {name: get(client, f"/tickets?sync_status={name}")[1] for name in ("pending", "synced", "failed")}

    assert [views[t]["sync_status"] for t in ("SYNC-1", "SYNC-2", "SYNC-3")] == ["pending", "synced", "failed"]
    assert views["SYNC-2"]["synced_at"] and views["SYNC-3"]["sync_failure"].startswith("TicketNotFoundError")
    assert {name: [item["ticket_id"] for item in page["items"]] for name, page in listed.items()} == {
        "pending": ["SYNC-1"],
        "synced": ["SYNC-2"],
        "failed": ["SYNC-3"],
    }


def test_the_sync_status_parameter_names_every_sync_status() -> None:
    from typing import get_args

    from chalice_app.models import SyncStatusName
    from datalayer.records import SyncStatus

    assert set(get_args(SyncStatusName)) == {status.value for status in SyncStatus}


def test_failed_ticket_shows_why(client: Any, aws: Aws, store: TicketStore) -> None:
    submit(client, "TCK-3")
    assert store.mark_failed("TCK-3", "RuntimeError: model missing")

    status, ticket = get(client, "/tickets/TCK-3")

    assert (status, ticket["status"], ticket["failure_reason"]) == (200, "failed", "RuntimeError: model missing")


@pytest.mark.parametrize("ticket_id", ["TCK-404", "not%20an%20id", "x" * 300])
def test_unknown_ticket_is_a_404(client: Any, aws: Aws, ticket_id: str) -> None:
    status, answer = get(client, f"/tickets/{ticket_id}")

    assert status == 404 and answer["error"] == "not_found"


def test_reading_requires_an_api_key(client: Any, aws: Aws) -> None:
    assert client.http.get("/tickets/TCK-1").status_code == 401
    assert client.http.get("/tickets?customer_id=C-1").status_code == 401


def test_customer_listing_is_newest_first_across_pages(client: Any, aws: Aws) -> None:
    for n in range(5):
        submit(client, f"TCK-{n}", customer_id="CUST-A")
    submit(client, "TCK-OTHER", customer_id="CUST-B")

    seen: list[str] = []
    path = "/tickets?customer_id=CUST-A&limit=2"
    for _ in range(5):
        status, page = get(client, path)
        assert status == 200 and len(page["items"]) <= 2
        seen += [item["ticket_id"] for item in page["items"]]
        if page["next_token"] is None:
            break
        path = f"/tickets?customer_id=CUST-A&limit=2&next_token={page['next_token']}"

    assert seen == ["TCK-4", "TCK-3", "TCK-2", "TCK-1", "TCK-0"]


def test_team_listing_shows_routed_tickets_only(client: Any, aws: Aws, store: TicketStore) -> None:
    for n in range(3):
        submit(client, f"TCK-{n}")
    route(store, "TCK-0", team="Billing Support")
    route(store, "TCK-2", team="Billing Support")
    route(store, "TCK-1", team="Network Operations")

    status, page = get(client, "/tickets?team=Billing%20Support")

    assert status == 200 and page["next_token"] is None
    assert [(i["ticket_id"], i["team"], i["status"]) for i in page["items"]] == [
        ("TCK-2", "Billing Support", "routed"),
        ("TCK-0", "Billing Support", "routed"),
    ]


def test_default_page_size_is_20(client: Any, aws: Aws, store: TicketStore) -> None:
    for n in range(21):
        submit(client, f"TCK-{n:02d}", customer_id="CUST-MANY")

    _, page = get(client, "/tickets?customer_id=CUST-MANY")

    assert len(page["items"]) == 20 and page["next_token"] is not None


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?customer_id=C-1&team=Billing",
        "?customer_id=",
        "?customer_id=C-1&limit=0",
        "?customer_id=C-1&limit=101",
        "?customer_id=C-1&limit=ten",
        "?customer_id=C-1&colour=red",
        "?sync_status=lost",
        "?team=Billing&sync_status=failed",
    ],
    ids=["neither", "both", "empty", "limit0", "limit101", "limit-text", "unknown", "sync-status", "team-and-sync"],
)
def test_bad_query_is_a_400(client: Any, aws: Aws, query: str) -> None:
    status, answer = get(client, f"/tickets{query}")

    assert status == 400 and answer["error"] == "invalid_query" and answer["details"]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "!!!not-base64!!!",
        _b64("not json"),
        _b64("[" * 1400),
        _b64(json.dumps({"ticket_id": "T"})),
        encode_cursor({"ticket_id": "T", "customer_id": "SOMEONE-ELSE", "received_at": "2026-11-25"}),
        encode_cursor({"ticket_id": "T", "team": "Billing Support", "received_at": "2026-11-25"}),
    ],
    ids=["alphabet", "json", "deep", "keys", "other-customer", "other-index"],
)
def test_bad_cursor_is_a_400(client: Any, aws: Aws, token: str) -> None:
    status, answer = get(client, f"/tickets?customer_id=CUST-A&next_token={token}")

    assert status == 400 and answer["error"] == "invalid_query"
