"""The event contract: what a queue record must be for a consumer to act on it."""

from __future__ import annotations

import json

import pytest

from datalayer.events import (
    TICKET_RECEIVED,
    TICKET_ROUTED,
    EventFormatError,
    TicketReceivedDetail,
    TicketRoutedDetail,
    parse_envelope,
)
from datalayer.types import Ticket
from tests.factories import make_decision
from tests.support import ticket_payload


def envelope(detail_type: str, detail: object) -> str:
    return json.dumps({"version": "0", "source": "switchboard.tickets", "detail-type": detail_type, "detail": detail})


def test_a_ticket_received_envelope_yields_its_ticket() -> None:
    ticket = Ticket.model_validate(ticket_payload("TCK-1"))
    detail = parse_envelope(envelope(TICKET_RECEIVED, {"ticket": ticket.model_dump(mode="json")}), TicketReceivedDetail)
    assert detail.ticket == ticket


def test_details_are_named_after_their_events() -> None:
    assert (TicketReceivedDetail.DETAIL_TYPE, TicketRoutedDetail.DETAIL_TYPE) == (TICKET_RECEIVED, TICKET_ROUTED)
    routed = TicketRoutedDetail.of("TCK-1", make_decision("TCK-1"), "routed")
    assert parse_envelope(envelope(TICKET_ROUTED, routed.model_dump(mode="json")), TicketRoutedDetail) == routed


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not an EventBridge event"),
        ('["a", "list"]', "not an EventBridge event"),
        (envelope(TICKET_ROUTED, {}), "unexpected detail-type 'TicketRouted'"),
        (envelope(TICKET_RECEIVED, {"ticket": {"ticket_id": "T-1"}, "extra": 1}), "invalid TicketReceived detail"),
    ],
)
def test_anything_else_is_a_format_error(body: str, reason: str) -> None:
    with pytest.raises(EventFormatError, match=reason):
        parse_envelope(body, TicketReceivedDetail)


def test_a_format_error_keeps_the_ticket_id_when_one_is_readable() -> None:
    body = envelope(TICKET_RECEIVED, {"ticket": {"ticket_id": "T-9", "customer_id": ""}})
    with pytest.raises(EventFormatError) as caught:
        parse_envelope(body, TicketReceivedDetail)
    assert caught.value.ticket_id == "T-9"
