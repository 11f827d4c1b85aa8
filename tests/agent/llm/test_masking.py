"""Personal data becomes placeholders, the same value the same placeholder, within one ticket."""

from __future__ import annotations

from agent.entities import extract_entities
from agent.llm.masking import Masker
from tests.agent.llm.support import ACCOUNT, ADDRESS, EMAIL, PHONE, ticket


def test_each_kind_gets_its_placeholder() -> None:
    text = f"Call {PHONE}, mail {EMAIL}, account #{ACCOUNT}, at {ADDRESS}. Error RDK-03003, $40, https://x.example"
    masked = Masker().text(text)
    assert masked == (
        "Call [PHONE-1], mail [EMAIL-1], account #[ACCOUNT-1], at [ADDRESS-1]. Error RDK-03003, $40, https://x.example"
    )


def test_the_same_value_keeps_its_placeholder_across_texts() -> None:
    masker = Masker()
    first = masker.text(f"call {PHONE} or 555-123-4567")
    second = masker.text("my cell is 617.555.0142")  # the same number written differently
    assert first == "call [PHONE-1] or [PHONE-2]"
    assert second == "my cell is [PHONE-1]"


def test_a_new_ticket_starts_numbering_again() -> None:
    assert Masker().text("call 555-123-4567") == Masker().text(f"call {PHONE}") == "call [PHONE-1]"


def test_entities_are_masked_with_the_placeholders_of_the_text() -> None:
    masker = Masker()
    the_ticket = ticket()
    text = masker.text(the_ticket.text)
    entities = masker.entities(extract_entities(the_ticket.text))
    assert entities.phone_numbers == ["[PHONE-1]"] and "[PHONE-1]" in text
    assert entities.emails == ["[EMAIL-1]"] and entities.account_numbers == ["[ACCOUNT-1]"]
    assert entities.street_addresses == ["[ADDRESS-1]"]
    assert entities.error_codes == ["RDK-03003"]  # not personal data
    assert [m.text for m in entities.money_amounts] == ["$40"]


def test_masking_off_changes_nothing() -> None:
    masker = Masker(enabled=False)
    text = ticket().text
    entities = extract_entities(text)
    assert masker.text(text) == text
    assert masker.entities(entities) == entities


def test_text_without_personal_data_is_unchanged() -> None:
    text = "The modem shows error RDK-03003 since Monday."
    assert Masker().text(text) == text
    assert Masker().text("") == ""
