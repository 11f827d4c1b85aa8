"""The reference adapter: final decisions written to Zendesk Support through its REST API (httpx).

One ``apply`` is at most three requests, in this order:

1. ``GET /api/v2/tickets/{id}/comments?sort_order=desc`` (following ``next_page``): is the decision's marker
   already in a comment? Then the comment was added by an earlier delivery that died before we recorded it.
2. ``PUT /api/v2/tickets/{id}`` with ``{"ticket": {"group_id", "priority", "comment": {"body", "public": false}}}``
   (the comment only when step 1 did not find it): assignment, priority and the private note in one audit.
3. ``PUT /api/v2/tickets/{id}/tags`` with ``{"tags": [...]}``, which adds tags; a ``tags`` field in step 2 would
   replace the ticket's tags instead.

Steps 2 and 3 set values, so repeating them changes nothing; step 1 makes the comment appear once. A crash
between any two steps is repaired by the redelivery, which runs all three again.

Authentication is HTTP basic with ``{email}/token`` and the API token, both read from the Secrets Manager secret
``settings.ticketing_secret`` (JSON ``{"email": ..., "api_token": ...}``). A 401 re-reads the secret once and
repeats the request (the token was rotated); a second 401 is a ``TicketingAuthError``. Every request has
``settings.ticketing_timeout_s`` as its connect, read and write timeout, and TLS certificates are verified; plain
HTTP is refused except to this machine (the local stack's stand-in, ``infra.ticketing_server``).

Statuses: 2xx done; 404 ``TicketNotFoundError``; 400, 403, 422 and other 4xx ``TicketingRejectedError`` (a closed
ticket, an unknown group); 409 and 5xx ``TicketingUnavailableError``; 429 ``TicketingThrottledError`` with its
Retry-After seconds (a 503 with Retry-After too).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import httpx

from datalayer.secrets import SecretError
from datalayer.settings import Settings
from datalayer.types import PriorityLevel
from workers.ticketing.base import (
    DecisionUpdate,
    TicketingAuthError,
    TicketingRejectedError,
    TicketingThrottledError,
    TicketingUnavailableError,
    TicketNotFoundError,
)

PRIORITIES: Mapping[PriorityLevel, str] = {
    PriorityLevel.P0: "urgent",
    PriorityLevel.P1: "high",
    PriorityLevel.P2: "normal",
    PriorityLevel.P3: "low",
}
TAG_PREFIX = "switchboard"
MAX_COMMENT_PAGES = 20
"""Pages of 100 comments searched for the marker, newest first: a ticket with more is not a support ticket."""
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Secrets(Protocol):
    """``datalayer.secrets.SecretReader``."""

    def get(self, name: str) -> dict[str, Any]: ...

    def refresh(self, name: str) -> dict[str, Any]: ...


def tags_for(update: DecisionUpdate) -> list[str]:
    """``switchboard``, ``switchboard-team-billing-support``, ``switchboard-p2`` and ``switchboard-review``."""
    tags = [TAG_PREFIX, f"{TAG_PREFIX}-team-{_slug(update.team)}", f"{TAG_PREFIX}-{update.priority.value.lower()}"]
    if update.manual_review:
        tags.append(f"{TAG_PREFIX}-review")
    return tags


def _slug(text: str) -> str:
    """Zendesk tags are single words: lower case, runs of anything else become one hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


class ZendeskTicketing:
    """``TicketingSystem`` for Zendesk Support; one instance per worker (it keeps its connections open)."""

    def __init__(
        self,
        base_url: str,
        secrets: Secrets,
        secret_name: str,
        groups: Mapping[str, int],
        *,
        timeout_s: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``transport`` replaces httpx's network transport (tests wrap it to inject faults)."""
        parts = urlsplit(base_url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS):
            raise ValueError(f"the ticketing system must be reached over https, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._secrets = secrets
        self._secret_name = secret_name
        self._groups = dict(groups)
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s),
            verify=True,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "switchboard-sync"},
            follow_redirects=False,
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, secrets: Secrets, *, transport: httpx.BaseTransport | None = None
    ) -> ZendeskTicketing:
        if not settings.ticketing_base_url:
            raise ValueError("ticketing_base_url is not set")
        return cls(
            settings.ticketing_base_url,
            secrets,
            settings.ticketing_secret,
            settings.ticketing_groups,
            timeout_s=settings.ticketing_timeout_s,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    # -- the interface -------------------------------------------------------------------------------------------

    def apply(self, update: DecisionUpdate) -> None:
        group_id = self._groups.get(update.team)
        if group_id is None:
            raise TicketingRejectedError(
                f"no Zendesk group for team {update.team!r}: add it to SWITCHBOARD_TICKETING_GROUPS, then redrive"
            )
        ticket_path = f"/api/v2/tickets/{quote(update.ticket_id, safe='')}"
        fields: dict[str, Any] = {"group_id": group_id, "priority": PRIORITIES[update.priority]}
        if not self._has_comment(ticket_path, update.marker):
            fields["comment"] = {"body": update.note, "public": False}
        self._send("PUT", ticket_path, {"ticket": fields})
        self._send("PUT", f"{ticket_path}/tags", {"tags": tags_for(update)})

    def _has_comment(self, ticket_path: str, marker: str) -> bool:
        return any(marker in text for text in self._comment_texts(ticket_path))

    def _comment_texts(self, ticket_path: str) -> Iterator[str]:
        """Every comment's text, newest first, page by page (only pages on our own Zendesk are followed)."""
        url: str | None = f"{ticket_path}/comments?sort_order=desc"
        for _ in range(MAX_COMMENT_PAGES):
            if url is None:
                return
            page = self._send("GET", url, None)
            comments = page.get("comments")
            if not isinstance(comments, list):
                raise TicketingUnavailableError(f"GET {ticket_path}/comments: no comments list in the answer")
            for comment in comments:
                if isinstance(comment, dict):
                    yield from (str(comment[key]) for key in ("body", "plain_body") if comment.get(key))
            next_page = page.get("next_page")
            url = next_page if isinstance(next_page, str) and next_page.startswith(self.base_url + "/") else None
        raise TicketingRejectedError(f"{ticket_path} has more than {MAX_COMMENT_PAGES} pages of comments")

    # -- one request ---------------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        """One request, with the credentials re-read and the request repeated once on 401."""
        response = self._request(method, url, body, fresh_credentials=False)
        if response.status_code == 401:
            response = self._request(method, url, body, fresh_credentials=True)
            if response.status_code == 401:
                raise TicketingAuthError(f"{method} {_path(url)}: 401 with the credentials just read from the secret")
        _raise_for_status(method, url, response)
        try:
            answer = response.json() if response.content else {}
        except ValueError as exc:
            raise TicketingUnavailableError(f"{method} {_path(url)}: the answer is not JSON") from exc
        return answer if isinstance(answer, dict) else {}

    def _request(
        self, method: str, url: str, body: Mapping[str, Any] | None, *, fresh_credentials: bool
    ) -> httpx.Response:
        try:
            return self._client.request(method, url, json=body, auth=self._credentials(fresh_credentials))
        except httpx.TimeoutException as exc:
            raise TicketingUnavailableError(f"{method} {_path(url)}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise TicketingUnavailableError(f"{method} {_path(url)}: {type(exc).__name__}: {exc}") from exc

    def _credentials(self, fresh: bool) -> httpx.BasicAuth:
        try:
            secret = self._secrets.refresh(self._secret_name) if fresh else self._secrets.get(self._secret_name)
        except SecretError as exc:
            raise TicketingAuthError(str(exc)) from exc
        email, token = secret.get("email"), secret.get("api_token")
        if not (isinstance(email, str) and email and isinstance(token, str) and token):
            raise TicketingAuthError(f"secret {self._secret_name} lacks email or api_token")
        return httpx.BasicAuth(f"{email}/token", token)


def _raise_for_status(method: str, url: str, response: httpx.Response) -> None:
    status = response.status_code
    if status < 300:
        return
    what = f"{method} {_path(url)}: HTTP {status}"
    if status == 429 or (status == 503 and "retry-after" in response.headers):
        raise TicketingThrottledError(what, _retry_after_s(response))
    if status == 409 or status >= 500:
        raise TicketingUnavailableError(what)
    if status == 404:
        raise TicketNotFoundError(f"{what}: Zendesk has no such ticket")
    detail = _error_detail(response)
    raise TicketingRejectedError(f"{what}{': ' + detail if detail else ''}")


def _retry_after_s(response: httpx.Response) -> float | None:
    """Zendesk sends whole seconds; anything else (an HTTP date, garbage) leaves the wait to the backoff."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _error_detail(response: httpx.Response) -> str:
    """Zendesk's ``error`` and ``description`` (never the request body we sent)."""
    try:
        answer = response.json()
    except ValueError:
        return ""
    if not isinstance(answer, dict):
        return ""
    parts = [answer.get("error"), answer.get("description")]
    return " ".join(str(part) for part in parts if isinstance(part, str) and part)[:300]


def _path(url: str) -> str:
    """The path alone for messages: no query string, no host."""
    return urlsplit(url).path
