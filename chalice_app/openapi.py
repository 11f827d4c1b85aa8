"""The API's OpenAPI 3.1 document, served at ``GET /openapi.json``.

Schemas come from the pydantic models the routes build their bodies with (``models``, ``datalayer.types``),
so they cannot disagree with the responses; OpenAPI 3.1 is used because its schemas are plain JSON
Schema, which is what pydantic emits. What pydantic cannot know (paths, parameters, status codes,
headers, security) is written out below, and ``tests/chalice_app/test_openapi.py`` checks it against the
routes Chalice actually registers. Every status a route can answer is declared, for schemathesis.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chalice_app.auth import API_KEY_HEADER
from chalice_app.errors import ErrorBody
from chalice_app.models import HealthReport, ListTicketsQuery, TicketAccepted, TicketPage, TicketView
from chalice_app.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER
from datalayer.types import Ticket

_MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (Ticket, "validation"),
    (TicketAccepted, "serialization"),
    (TicketView, "serialization"),
    (TicketPage, "serialization"),
    (HealthReport, "serialization"),
    (ErrorBody, "serialization"),
]

_ERRORS: dict[str, tuple[str, str]] = {
    "400": ("BadRequest", "The body is not JSON (malformed_json), or the query string or next_token is invalid."),
    "401": ("Unauthorized", "The x-api-key header is missing or not a valid key."),
    "404": ("NotFound", "No ticket has this id."),
    "409": ("Conflict", "This ticket_id was already submitted with a different payload."),
    "413": ("PayloadTooLarge", "The body is larger than the configured limit (64 KiB by default)."),
    "415": ("UnsupportedMediaType", "The body is not application/json."),
    "422": ("ValidationFailed", "The JSON is not a valid ticket; details lists each violation."),
    "500": ("InternalError", "An unexpected error; the cause is logged, never returned."),
    "503": ("ServiceUnavailable", "DynamoDB or EventBridge failed; retry the same request after Retry-After."),
}

_WEBHOOK_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["ticket"],
    "properties": {
        "ticket": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": ["integer", "string"], "description": "The ticketing system's id: our ticket_id."},
                "requester_id": {
                    "type": ["integer", "string", "null"],
                    "description": "The requester's external id: our customer_id.",
                },
                "subject": {"type": ["string", "null"]},
                "description": {"type": ["string", "null"]},
                "created_at": {"type": ["string", "null"], "format": "date-time"},
                "via": {"type": ["object", "null"], "properties": {"channel": {"type": ["string", "null"]}}},
            },
        }
    },
}

_RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}}

_INFO_DESCRIPTION = f"""Switchboard receives customer tickets from the ticketing system and routes each one to a
support team. `POST /tickets` answers 202 once the ticket is stored and queued for routing; poll
`GET /tickets/{{ticket_id}}` for the decision.

Every operation requires an API key in the `{API_KEY_HEADER}` header, except `GET /health` and
`GET /openapi.json` (this document), and `POST /webhooks/ticketing`, which the ticketing system (Zendesk) signs
instead (`{SIGNATURE_HEADER}`). Errors share one body: `{{"error", "message", "details"}}`.
Paths that are not listed here are answered by API Gateway itself with 404 and the same error body."""


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _ref("responses", _ERRORS[code][0]) for code in codes}


def _query_parameters() -> list[dict[str, Any]]:
    """customer_id, team, limit and next_token, with the constraints ``ListTicketsQuery`` enforces."""
    schema = ListTicketsQuery.model_json_schema()["properties"]
    descriptions = {
        "customer_id": "List this customer's tickets. Exactly one of customer_id, team and sync_status is required.",
        "team": "List the tickets routed to this team. Exactly one of customer_id, team and sync_status is required.",
        "sync_status": "List the tickets whose decision is pending, synced or failed in the ticketing system, most "
        "recently changed first. Exactly one of customer_id, team and sync_status is required.",
        "limit": "Page size.",
        "next_token": "The next_token of the previous page.",
    }
    parameters = []
    for name, description in descriptions.items():
        prop = {key: value for key, value in schema[name].items() if key != "title"}
        if "anyOf" in prop:  # an optional string: absent rather than null in a query string
            prop = next(option for option in prop["anyOf"] if option.get("type") != "null")
        parameters.append({"name": name, "in": "query", "required": False, "description": description, "schema": prop})
    return parameters


def _paths(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    public: list[dict[str, Any]] = []  # overrides the document-wide API key requirement
    ticket_id = Ticket.model_json_schema()["properties"]["ticket_id"]
    accepted = _json(schemas["TicketAccepted"])
    return {
        "/tickets": {
            "post": {
                "operationId": "submitTicket",
                "summary": "Submit a ticket for routing (idempotent on ticket_id).",
                "description": (
                    "Answers 202 once the ticket is stored and its TicketReceived event accepted. Submitting "
                    "the same ticket again answers 202 again and publishes nothing new; after a 503, "
                    "submitting it again completes the job."
                ),
                "requestBody": {"required": True, "content": _json(schemas["Ticket"])},
                "responses": {
                    "202": {
                        "description": "Stored and queued for routing.",
                        "headers": {"Location": {"description": "The ticket's URL.", "schema": {"type": "string"}}},
                        "content": _json(schemas["TicketAccepted"]),
                    },
                    **_errors("400", "401", "409", "413", "415", "422", "500", "503"),
                },
            },
            "get": {
                "operationId": "listTickets",
                "summary": "A customer's or a team's tickets, newest first.",
                "parameters": _query_parameters(),
                "responses": {
                    "200": {"description": "One page.", "content": _json(schemas["TicketPage"])},
                    **_errors("400", "401", "500", "503"),
                },
            },
        },
        "/tickets/{ticket_id}": {
            "get": {
                "operationId": "getTicket",
                "summary": "A ticket's status and, once routed, its routing decision.",
                "parameters": [{"name": "ticket_id", "in": "path", "required": True, "schema": ticket_id}],
                "responses": {
                    "200": {"description": "The ticket.", "content": _json(schemas["TicketView"])},
                    **_errors("401", "404", "500", "503"),
                },
            },
        },
        "/webhooks/ticketing": {
            "post": {
                "operationId": "ticketingWebhook",
                "summary": "A ticket created in the ticketing system, signed by its webhook. No API key.",
                "description": (
                    "Authenticated by the Zendesk webhook signature alone: base64(HMAC-SHA256(signing secret, "
                    f"timestamp + raw body)) in {SIGNATURE_HEADER}, the timestamp in {TIMESTAMP_HEADER}, within "
                    "the replay window. A new ticket is ingested like POST /tickets (202); a ticket already here "
                    "answers 200 and changes nothing. Unknown fields of the body are ignored."
                ),
                "security": [{"ZendeskWebhookSignature": []}],
                "requestBody": {"required": True, "content": _json(_WEBHOOK_BODY)},
                "responses": {
                    "202": {"description": "A new ticket, stored and queued.", "content": accepted},
                    "200": {"description": "Already here: nothing changed.", "content": accepted},
                    **_errors("400", "401", "413", "415", "422", "500", "503"),
                },
            },
        },
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Whether the tickets table, the event bus and the routing queue answer. No API key.",
                "security": public,
                "responses": {
                    "200": {"description": "All dependencies answer.", "content": _json(schemas["HealthReport"])},
                    "503": {"description": "Some fail; see checks.", "content": _json(schemas["HealthReport"])},
                    **_errors("500"),
                },
            },
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document. No API key.",
                "security": public,
                "responses": {
                    "200": {"description": "The OpenAPI 3.1 document.", "content": _json({"type": "object"})},
                    **_errors("500"),
                },
            },
        },
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document; built once per process (treat it as read-only)."""
    refs, definitions = models_json_schema(_MODELS, ref_template="#/components/schemas/{model}")
    schemas = {model.__name__: refs[(model, mode)] for model, mode in _MODELS}
    responses: dict[str, Any] = {
        name: {"description": description, "content": _json(schemas["ErrorBody"])}
        for name, description in _ERRORS.values()
    }
    responses["ServiceUnavailable"]["headers"] = {"Retry-After": _RETRY_AFTER}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard ticket routing API", "version": "1.0.0", "description": _INFO_DESCRIPTION},
        "security": [{"ApiKey": []}],
        "paths": _paths(schemas),
        "components": {
            "schemas": definitions.get("$defs", {}),
            "responses": responses,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
                "ZendeskWebhookSignature": {"type": "apiKey", "in": "header", "name": SIGNATURE_HEADER},
            },
        },
    }
