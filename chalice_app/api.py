"""The REST API as a Chalice blueprint; ``app.py`` composes it with the workers.

Routes only translate HTTP to store and publisher calls and back: input rules live in ``parsing``,
wire formats in ``models``, errors and their rendering in ``errors`` and ``middleware``, and the
dependencies come from ``deps`` so tests can swap them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from chalice import Blueprint, Response

from chalice_app import deps
from chalice_app.errors import ConflictError, InvalidQueryError, NotFoundError, ServiceUnavailableError
from chalice_app.health import OK
from chalice_app.middleware import error_boundary
from chalice_app.models import (
    HealthReport,
    TicketAccepted,
    TicketListItem,
    TicketPage,
    TicketView,
    is_ticket_id,
    ticket_path,
)
from chalice_app.openapi import openapi_document
from chalice_app.parsing import parse_list_query, parse_ticket
from datalayer.cursor import InvalidCursorError
from datalayer.errors import PublishError, StoreError
from datalayer.records import TicketRecord, payload_hash
from datalayer.settings import get_settings
from datalayer.types import Ticket

PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})
"""Routes served without an API key: load balancers and monitors probe /health, clients fetch the spec. The others
say ``api_key_required=True``, so that in AWS API Gateway checks the key against the usage plan's keys first."""

api = Blueprint(__name__)
api.register_middleware(error_boundary(PUBLIC_PATHS), "http")


def _unavailable() -> ServiceUnavailableError:
    """The 503 for a failed dependency; the middleware logs it with its cause, the client sees neither."""
    return ServiceUnavailableError(retry_after=get_settings().retry_after_seconds)


@api.route("/tickets", methods=["POST"], content_types=["application/json"], api_key_required=True)
def submit_ticket() -> Response:
    """Store the ticket and publish TicketReceived; 202 only once both happened.

    A retry of the same ticket finishes whatever a failed attempt left undone (the record says whether
    the event went out), so a client that got a 503 loses nothing by sending the ticket again.
    """
    settings = get_settings()
    ticket = parse_ticket(api.current_request.raw_body, settings.max_body_bytes)
    store, publisher = deps.store.get(), deps.publisher.get()
    try:
        record, created = store.create_if_absent(ticket)
        if not created:
            _ensure_same_ticket(record, ticket)
        if not record.published:
            publisher.publish_received(record.ticket)
            store.mark_published(record.ticket_id)
    except (StoreError, PublishError) as exc:
        raise _unavailable() from exc
    accepted = TicketAccepted.from_record(record)
    return Response(
        body=accepted.model_dump(mode="json"),
        status_code=202,
        headers={"Location": accepted.links.self},
    )


def _ensure_same_ticket(record: TicketRecord, ticket: Ticket) -> None:
    """A resubmission must carry the stored payload; ``created_at`` left out is the stored one, not now."""
    if "created_at" not in ticket.model_fields_set:
        ticket = ticket.model_copy(update={"created_at": record.ticket.created_at})
    if payload_hash(ticket) != record.payload_hash:
        raise ConflictError(
            f"Ticket {ticket.ticket_id} was already submitted with a different payload.",
            details={"ticket_id": ticket.ticket_id, "links": {"self": ticket_path(ticket.ticket_id)}},
        )


@api.route("/tickets/{ticket_id}", methods=["GET"], api_key_required=True)
def get_ticket(ticket_id: str) -> dict[str, Any]:
    """The ticket's status and, once routed, the full routing decision."""
    ticket_id = unquote(ticket_id)
    if not is_ticket_id(ticket_id):  # it cannot exist, and DynamoDB would reject some such keys outright
        raise NotFoundError("No ticket has this id.")
    try:
        record = deps.store.get().get(ticket_id)
    except StoreError as exc:
        raise _unavailable() from exc
    if record is None:
        raise NotFoundError(f"No ticket {ticket_id}.", details={"ticket_id": ticket_id})
    return TicketView.from_record(record).model_dump(mode="json")


@api.route("/tickets", methods=["GET"], api_key_required=True)
def list_tickets() -> dict[str, Any]:
    """A customer's or a team's tickets, newest first, a page at a time."""
    query = parse_list_query(api.current_request.query_params)
    store = deps.store.get()
    field, value = query.selector
    lister = store.list_by_customer if field == "customer_id" else store.list_by_team
    try:
        page = lister(value, query.limit, query.next_token)
    except InvalidCursorError as exc:
        details = [{"loc": ["next_token"], "type": "invalid_cursor", "msg": str(exc)}]
        raise InvalidQueryError(f"Invalid next_token: {exc}.", details=details) from exc
    except StoreError as exc:
        raise _unavailable() from exc
    items = [TicketListItem.from_summary(summary) for summary in page.items]
    return TicketPage(items=items, next_token=page.next_cursor).model_dump(mode="json")


@api.route("/health", methods=["GET"])
def health() -> Response:
    """200 when the tickets table, the bus and the routing queue all answer; 503 naming the ones that did not."""
    checks = deps.health.get().run()
    healthy = all(result == OK for result in checks.values())
    report = HealthReport(status="ok" if healthy else "unavailable", checks=checks)
    return Response(body=report.model_dump(mode="json"), status_code=200 if healthy else 503)


@api.route("/openapi.json", methods=["GET"])
def openapi() -> dict[str, Any]:
    """This API's OpenAPI 3.1 document."""
    return openapi_document()
