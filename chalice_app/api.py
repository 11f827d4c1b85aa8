"""The REST API as a Chalice blueprint; ``app.py`` composes it with the workers.

Routes only translate HTTP to store and publisher calls and back: input rules live in ``parsing``,
wire formats in ``models``, errors and their rendering in ``errors`` and ``middleware``, and the
dependencies come from ``deps`` so tests can swap them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from chalice import Blueprint, Response

from chalice_app import correlation, deps
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
from chalice_app.webhooks import parse_webhook, verify_signature
from datalayer.cursor import InvalidCursorError
from datalayer.errors import PublishError, StoreError
from datalayer.records import SyncStatus, TicketRecord, payload_hash
from datalayer.settings import get_settings
from datalayer.types import Ticket

PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})
"""Routes served without an API key: load balancers and monitors probe /health, clients fetch the spec. The others
say ``api_key_required=True``, so that in AWS API Gateway checks the key against the usage plan's keys first
(except the signed webhook, whose signature is its authentication)."""
SIGNED_PATHS = frozenset({"/webhooks/ticketing"})
"""Routes authenticated by their request's signature instead of an API key (``chalice_app.webhooks``)."""

api = Blueprint(__name__)
api.register_middleware(error_boundary(PUBLIC_PATHS | SIGNED_PATHS), "http")


def _unavailable() -> ServiceUnavailableError:
    """The 503 for a failed dependency; the middleware logs it with its cause, the client sees neither."""
    return ServiceUnavailableError(retry_after=get_settings().retry_after_seconds)


@api.route("/tickets", methods=["POST"], content_types=["application/json"], api_key_required=True)
def submit_ticket() -> Response:
    """Store the ticket and publish TicketReceived; 202 only once both happened.

    A client that got a 503 loses nothing by sending the ticket again; the same ticket id with a different
    payload is a 409.
    """
    settings = get_settings()
    ticket = parse_ticket(api.current_request.raw_body, settings.max_body_bytes)
    record, _ = _ingest(ticket, on_resubmission=_ensure_same_ticket)
    return _accepted(record, 202)


@api.route("/webhooks/ticketing", methods=["POST"], content_types=["application/json"])
def ticketing_webhook() -> Response:
    """A ticket created in the ticketing system: ingested like ``POST /tickets`` (202). A ticket we already have
    (our own update fired the webhook, or Zendesk delivered it twice) answers 200 and changes nothing: no 409,
    whatever the body says now."""
    settings = get_settings()
    request = api.current_request
    verify_signature(
        request.headers,
        request.raw_body,
        deps.webhook_secret.get().value(),
        now=datetime.now(UTC),
        window_s=settings.webhook_replay_window_s,
    )
    incoming = parse_webhook(request.raw_body, settings.max_body_bytes)
    try:
        known = deps.store.get().get(incoming.ticket_id)
    except StoreError as exc:
        raise _unavailable() from exc
    if known is not None:
        return _accepted(known, 200)
    record, created = _ingest(incoming.to_ticket(), on_resubmission=lambda _record, _ticket: None)
    return _accepted(record, 202 if created else 200)


def _ingest(
    ticket: Ticket, *, on_resubmission: Callable[[TicketRecord, Ticket], None]
) -> tuple[TicketRecord, bool]:
    """The one way a ticket comes in: stored unless it was, then its TicketReceived published unless it was.

    A retry of the same ticket finishes whatever a failed attempt left undone (the record says whether the event
    went out); ``on_resubmission`` sees the stored record of a ticket that existed and may refuse it.
    """
    store, publisher = deps.store.get(), deps.publisher.get()
    try:
        record, created = store.create_if_absent(ticket, correlation.current())
        if created:
            deps.metrics.get().add("TicketsReceived", 1)
        else:
            on_resubmission(record, ticket)
        if not record.published:
            publisher.publish_received(record.ticket, record.correlation_id)
            store.mark_published(record.ticket_id)
    except (StoreError, PublishError) as exc:
        raise _unavailable() from exc
    return record, created


def _accepted(record: TicketRecord, status_code: int) -> Response:
    accepted = TicketAccepted.from_record(record)
    return Response(
        body=accepted.model_dump(mode="json"), status_code=status_code, headers={"Location": accepted.links.self}
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
    """A customer's or a team's tickets, or those in one sync status, newest first, a page at a time."""
    query = parse_list_query(api.current_request.query_params)
    store = deps.store.get()
    field, value = query.selector
    try:
        if field == "sync_status":
            page = store.list_by_sync_status(SyncStatus(value), query.limit, query.next_token)
        else:
            lister = store.list_by_customer if field == "customer_id" else store.list_by_team
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
