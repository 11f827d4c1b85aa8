"""Personal data out of everything the model reads: account and phone numbers, e-mail and street addresses.

The model provider is outside our network, so what the entity extractor finds of these four kinds is replaced
by placeholders (``[ACCOUNT-1]``, ``[PHONE-1]``, ``[EMAIL-1]``, ``[ADDRESS-1]``) in the ticket text, in the
entities listed for the model, in past tickets' subjects and in the tools' answers. One ``Masker`` serves one
ticket: the same value gets the same placeholder wherever it appears, so the model can still tell that the
number in the subject is the one in the description. ``Settings.agent_mask_pii=False`` (a self-hosted endpoint
inside our network) turns it off.

Masking finds what the extractor finds, with the same patterns (``agent.entities.locate_entities``): account
numbers only after a keyword, phone numbers in the shapes it knows, US street addresses with a street-type word.
A masked text is the text as the extractor read it (NFKC-folded, invisible characters removed).
"""

from __future__ import annotations

from agent.entities import EntityField, locate_entities
from datalayer.types import ExtractedEntities

PLACEHOLDER_LABELS: dict[EntityField, str] = {
    "account_numbers": "ACCOUNT",
    "phone_numbers": "PHONE",
    "emails": "EMAIL",
    "street_addresses": "ADDRESS",
}
"""The entity fields that are personal data, and the word of their placeholders."""


class Masker:
    """Replaces personal data by numbered placeholders, consistently within one ticket."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._placeholders: dict[tuple[EntityField, str], str] = {}
        self._counts: dict[EntityField, int] = {}

    def text(self, text: str) -> str:
        """``text`` with every account number, phone number, e-mail and street address replaced."""
        if not self.enabled or not text:
            return text
        read, spans = locate_entities(text)
        parts: list[str] = []
        last = 0
        for span in spans:
            if span.field in PLACEHOLDER_LABELS:
                parts.append(read[last : span.start])
                parts.append(self.placeholder(span.field, span.value))
                last = span.end
        parts.append(read[last:])
        return "".join(parts)

    def entities(self, entities: ExtractedEntities) -> ExtractedEntities:
        """The same entities with the personal ones replaced by the placeholders used in the text."""
        if not self.enabled:
            return entities
        masked = {
            name: [self.placeholder(name, value) for value in getattr(entities, name)] for name in PLACEHOLDER_LABELS
        }
        return entities.model_copy(update=masked)

    def placeholder(self, field: EntityField, value: str) -> str:
        """The placeholder of ``value`` (an extractor-normalised value of ``field``), numbered on first sight."""
        key = (field, value)
        if key not in self._placeholders:
            self._counts[field] = self._counts.get(field, 0) + 1
            self._placeholders[key] = f"[{PLACEHOLDER_LABELS[field]}-{self._counts[field]}]"
        return self._placeholders[key]
