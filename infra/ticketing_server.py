"""A local stand-in for Zendesk Support: real HTTP on 127.0.0.1, its own tickets, faults on demand.

The sync worker's adapter (``workers.ticketing.zendesk``) talks to it exactly as to Zendesk, so the whole loop
(ticket in, decision out, back into the ticketing system, webhook in again) runs on one machine. It speaks the
subset of the Support API the adapter uses, with Zendesk's paths (``.json`` suffix optional, as in Zendesk):

* ``GET /api/v2/tickets/{id}`` and ``PUT /api/v2/tickets/{id}`` with ``{"ticket": {"group_id", "priority",
  "status", "comment": {"body", "public"}}}`` (a comment is appended; a closed ticket answers 422);
* ``GET /api/v2/tickets/{id}/comments`` with ``sort_order``, ``page`` and ``per_page`` (``next_page`` is a URL);
* ``PUT /api/v2/tickets/{id}/tags`` adds tags, ``POST`` sets them, ``GET`` lists them.

Every API request needs HTTP basic auth ``{email}/token:{api_token}`` (``credentials``). A ticket unknown to the
server is created on first sight (``auto_create``; off, it answers 404), by ``seed`` or by ``create_ticket``, which
also fires the webhook a Zendesk trigger would (``webhook_url``): signed like Zendesk's
(``X-Zendesk-Webhook-Signature``: base64 HMAC-SHA256 of timestamp + body) with ``webhook_secret``. Updates fire it
too, as a trigger on "ticket updated" would: that is how the local stack shows our own updates do not loop.

Tests (and ``python -m infra.local`` users, from Python) inject faults into the next API requests:
``fail_next`` (5xx), ``throttle_next`` (429 with Retry-After), ``hang_next`` (no answer for longer than the
client's timeout), ``rotate_credentials`` (the old token gets 401 from now on). ``requests`` lists what came in.

Local-only machinery: it lives with the local stack and is never shipped to Lambda.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import logging
import re
import secrets
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from agent.taxonomy import load_taxonomy
from datalayer.secrets import SecretReader
from datalayer.settings import Settings

log = logging.getLogger("switchboard.ticketing")

LOOPBACK = "127.0.0.1"
PRIORITIES = frozenset({"urgent", "high", "normal", "low"})
SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
WEBHOOK_TIMEOUT_S = 5.0

_TICKET = re.compile(r"^/api/v2/tickets/(?P<id>[^/]+?)(?:\.json)?$")
_COMMENTS = re.compile(r"^/api/v2/tickets/(?P<id>[^/]+?)/comments(?:\.json)?$")
_TAGS = re.compile(r"^/api/v2/tickets/(?P<id>[^/]+?)/tags(?:\.json)?$")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's webhook signature: base64(HMAC-SHA256(secret, timestamp + body))."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def webhook_timestamp(moment: datetime | None = None) -> str:
    """The signature timestamp as Zendesk writes it: ISO 8601 in UTC, to the second, with a Z."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Fault:
    """What the next ``remaining`` API requests get instead of an answer."""

    remaining: int
    status: int = 503
    retry_after_s: int | None = None
    hang_s: float = 0.0


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    status: int


@dataclass(frozen=True)
class WebhookDelivery:
    ticket_id: str
    event: str
    """``created`` or ``updated``."""
    status: int | None
    """The receiver's HTTP status; None when it could not be reached."""


class LocalTicketingServer:
    """The server, its store and its fault switches; ``start()``/``stop()`` or a ``with`` block."""

    def __init__(
        self,
        *,
        email: str = "switchboard@example.test",
        auto_create: bool = True,
        comments_per_page: int = 100,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        port: int = 0,
    ) -> None:
        self.email = email
        self.api_token = secrets.token_urlsafe(16)
        self.auto_create = auto_create
        self.comments_per_page = comments_per_page
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret or secrets.token_urlsafe(24)
        self.delay_s = 0.0
        """Added to every API request, to play a ticketing system farther away than this machine (benchmarks)."""
        self.requests: list[Seen] = []
        self.webhooks: list[WebhookDelivery] = []
        self._port = port
        self._tickets: dict[str, dict[str, Any]] = {}
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(10_001)
        self._comment_ids = itertools.count(900_001)
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._webhook_threads: list[threading.Thread] = []
        self._webhooks = httpx.Client(timeout=WEBHOOK_TIMEOUT_S)
        """One client for every delivery: a client per webhook builds a TLS context each time (~20 ms of CPU)."""

    # -- life cycle ------------------------------------------------------------------------------------------

    def start(self) -> LocalTicketingServer:
        handler = type("Handler", (_Handler,), {"backend": self})
        self._httpd = ThreadingHTTPServer((LOOPBACK, self._port), handler)
        self._httpd.daemon_threads = True
        serve = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="ticketing-server", daemon=True
        )
        serve.start()
        log.info("local ticketing server on %s", self.url)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        for thread in self._webhook_threads:
            thread.join(timeout=WEBHOOK_TIMEOUT_S)
        self._webhooks.close()

    def __enter__(self) -> LocalTicketingServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def credentials(self) -> dict[str, str]:
        """The secret's JSON, as the adapter reads it from Secrets Manager."""
        return {"email": self.email, "api_token": self.api_token}

    # -- the store -------------------------------------------------------------------------------------------

    def seed(self, ticket_id: str, **fields: Any) -> dict[str, Any]:
        """Create (or replace) a ticket; ``fields`` override the defaults (``status="closed"``, say)."""
        with self._lock:
            self._tickets[ticket_id] = {**_new_ticket(ticket_id), **fields}
            return copy.deepcopy(self._tickets[ticket_id])

    def create_ticket(self, requester_id: str, subject: str, description: str, channel: str = "email") -> str:
        """A new ticket, as a customer's e-mail would create it; fires the ``created`` webhook."""
        ticket_id = str(next(self._ids))
        self.seed(ticket_id, requester_id=requester_id, subject=subject, description=description, channel=channel)
        self._fire_webhook(ticket_id, "created")
        return ticket_id

    def ticket(self, ticket_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._tickets.get(ticket_id)
            return copy.deepcopy(found) if found is not None else None

    def comments(self, ticket_id: str) -> list[dict[str, Any]]:
        ticket = self.ticket(ticket_id)
        return ticket["comments"] if ticket is not None else []

    # -- faults ----------------------------------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        self._add_fault(Fault(count, status=status))

    def throttle_next(self, count: int = 1, retry_after_s: int = 1) -> None:
        self._add_fault(Fault(count, status=429, retry_after_s=retry_after_s))

    def hang_next(self, count: int = 1, seconds: float = 5.0) -> None:
        """The next requests get no answer for ``seconds`` (then a 503 nobody reads any more)."""
        self._add_fault(Fault(count, status=503, hang_s=seconds))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def rotate_credentials(self, api_token: str | None = None) -> str:
        """A new API token (the old one gets 401 from now on); returns it."""
        with self._lock:
            self.api_token = api_token or secrets.token_urlsafe(16)
            return self.api_token

    def _add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self) -> Fault | None:
        with self._lock:
            while self._faults and self._faults[0].remaining <= 0:
                self._faults.pop(0)
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            return Fault(1, fault.status, fault.retry_after_s, fault.hang_s)

    # -- requests --------------------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any]:
        """One API request: faults first, then authentication, then the route."""
        parts = urlsplit(target)
        path, query = unquote(parts.path), parse_qs(parts.query)
        if self.delay_s:
            self._stopping.wait(self.delay_s)
        fault = self._take_fault()
        if fault is not None:
            if fault.hang_s:
                self._stopping.wait(fault.hang_s)
            extra = {"Retry-After": str(fault.retry_after_s)} if fault.retry_after_s is not None else {}
            return fault.status, extra, {"error": HTTPStatus(fault.status).phrase}
        if not self._authenticated(headers.get("Authorization", "")):
            return 401, {}, {"error": "Couldn't authenticate you"}
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return 400, {}, {"error": "InvalidJSON"}
        routes_by_path = (
            (_COMMENTS, {"GET": self._list_comments}),
            (_TAGS, {"GET": self._show_tags, "PUT": self._add_tags, "POST": self._set_tags}),
            (_TICKET, {"GET": self._show, "PUT": self._update}),
        )
        for pattern, routes in routes_by_path:
            match = pattern.match(path)
            if match:
                route = routes.get(method)
                if route is None:
                    return 405, {}, {"error": "MethodNotAllowed"}
                return route(match["id"], payload, query)
        return 404, {}, {"error": "InvalidEndpoint"}

    def saw(self, request: Seen) -> None:
        with self._lock:
            self.requests.append(request)

    def _authenticated(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, token = base64.b64decode(encoded, validate=True).decode().partition(":")
        except ValueError:
            return False
        with self._lock:
            expected_user, expected_token = f"{self.email}/token", self.api_token
        return hmac.compare_digest(user, expected_user) and hmac.compare_digest(token, expected_token)

    def _existing(self, ticket_id: str) -> dict[str, Any] | None:
        """The stored ticket (call with the lock held), created now if ``auto_create``."""
        if ticket_id not in self._tickets and self.auto_create:
            self._tickets[ticket_id] = _new_ticket(ticket_id)
        return self._tickets.get(ticket_id)

    def _show(self, ticket_id: str, _payload: Any, _query: Any) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            ticket = self._existing(ticket_id)
            if ticket is None:
                return _not_found()
            return 200, {}, {"ticket": _public(ticket)}

    def _update(self, ticket_id: str, payload: Any, _query: Any) -> tuple[int, dict[str, str], Any]:
        fields = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(fields, dict):
            return 400, {}, {"error": "InvalidParameter", "description": "A ticket object is required"}
        problems = _invalid_fields(fields)
        if problems:
            return 422, {}, {"error": "RecordInvalid", "description": "Record validation errors", "details": problems}
        with self._lock:
            ticket = self._existing(ticket_id)
            if ticket is None:
                return _not_found()
            if ticket["status"] == "closed":
                details = {"status": [{"description": "Status: closed prevents ticket update"}]}
                return 422, {}, {"error": "RecordInvalid", "description": "Record validation errors",
                                 "details": details}
            for name in ("group_id", "priority", "status", "subject"):
                if name in fields:
                    ticket[name] = fields[name]
            if "tags" in fields:
                ticket["tags"] = sorted(set(fields["tags"]))
            comment = fields.get("comment")
            if isinstance(comment, dict):
                ticket["comments"].append(
                    {
                        "id": next(self._comment_ids),
                        "type": "Comment",
                        "body": comment["body"],
                        "plain_body": comment["body"],
                        "public": comment.get("public", True),
                        "author_id": 1,
                        "created_at": webhook_timestamp(),
                    }
                )
            ticket["updated_at"] = webhook_timestamp()
            answer = {"ticket": _public(ticket), "audit": {"ticket_id": ticket_id, "events": []}}
        self._fire_webhook(ticket_id, "updated")
        return 200, {}, answer

    def _list_comments(
        self, ticket_id: str, _payload: Any, query: dict[str, list[str]]
    ) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            ticket = self._existing(ticket_id)
            if ticket is None:
                return _not_found()
            comments = copy.deepcopy(ticket["comments"])
        if query.get("sort_order", ["asc"])[0] == "desc":
            comments.reverse()
        try:
            per_page = max(1, min(100, int(query.get("per_page", [self.comments_per_page])[0])))
            page = max(1, int(query.get("page", ["1"])[0]))
        except ValueError:
            return 400, {}, {"error": "InvalidPaginationParameter"}
        shown = comments[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(comments)
        sort = query.get("sort_order", ["asc"])[0]
        next_page = (
            f"{self.url}/api/v2/tickets/{ticket_id}/comments?sort_order={sort}&page={page + 1}&per_page={per_page}"
            if more
            else None
        )
        return 200, {}, {"comments": shown, "next_page": next_page, "previous_page": None, "count": len(comments)}

    def _show_tags(self, ticket_id: str, _payload: Any, _query: Any) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            ticket = self._existing(ticket_id)
            return _not_found() if ticket is None else (200, {}, {"tags": list(ticket["tags"])})

    def _add_tags(self, ticket_id: str, payload: Any, _query: Any) -> tuple[int, dict[str, str], Any]:
        return self._write_tags(ticket_id, payload, replace=False)

    def _set_tags(self, ticket_id: str, payload: Any, _query: Any) -> tuple[int, dict[str, str], Any]:
        return self._write_tags(ticket_id, payload, replace=True)

    def _write_tags(self, ticket_id: str, payload: Any, *, replace: bool) -> tuple[int, dict[str, str], Any]:
        tags = payload.get("tags") if isinstance(payload, dict) else None
        if not (isinstance(tags, list) and all(isinstance(t, str) and t and " " not in t for t in tags)):
            return 400, {}, {"error": "InvalidParameter", "description": "tags must be a list of single words"}
        with self._lock:
            ticket = self._existing(ticket_id)
            if ticket is None:
                return _not_found()
            ticket["tags"] = sorted(set(tags) if replace else {*ticket["tags"], *tags})
            return 200, {}, {"tags": list(ticket["tags"])}

    # -- webhooks --------------------------------------------------------------------------------------------

    def _fire_webhook(self, ticket_id: str, event: str) -> None:
        """Deliver in the background, as Zendesk does: the API request that caused it does not wait."""
        if not self.webhook_url:
            return
        ticket = self.ticket(ticket_id)
        if ticket is None:
            return
        thread = threading.Thread(target=self._deliver, args=(ticket, event), name="ticketing-webhook", daemon=True)
        self._webhook_threads = [t for t in self._webhook_threads if t.is_alive()] + [thread]
        thread.start()

    def _deliver(self, ticket: dict[str, Any], event: str) -> None:
        body = json.dumps({"ticket": webhook_ticket(ticket)}).encode()
        timestamp = webhook_timestamp()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.webhook_secret, timestamp, body),
            TIMESTAMP_HEADER: timestamp,
        }
        status: int | None = None
        try:
            answer = self._webhooks.post(self.webhook_url or "", content=body, headers=headers)
            status = answer.status_code
        except httpx.HTTPError as error:
            log.warning("webhook for ticket %s not delivered: %s", ticket["id"], error)
        with self._lock:
            self.webhooks.append(WebhookDelivery(str(ticket["id"]), event, status))


def webhook_ticket(ticket: dict[str, Any]) -> dict[str, Any]:
    """The webhook's ticket object (the README's trigger template produces the same JSON in Zendesk)."""
    return {
        "id": ticket["id"],
        "requester_id": ticket.get("requester_id"),
        "subject": ticket.get("subject", ""),
        "description": ticket.get("description", ""),
        "created_at": ticket.get("created_at"),
        "via": {"channel": ticket.get("channel", "web")},
    }


def _new_ticket(ticket_id: str) -> dict[str, Any]:
    now = webhook_timestamp()
    return {
        "id": int(ticket_id) if ticket_id.isdigit() else ticket_id,
        "subject": "",
        "description": "",
        "requester_id": None,
        "channel": "web",
        "group_id": None,
        "priority": None,
        "status": "open",
        "tags": [],
        "comments": [],
        "created_at": now,
        "updated_at": now,
    }


def _public(ticket: dict[str, Any]) -> dict[str, Any]:
    """A ticket as the API shows it (comments are a resource of their own)."""
    shown = {key: value for key, value in ticket.items() if key not in ("comments", "channel")}
    return {**copy.deepcopy(shown), "via": {"channel": ticket.get("channel", "web")}}


def _invalid_fields(fields: dict[str, Any]) -> dict[str, Any]:
    problems: dict[str, Any] = {}
    if "priority" in fields and fields["priority"] not in PRIORITIES:
        problems["priority"] = [{"description": f"Priority: {fields['priority']!r} is not valid"}]
    if "group_id" in fields and not isinstance(fields["group_id"], int):
        problems["group_id"] = [{"description": "Group: must be a number"}]
    comment = fields.get("comment")
    if comment is not None and not (isinstance(comment, dict) and isinstance(comment.get("body"), str)):
        problems["comment"] = [{"description": "Comment: body is required"}]
    return problems


def _not_found() -> tuple[int, dict[str, str], Any]:
    return 404, {}, {"error": "RecordNotFound", "description": "Not found"}


class _Handler(BaseHTTPRequestHandler):
    backend: LocalTicketingServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """Headers and body go out in two writes; with Nagle's algorithm the body waits for the client's delayed ACK
    of the headers (40 ms on Linux) on every kept-alive request."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, answer = self.backend.handle(method, self.path, self.headers, body)
        self.backend.saw(Seen(method, urlsplit(self.path).path, status))
        content = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(content)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a hang fault)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def local_groups(teams: list[str]) -> dict[str, int]:
    """Team → group id for the local server (any ids will do: it stores what it is sent)."""
    return {team: 360_000_000_001 + number for number, team in enumerate(teams)}


def start_local_ticketing(running: ExitStack, settings: Settings) -> tuple[LocalTicketingServer, Settings]:
    """For ``infra.local``: the server (stopped with ``running``), its credentials in the stage's secret (moto's
    Secrets Manager), and ``settings`` pointing the sync worker and the webhook at it."""
    server = LocalTicketingServer().start()
    running.callback(server.stop)
    SecretReader(settings).put(settings.ticketing_secret, server.credentials)
    groups = settings.ticketing_groups or local_groups(load_taxonomy().team_names)
    configured = settings.derive(
        ticketing_base_url=server.url, ticketing_groups=groups, ticketing_webhook_secret=server.webhook_secret
    )
    return server, configured
