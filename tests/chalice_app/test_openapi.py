"""The OpenAPI document stays true: valid, one operation per registered route, and real answers conform to it."""

from __future__ import annotations

import json
from typing import Any

from chalice import Chalice
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from chalice_app import deps
from chalice_app.api import PUBLIC_PATHS
from chalice_app.openapi import openapi_document
from datalayer.publisher import EventPublisher
from datalayer.tickets import TicketStore
from tests.factories import make_decision
from tests.support import API_KEY, AUTH, Aws, BrokenEvents, post_ticket, ticket_payload

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS}


def routes(app: Chalice) -> set[tuple[str, str]]:
    return {(path, method) for path, entries in app.routes.items() for method in entries}


def test_document_is_valid_openapi() -> None:
    validate(openapi_document())


def test_every_route_is_documented_and_nothing_else(app: Chalice) -> None:
    """``app`` is the composed app of ``app.py``: the worker's blueprint must not add undocumented routes."""
    assert operations(openapi_document()) == routes(app)


def test_only_the_public_paths_skip_the_api_key() -> None:
    spec = openapi_document()
    assert spec["security"] == [{"ApiKey": []}]
    public = {path for path, item in spec["paths"].items() for op in item.values() if op.get("security") == []}
    assert public == PUBLIC_PATHS
    for path, item in spec["paths"].items():
        for operation in item.values():
            assert "500" in operation["responses"]
            assert ("401" in operation["responses"]) == (path not in PUBLIC_PATHS)


def test_document_is_served_without_an_api_key(client: Any) -> None:
    response = client.http.get("/openapi.json")

    assert response.status_code == 200
    assert json.loads(response.body) == json.loads(json.dumps(openapi_document()))


def _schema_for(spec: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    response = spec["paths"][path][method]["responses"][str(status)]  # KeyError: an undeclared status
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return {**response["content"]["application/json"]["schema"], "components": spec["components"]}


def _conforms(response: Any, path: str, method: str) -> None:
    schema = _schema_for(openapi_document(), path, method, response.status_code)
    Draft202012Validator(schema).validate(json.loads(response.body))


def test_answers_conform_to_the_document(client: Any, aws: Aws, store: TicketStore) -> None:
    key = {"x-api-key": API_KEY}
    submitted = post_ticket(client, ticket_payload("TCK-1"))
    store.record_decision("TCK-1", make_decision("TCK-1"), "routed", announce_within_s=30)
    answers = [
        (submitted, "/tickets", "post"),
        (post_ticket(client, ticket_payload("TCK-1", subject="other")), "/tickets", "post"),
        (post_ticket(client, {"ticket_id": "TCK-2"}), "/tickets", "post"),
        (post_ticket(client, b"{"), "/tickets", "post"),
        (
            post_ticket(client, ticket_payload("TCK-3"), headers={**AUTH, "content-type": "text/csv"}),
            "/tickets",
            "post",
        ),
        (post_ticket(client, ticket_payload("TCK-3"), headers={}), "/tickets", "post"),
        (client.http.get("/tickets/TCK-1", headers=key), "/tickets/{ticket_id}", "get"),
        (client.http.get("/tickets/TCK-9", headers=key), "/tickets/{ticket_id}", "get"),
        (client.http.get("/tickets?customer_id=CUST-CON-0002&limit=1", headers=key), "/tickets", "get"),
        (client.http.get("/tickets?team=Network%20Operations", headers=key), "/tickets", "get"),
        (client.http.get("/tickets?limit=5", headers=key), "/tickets", "get"),
        (client.http.get("/health"), "/health", "get"),
    ]

    assert [a[0].status_code for a in answers] == [202, 409, 422, 400, 415, 401, 200, 404, 200, 200, 400, 200]
    for response, path, method in answers:
        _conforms(response, path, method)


def test_unavailable_answers_conform(client: Any, aws: Aws) -> None:
    deps.publisher.override(EventPublisher(aws.settings, events_client=BrokenEvents()))
    aws.clients.sqs.delete_queue(QueueUrl=aws.routing_queue_url)

    submitted = post_ticket(client, ticket_payload("TCK-1"))
    health = client.http.get("/health")

    assert (submitted.status_code, health.status_code) == (503, 503)
    _conforms(submitted, "/tickets", "post")
    _conforms(health, "/health", "get")
