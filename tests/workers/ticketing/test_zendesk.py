"""The Zendesk adapter against the local ticketing server: what it writes, and each failure as its error class."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from datalayer.secrets import SecretReader
from datalayer.types import PriorityLevel
from infra.ticketing_server import LocalTicketingServer
from tests.factories import make_decision
from tests.support import Aws
from tests.workers.ticketing.conftest import CLIENT_TIMEOUT_S, GROUPS
from workers.ticketing.base import (
    DecisionUpdate,
    TicketingAuthError,
    TicketingRejectedError,
    TicketingThrottledError,
    TicketingUnavailableError,
    TicketNotFoundError,
)
from workers.ticketing.zendesk import ZendeskTicketing, tags_for

DECIDED_AT = datetime(2026, 11, 25, 15, 0, 1, tzinfo=UTC)


def update(ticket_id: str = "4711", *, team: str = "Billing Support", review: bool = False) -> DecisionUpdate:
    """The update of one stored decision: built twice, it is the same update (same marker)."""
    decision = make_decision(
        ticket_id, team=team, category="Billing Dispute", priority=PriorityLevel.P1, requires_manual_review=review
    ).model_copy(update={"decided_at": DECIDED_AT})
    return DecisionUpdate.of(ticket_id, decision)


def api_calls(server: LocalTicketingServer) -> list[tuple[str, str, int]]:
    return [(seen.method, seen.path, seen.status) for seen in server.requests]


def test_a_decision_sets_group_priority_tags_and_one_private_comment(
    server: LocalTicketingServer, zendesk: ZendeskTicketing
) -> None:
    server.seed("4711", tags=["vip-line"])
    decided = update(review=True)

    zendesk.apply(decided)

    ticket = server.ticket("4711")
    assert ticket is not None
    assert (ticket["group_id"], ticket["priority"]) == (GROUPS["Billing Support"], "high")
    assert ticket["tags"] == sorted(
        ["vip-line", "switchboard", "switchboard-team-billing-support", "switchboard-p1", "switchboard-review"]
    )  # added to the ticket's own tags, not replacing them
    [comment] = ticket["comments"]
    assert comment["public"] is False and decided.marker in comment["body"] and comment["body"] == decided.note
    assert api_calls(server) == [
        ("GET", "/api/v2/tickets/4711/comments", 200),
        ("PUT", "/api/v2/tickets/4711", 200),
        ("PUT", "/api/v2/tickets/4711/tags", 200),
    ]


def test_applying_again_changes_nothing_and_adds_no_second_comment(
    server: LocalTicketingServer, zendesk: ZendeskTicketing
) -> None:
    zendesk.apply(update())
    before = server.ticket("4711")

    zendesk.apply(update())

    after = server.ticket("4711")
    assert before is not None and after is not None
    assert len(after["comments"]) == 1
    del before["updated_at"], after["updated_at"]
    assert after == before


def test_the_marker_is_found_on_a_later_page_of_comments(
    server: LocalTicketingServer, zendesk: ZendeskTicketing
) -> None:
    zendesk.apply(update())  # our comment first: the oldest one
    server.comments_per_page = 2
    replies = [{"id": number, "body": f"reply {number}", "public": True} for number in range(5)]
    server.seed("4711", comments=[*server.comments("4711"), *replies])  # the customer and agents wrote five more

    zendesk.apply(update())

    assert len(server.comments("4711")) == 6
    pages = [path for method, path, _ in api_calls(server) if method == "GET"]
    assert len(pages) == 1 + 3  # the first apply's, then three pages of two, newest first


def test_a_ticket_zendesk_does_not_have_is_not_found_and_nothing_is_written(
    server: LocalTicketingServer, zendesk: ZendeskTicketing
) -> None:
    server.auto_create = False

    with pytest.raises(TicketNotFoundError, match="HTTP 404"):
        zendesk.apply(update())
    assert [method for method, _, _ in api_calls(server)] == ["GET"]


def test_a_closed_ticket_rejects_the_update_with_zendesks_reason(
    server: LocalTicketingServer, zendesk: ZendeskTicketing
) -> None:
    server.seed("4711", status="closed")

    with pytest.raises(TicketingRejectedError, match="HTTP 422: RecordInvalid") as raised:
        zendesk.apply(update())
    assert not isinstance(raised.value, TicketNotFoundError)


def test_a_team_without_a_group_is_rejected_before_any_request(
    server: LocalTicketingServer, zendesk: ZendeskTicketing
) -> None:
    with pytest.raises(TicketingRejectedError, match="no Zendesk group for team 'Field Services'"):
        zendesk.apply(update(team="Field Services"))
    assert server.requests == []


@pytest.mark.parametrize("status", [500, 502, 503, 409])
def test_server_errors_and_conflicts_are_worth_retrying(
    server: LocalTicketingServer, zendesk: ZendeskTicketing, status: int
) -> None:
    server.fail_next(1, status=status)

    with pytest.raises(TicketingUnavailableError, match=f"HTTP {status}") as raised:
        zendesk.apply(update())
    assert not isinstance(raised.value, TicketingThrottledError)
    zendesk.apply(update())  # the next try goes through
    assert len(server.comments("4711")) == 1


def test_throttling_carries_the_servers_retry_after(server: LocalTicketingServer, zendesk: ZendeskTicketing) -> None:
    server.throttle_next(1, retry_after_s=7)

    with pytest.raises(TicketingThrottledError) as raised:
        zendesk.apply(update())
    assert raised.value.retry_after_s == 7


def test_a_server_that_hangs_is_given_up_on_after_the_timeout(
    server: LocalTicketingServer, zendesk: ZendeskTicketing
) -> None:
    server.hang_next(1, seconds=5)
    started = time.monotonic()

    with pytest.raises(TicketingUnavailableError, match="timed out"):
        zendesk.apply(update())
    assert time.monotonic() - started < CLIENT_TIMEOUT_S + 1


def test_a_server_that_is_not_there_is_unavailable(aws: Aws, secrets: SecretReader) -> None:
    with LocalTicketingServer() as gone:
        url = gone.url
    adapter = ZendeskTicketing(url, secrets, aws.settings.ticketing_secret, GROUPS, timeout_s=CLIENT_TIMEOUT_S)

    with pytest.raises(TicketingUnavailableError, match="ConnectError"):
        adapter.apply(update())


def test_rotated_credentials_are_read_again_from_the_secret_once(
    aws: Aws, server: LocalTicketingServer, zendesk: ZendeskTicketing
) -> None:
    zendesk.apply(update("1"))  # the adapter has read and cached the secret
    new_token = server.rotate_credentials()
    SecretReader(aws.settings).put(aws.settings.ticketing_secret, {**server.credentials, "api_token": new_token})
    server.requests.clear()

    zendesk.apply(update("2"))

    assert api_calls(server)[:2] == [
        ("GET", "/api/v2/tickets/2/comments", 401),
        ("GET", "/api/v2/tickets/2/comments", 200),
    ]
    assert len(server.comments("2")) == 1


def test_credentials_refused_after_reading_them_again_are_an_auth_error(
    server: LocalTicketingServer, zendesk: ZendeskTicketing
) -> None:
    server.rotate_credentials()  # and nobody updated the secret

    with pytest.raises(TicketingAuthError, match="401"):
        zendesk.apply(update())
    assert [status for _, _, status in api_calls(server)] == [401, 401]


def test_a_secret_without_the_token_is_an_auth_error(aws: Aws, server: LocalTicketingServer) -> None:
    reader = SecretReader(aws.settings)
    reader.put("broken", {"email": "a@example.test"})
    adapter = ZendeskTicketing(server.url, reader, "broken", GROUPS, timeout_s=CLIENT_TIMEOUT_S)

    with pytest.raises(TicketingAuthError, match="lacks email or api_token"):
        adapter.apply(update())
    with pytest.raises(TicketingAuthError, match="unreadable"):
        ZendeskTicketing(server.url, reader, "missing", GROUPS, timeout_s=CLIENT_TIMEOUT_S).apply(update())


def test_plain_http_is_refused_except_to_this_machine(secrets: SecretReader) -> None:
    with pytest.raises(ValueError, match="https"):
        ZendeskTicketing("http://acme.zendesk.com", secrets, "s", GROUPS, timeout_s=1)
    ZendeskTicketing("https://acme.zendesk.com", secrets, "s", GROUPS, timeout_s=1).close()


def test_the_server_speaks_zendesks_json_suffixed_paths_too(server: LocalTicketingServer) -> None:
    auth = httpx.BasicAuth(f"{server.email}/token", server.api_token)
    shown = httpx.get(f"{server.url}/api/v2/tickets/77.json", auth=auth)
    assert shown.status_code == 200 and shown.json()["ticket"]["id"] == 77


def test_tags_are_single_words() -> None:
    assert tags_for(update(team="Network Operations")) == [
        "switchboard",
        "switchboard-team-network-operations",
        "switchboard-p1",
    ]
