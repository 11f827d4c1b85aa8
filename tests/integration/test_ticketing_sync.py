"""The whole loop against the local stack: a ticket in (over the API, or created in the ticketing system and
pushed by its webhook), its decision back in the local ticketing server over HTTP, once, and ``synced``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from infra.local import LocalStack
from infra.ticketing_server import LocalTicketingServer

pytestmark = pytest.mark.integration

WAIT_S = 30.0


def _wait(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while not (found := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
    return found


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> httpx.Client:
    return httpx.Client(base_url=stack.api_url, headers={"x-api-key": stack.api_key}, timeout=10)


@pytest.fixture(scope="module")
def ticketing(stack: LocalStack) -> LocalTicketingServer:
    assert stack.ticketing is not None
    return stack.ticketing


def _synced(api: httpx.Client, ticket_id: str) -> dict[str, Any] | None:
    answer = api.get(f"/tickets/{ticket_id}")
    if answer.status_code == 404:  # the webhook has not arrived yet
        return None
    view = answer.raise_for_status().json()
    return view if view.get("sync_status") == "synced" else None


def test_a_ticket_posted_to_the_api_ends_with_its_decision_in_the_ticketing_system(
    api: httpx.Client, ticketing: LocalTicketingServer
) -> None:
    body = {"ticket_id": "SYNC-IT-1", "customer_id": "CUST-CON-0002", "subject": "Refund", "description": "Billed 2x"}
    assert api.post("/tickets", json=body).status_code == 202

    view = _wait(lambda: _synced(api, "SYNC-IT-1"), "the decision to be synced")

    ticket = ticketing.ticket("SYNC-IT-1")
    assert ticket is not None
    decision = view["decision"]
    [comment] = ticket["comments"]
    assert comment["public"] is False and "[switchboard:decision SYNC-IT-1 " in comment["body"]
    assert f"Team: {decision['team']}" in comment["body"]
    priority = {"P0": "urgent", "P1": "high", "P2": "normal", "P3": "low"}[decision["priority"]["level"]]
    assert ticket["priority"] == priority and ticket["group_id"] is not None
    assert "switchboard" in ticket["tags"] and view["synced_at"]
    # The update fired the ticketing system's webhook back at us: answered 200, nothing new ingested or synced.
    _wait(lambda: [w for w in ticketing.webhooks if w.ticket_id == "SYNC-IT-1"], "our own update's webhook")
    assert {w.status for w in ticketing.webhooks if w.ticket_id == "SYNC-IT-1"} == {200}
    assert api.get("/tickets/SYNC-IT-1").json()["updated_at"] == view["updated_at"]


def test_a_ticket_created_in_the_ticketing_system_comes_in_by_webhook_and_goes_back_routed(
    api: httpx.Client, ticketing: LocalTicketingServer
) -> None:
    ticket_id = ticketing.create_ticket("CUST-BIZ-0002", "Router keeps rebooting", "Error E-1043 every hour.")

    view = _wait(lambda: _synced(api, ticket_id), "the webhook's ticket to be routed and synced")

    assert view["ticket"]["customer_id"] == "CUST-BIZ-0002" and view["ticket"]["channel"] == "email"
    assert len(ticketing.comments(ticket_id)) == 1
    [created] = [w for w in ticketing.webhooks if w.ticket_id == ticket_id and w.event == "created"]
    assert created.status == 202
