"""Emptying a dead-letter queue without ever losing a message: receive, hand over, and only then delete.

Redrive and purge are the same loop with a different hand-over (the variation point, ``Handover``): send to the
source queue or put on the bus (``ops.redrive``), or write to an archive (``ops.archive``). Batch by batch (up to
ten messages, as SQS receives them):

1. receive, holding the messages for ``QueueReader.hold_s``;
2. keep those the ``Selection`` picks; hold the others until the end, so the next receive returns new ones;
3. wait for the rate limit (``TokenBucket``), then hand the batch over;
4. delete from the DLQ exactly the messages the hand-over accepted.

Killed at any point, nothing is lost: before 4 every message is still in the DLQ (visible again when its hold runs
out) and the next run takes it again. Killed between 3 and 4, a message exists twice, in the DLQ and where it was
handed over, and the next run hands it over a second time. The workers are idempotent (one decision, one
TicketRouted, one sync per ticket however often its message arrives) and the archive keeps every copy, so a
second copy costs a duplicate delivery, never a second decision or a lost letter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from datalayer.clock import Clock, utc_now
from ops.dead_letters import EVERYTHING, DeadLetter, QueueReader, Selection, TicketReasons


@dataclass(frozen=True)
class Handed:
    """What a hand-over did with a batch: the message ids it accepted, and why it refused the others."""

    accepted: frozenset[str]
    refused: dict[str, str] = field(default_factory=dict)


class Handover(Protocol):
    """Where drained dead letters go. Must raise, or leave a message out of ``accepted``, unless it is safely there."""

    def hand_over(self, letters: Sequence[DeadLetter]) -> Handed: ...


class TokenBucket:
    """At most ``rate`` messages per second on average, bursts of up to one second's worth; time is injected."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.clock = clock
        self.sleep = sleep
        self._tokens = self.capacity
        self._last = clock()

    def acquire(self, count: int = 1) -> None:
        """Wait until ``count`` messages may go (``count`` may exceed one burst: it then waits longer)."""
        self._refill(self.capacity)
        if self._tokens < count:
            self.sleep((count - self._tokens) / self.rate)
            self._refill(float(count))
        self._tokens -= count

    def _refill(self, cap: float) -> None:
        now = self.clock()
        self._tokens = min(cap, self._tokens + (now - self._last) * self.rate)
        self._last = now


@dataclass
class DrainReport:
    """Counts so far; kept up to date while the drain runs, so an interrupted run can still say what it did."""

    examined: int = 0
    selected: int = 0
    handed_over: int = 0
    """Accepted by the hand-over and deleted from the DLQ."""
    not_deleted: int = 0
    """Accepted by the hand-over but not deleted (they come back after the hold: a duplicate next run)."""
    refused: dict[str, str] = field(default_factory=dict)
    """Message id → why the hand-over refused it (it stays in the DLQ, given back at the end of the run)."""
    started: datetime | None = None
    finished: datetime | None = None

    @property
    def left_alone(self) -> int:
        """Examined but not selected by the filters (or beyond ``limit``)."""
        return self.examined - self.selected

    @property
    def seconds(self) -> float:
        if self.started is None or self.finished is None:
            return 0.0
        return (self.finished - self.started).total_seconds()


class Drain:
    """One run of receive → hand over → delete over one DLQ."""

    def __init__(
        self,
        reader: QueueReader,
        handover: Handover,
        *,
        selection: Selection = EVERYTHING,
        reasons: TicketReasons | None = None,
        bucket: TokenBucket | None = None,
        limit: int | None = None,
        clock: Clock = utc_now,
        on_progress: Callable[[DrainReport], None] = lambda _report: None,
    ) -> None:
        """``reasons`` is needed when the selection filters on the error text (a mute message's reason is on its
        ticket); ``limit`` stops after that many hand-overs."""
        self.reader = reader
        self.handover = handover
        self.selection = selection
        self.reasons = reasons
        self.bucket = bucket
        self.limit = limit
        self.clock = clock
        self.on_progress = on_progress
        self.report = DrainReport()

    @property
    def batch_size(self) -> int:
        """Ten (SQS's maximum); under a rate limit below ten per second, one second's worth, so that a received
        batch never waits long in its hold."""
        return 10 if self.bucket is None else max(1, min(10, int(self.bucket.rate)))

    def run(self) -> DrainReport:
        report = self.report
        report.started = self.clock()
        held: list[DeadLetter] = []
        try:
            for batch in self.reader.batches(self.batch_size):
                report.examined += len(batch)
                chosen, others = self._choose(batch)
                held += others
                if chosen:
                    held += self._move(chosen)
                self.on_progress(report)
                if self.limit is not None and report.selected >= self.limit:
                    break
        finally:
            report.finished = self.clock()
            self.reader.release(held)
        return report

    def _choose(self, batch: list[DeadLetter]) -> tuple[list[DeadLetter], list[DeadLetter]]:
        if self.selection.needs_reasons and self.reasons is not None:
            batch = self.reasons.fill(batch)
        now = self.clock()
        chosen = [letter for letter in batch if self.selection.matches(letter, now)]
        if self.limit is not None:
            chosen = chosen[: max(0, self.limit - self.report.selected)]
        taken = {letter.message_id for letter in chosen}
        return chosen, [letter for letter in batch if letter.message_id not in taken]

    def _move(self, chosen: list[DeadLetter]) -> list[DeadLetter]:
        """Hand over, then delete what was accepted; returns the refused letters (still held)."""
        report = self.report
        report.selected += len(chosen)
        if self.bucket is not None:
            self.bucket.acquire(len(chosen))
        handed = self.handover.hand_over(chosen)
        report.refused.update(handed.refused)
        accepted = [letter for letter in chosen if letter.message_id in handed.accepted]
        not_deleted = self.reader.delete(accepted)
        report.handed_over += len(accepted) - len(not_deleted)
        report.not_deleted += len(not_deleted)
        return [letter for letter in chosen if letter.message_id not in handed.accepted]
