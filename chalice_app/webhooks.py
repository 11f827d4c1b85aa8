"""``POST /webhooks/ticketing``: new tickets from the ticketing system (Zendesk), pushed by a webhook.

Authentication is the webhook's signature alone, as Zendesk signs it, so the route is exempt from the API key:

* ``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(signing secret, timestamp + raw body)), compared in
  constant time with what we compute from the signing secret (``chalice_app.deps.WebhookSigningSecret``);
* ``X-Zendesk-Webhook-Signature-Timestamp`` (ISO 8601, as Zendesk sends it, or epoch seconds) within
  ``settings.webhook_replay_window_s`` of our clock, either way: an older request is a replay.

Anything else is a 401 with the API's error body; with no secret configured every webhook is refused. A replay
inside the window passes the signature check and changes nothing: the ticket is known by then.

The body is the JSON a Zendesk trigger sends (its template is in the README); unknown fields are ignored, so the
template can carry more than we read::

    {"ticket": {"id": 4711, "requester_id": "CUST-CON-0002", "subject": "...", "description": "...",
                "created_at": "2026-11-25T14:55:00Z", "via": {"channel": "email"}}}

``id`` becomes our ``ticket_id``, ``requester_id`` (the requester's external id in Zendesk) our ``customer_id``,
and ``via.channel`` our channel (Zendesk's channel names mapped, anything unknown is ``web``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from chalice_app.errors import MalformedJsonError, PayloadTooLargeError, RequestValidationError, UnauthorizedError
from chalice_app.parsing import validation_details
from datalayer.types import Channel, Ticket

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"

CHANNELS: Mapping[str, Channel] = {
    "email": Channel.EMAIL,
    "mail": Channel.EMAIL,
    "web": Channel.WEB,
    "web_form": Channel.WEB,
    "web_widget": Channel.WEB,
    "help_center": Channel.WEB,
    "chat": Channel.CHAT,
    "messaging": Channel.CHAT,
    "native_messaging": Channel.CHAT,
    "voice": Channel.PHONE,
    "phone": Channel.PHONE,
    "phone_call_(incoming)": Channel.PHONE,
    "twitter": Channel.SOCIAL,
    "facebook": Channel.SOCIAL,
    "instagram": Channel.SOCIAL,
    "whatsapp": Channel.SOCIAL,
    "api": Channel.API,
}
"""Zendesk's ``via.channel`` values (and the ``{{ticket.via}}`` placeholder's words, lower-cased) to ours."""


class InvalidSignatureError(UnauthorizedError):
    code = "invalid_signature"
    default_message = "The webhook's signature is missing or invalid."


def signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature(
    headers: Mapping[str, str], raw_body: bytes, secret: str | None, *, now: datetime, window_s: int
) -> None:
    """Raise ``InvalidSignatureError`` unless the request is signed with ``secret`` within ``window_s`` of ``now``."""
    if not secret:
        raise InvalidSignatureError("No webhook signing secret is configured: every webhook is refused.")
    presented, timestamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not presented or not timestamp:
        raise InvalidSignatureError(f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required.")
    expected = signature(secret, timestamp, raw_body)
    if not hmac.compare_digest(expected.encode(), presented.encode("utf-8", "surrogatepass")):
        raise InvalidSignatureError("The webhook's signature does not match its body.")
    signed_at = _moment(timestamp)
    if signed_at is None or abs((now - signed_at).total_seconds()) > window_s:
        raise InvalidSignatureError(f"The webhook was not signed within the last {window_s} s: refused as a replay.")


def _moment(timestamp: str) -> datetime | None:
    """ISO 8601 (``2026-11-25T15:00:00Z``, Zendesk's form) or epoch seconds; naive times are UTC."""
    try:
        if timestamp.strip().isdigit():
            return datetime.fromtimestamp(int(timestamp), tz=UTC)
        moment = datetime.fromisoformat(timestamp.strip())
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Via(BaseModel):
    model_config = ConfigDict(extra="ignore")

    channel: str | None = None


class WebhookTicket(BaseModel):
    """The ``ticket`` object of the webhook's body; only ``id`` is needed to recognise a ticket we already have."""

    model_config = ConfigDict(extra="ignore")

    id: int | str
    requester_id: int | str | None = None
    subject: str | None = None
    description: str | None = None
    created_at: datetime | None = None
    via: _Via | None = None

    @property
    def ticket_id(self) -> str:
        return str(self.id).strip()

    def to_ticket(self) -> Ticket:
        """Our ticket; ``RequestValidationError`` (422) when it is not a valid one (no requester, say)."""
        fields = {
            "ticket_id": self.ticket_id,
            "customer_id": "" if self.requester_id is None else str(self.requester_id),
            "subject": self.subject or "",
            "description": self.description or "",
            "channel": _channel(self.via.channel if self.via else None),
        }
        if self.created_at is not None:
            fields["created_at"] = self.created_at
        try:
            return Ticket.model_validate(fields)
        except ValidationError as exc:
            raise RequestValidationError(
                "The webhook's ticket is not a valid ticket.", details=validation_details(exc)
            ) from exc


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ticket: WebhookTicket


def _channel(name: str | None) -> Channel:
    return CHANNELS.get((name or "").strip().lower().replace(" ", "_"), Channel.WEB)


def parse_webhook(raw_body: bytes, max_bytes: int) -> WebhookTicket:
    """The body's ticket, or the 413, 400 or 422 that says what is wrong with it."""
    if len(raw_body) > max_bytes:
        raise PayloadTooLargeError(
            f"The body is {len(raw_body)} bytes; the limit is {max_bytes}.", details={"max_bytes": max_bytes}
        )
    try:
        document = json.loads(raw_body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise MalformedJsonError() from exc
    try:
        return WebhookBody.model_validate(document).ticket
    except ValidationError as exc:
        raise RequestValidationError(
            "The webhook's body is not a ticket event.", details=validation_details(exc)
        ) from exc
