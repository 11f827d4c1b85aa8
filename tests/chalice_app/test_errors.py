"""The error boundary: every failure is the JSON envelope with the right status, and never a stack trace."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalice_app import deps
from datalayer.settings import use_settings
from datalayer.tickets import TicketStore
from tests.support import API_KEY, Aws, post_ticket, ticket_payload


def envelope(response: Any) -> dict[str, Any]:
    answer = json.loads(response.body)
    assert set(answer) == {"error", "message", "details"}
    assert response.headers["Content-Type"] == "application/json"
    return answer


def test_unexpected_exception_is_a_json_500_without_internals(client: Any, aws: Aws, store: TicketStore) -> None:
    def explode(_ticket_id: str) -> Any:
        raise RuntimeError("secret connection string")

    store.get = explode  # type: ignore[method-assign]

    response = client.http.get("/tickets/TCK-1", headers={"x-api-key": API_KEY})

    assert response.status_code == 500
    assert envelope(response)["error"] == "internal_error"
    assert "secret" not in response.body.decode() and "Traceback" not in response.body.decode()


def test_unexpected_exception_in_a_public_route_is_a_json_500(client: Any, aws: Aws) -> None:
    class ExplodingHealth:
        def run(self) -> dict[str, str]:
            raise RuntimeError("boom")

    deps.health.override(ExplodingHealth())  # type: ignore[arg-type]

    response = client.http.get("/health")

    assert response.status_code == 500 and envelope(response)["error"] == "internal_error"


def test_wrong_method_is_a_json_405(client: Any, aws: Aws) -> None:
    response = client.http.request("DELETE", "/tickets", headers={"x-api-key": API_KEY})

    assert response.status_code == 405
    assert envelope(response)["error"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_no_configured_keys_refuses_every_key(client: Any, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_API_KEYS", "")
    use_settings(None)

    for key in ("", API_KEY, "anything"):
        headers = {"x-api-key": key, "content-type": "application/json"}
        assert post_ticket(client, ticket_payload("TCK-1"), headers=headers).status_code == 401
