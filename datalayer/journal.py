"""An intake journal: every accepted ticket on disk before it is stored, for a store that can lose its memory.

DynamoDB does not forget; the local stack's embedded moto does, when it crashes or the stack stops. With
``Settings.intake_journal`` set (the local stack sets it; deployed stages never do), the API stores tickets through
``JournalingTicketStore``, which appends each ticket to the journal and flushes it to disk *before* storing it,
so before the client hears 202. Replaying the journal through the idempotent ingestion path brings back every
accepted ticket (``infra.persistence``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from threading import Lock
from typing import Any

from datalayer.records import TicketRecord
from datalayer.settings import Settings
from datalayer.tickets import TicketStore
from datalayer.types import Ticket


class IntakeJournal:
    """Append-only JSON lines; safe to append from several threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = Lock()

    def append(self, ticket: Ticket, correlation_id: str | None) -> None:
        line = json.dumps({"ticket": ticket.model_dump(mode="json"), "correlation_id": correlation_id})
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())

    def entries(self) -> Iterator[tuple[Ticket, str | None]]:
        """Every journaled ticket, oldest first (a line cut short by a crash is skipped)."""
        if not self.path.exists():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                yield Ticket.model_validate(entry["ticket"]), entry.get("correlation_id")
            except (ValueError, KeyError):
                continue


class JournalingTicketStore(TicketStore):
    """The API's ticket store when the tickets table can forget: journals a ticket before storing it."""

    def __init__(self, settings: Settings, journal: IntakeJournal, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self._journal = journal

    def create_if_absent(self, ticket: Ticket, correlation_id: str | None = None) -> tuple[TicketRecord, bool]:
        self._journal.append(ticket, correlation_id)
        return super().create_if_absent(ticket, correlation_id)


def ticket_store(settings: Settings) -> TicketStore:
    """The API's ticket store for ``settings``: journaling when an intake journal is configured."""
    if settings.intake_journal:
        return JournalingTicketStore(settings, IntakeJournal(Path(settings.intake_journal)))
    return TicketStore(settings)
