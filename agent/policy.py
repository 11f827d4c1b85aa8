"""When is the fast router sure enough to decide alone? Per-channel thresholds, fitted on out-of-fold predictions.

The classifier's confidence is calibrated on average, but a routing policy needs something sharper: the share of
tickets it may decide alone while staying at, say, 97 % accuracy on that share. ``agent.train`` fits, on
predictions for training tickets made by models that did not see them (out of fold, through the same cascade as
production), a confidence threshold, a threshold on the margin between the top two teams, and whether "several
issues detected" makes a ticket unsure: the combination that lets the most tickets through with out-of-fold
accuracy at or above the target. It does so per channel (channels with enough tickets: short social messages are
less sure than long web complaints at the same confidence) and over all channels, the fallback for channels without
data. The result, a ``ThresholdPolicy``, ships in ``model.json`` under ``policy``.

The router writes ``unsure_reasons`` from it on every decision; the ``cascade`` routing policy sends unsure tickets
to review (later: to the agent tier), the ``local`` policy keeps the 70 % rule. ``agent.evaluate --coverage`` prints
the risk–coverage table of labelled data and what these thresholds give on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from agent.classification import Classification

DEFAULT_TARGET = 0.97
"""Local accuracy the thresholds must reach on the tickets they let through."""
CONFIDENCE_GRID = tuple(round(0.50 + 0.01 * i, 2) for i in range(50))  # 0.50 … 0.99
MARGIN_GRID = tuple(round(0.05 * i, 2) for i in range(19))  # 0.00 … 0.90
REPORT_GRID = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99)
"""Confidence levels of the risk–coverage table."""
MIN_DECIDED = 20
"""A threshold must let at least this many tickets through: accuracy on fewer says nothing."""
MIN_CHANNEL_ROWS = 100
"""Tickets a channel needs to get thresholds of its own; other channels use the global ones."""
GLOBAL = "global"


@dataclass(frozen=True)
class Signal:
    """What the thresholds read of one classification, as the router reports it."""

    confidence: float
    margin: float
    several_issues: bool

    @classmethod
    def of(cls, classification: Classification) -> Signal:
        """Top confidence (chance level when the text is out of scope, as the router reports it), its margin over
        the second team, and whether a second category is above the multi-issue threshold."""
        ranked = classification.ranked
        confidence = ranked[0][1]
        if classification.out_of_scope:
            confidence = min(confidence, 1.0 / len(ranked))
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        return cls(confidence, max(confidence - second, 0.0), len(classification.categories) > 1)


@dataclass(frozen=True)
class Signals:
    """The same three signals for many tickets, as arrays (fitting and reports)."""

    confidence: np.ndarray
    margin: np.ndarray
    several_issues: np.ndarray

    @classmethod
    def from_probabilities(cls, probabilities: np.ndarray, multi_issue: float) -> Signals:
        ordered = np.sort(probabilities, axis=1)
        top = ordered[:, -1]
        second = ordered[:, -2] if probabilities.shape[1] > 1 else np.zeros(len(probabilities))
        return cls(top, top - second, second >= multi_issue)

    @classmethod
    def of(cls, signals: Sequence[Signal]) -> Signals:
        return cls(
            np.array([s.confidence for s in signals], dtype=float),
            np.array([s.margin for s in signals], dtype=float),
            np.array([s.several_issues for s in signals], dtype=bool),
        )

    def __getitem__(self, mask: np.ndarray) -> Signals:
        return Signals(self.confidence[mask], self.margin[mask], self.several_issues[mask])

    def __len__(self) -> int:
        return len(self.confidence)


@dataclass(frozen=True)
class Thresholds:
    """Sure = confidence ≥ ``confidence`` and margin ≥ ``margin`` (and one issue only, if ``several_issues_unsure``).

    ``confidence`` None: no combination reached the target with ``MIN_DECIDED`` tickets; nothing is sure.
    ``rows``, ``coverage`` and ``accuracy`` describe the data the thresholds were fitted on (out of fold).
    """

    confidence: float | None
    margin: float = 0.0
    several_issues_unsure: bool = False
    rows: int = 0
    coverage: float = 0.0
    accuracy: float | None = None

    def sure(self, signals: Signals) -> np.ndarray:
        if self.confidence is None:
            return np.zeros(len(signals), dtype=bool)
        sure = (signals.confidence >= self.confidence) & (signals.margin >= self.margin)
        return sure & ~signals.several_issues if self.several_issues_unsure else sure

    def reasons(self, signal: Signal, scope: str, target: float) -> list[str]:
        """Why ``signal`` is unsure under these thresholds (empty: sure); ``scope`` names whose thresholds they are."""
        goal = f"for {target:.0%} local accuracy"
        if self.confidence is None:
            return [f"no confidence level reaches {goal[4:]} on {scope}: every such ticket is deferred"]
        reasons = []
        if signal.confidence < self.confidence:
            reasons.append(
                f"confidence {signal.confidence:.2f} is below {scope}'s {self.confidence:.2f} threshold {goal}"
            )
        if signal.margin < self.margin:
            reasons.append(
                f"margin {signal.margin:.2f} over the second team is below {scope}'s {self.margin:.2f} threshold {goal}"
            )
        if self.several_issues_unsure and signal.several_issues:
            reasons.append(f"several issues detected, which {scope}'s thresholds defer {goal}")
        return reasons

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Thresholds:
        return cls(**data)


def measure(sure: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """Share decided and accuracy on that share (None when nothing is decided)."""
    decided = int(sure.sum())
    return {
        "decided": decided,
        "coverage": float(sure.mean()) if len(sure) else 0.0,
        "accuracy": float(correct[sure].mean()) if decided else None,
    }


def fit_thresholds(
    signals: Signals, correct: np.ndarray, target: float = DEFAULT_TARGET, min_decided: int = MIN_DECIDED
) -> Thresholds:
    """The thresholds that decide the most tickets with accuracy ≥ ``target`` on the decided ones.

    Exhaustive over ``CONFIDENCE_GRID`` × ``MARGIN_GRID`` × {several issues sure, unsure}; ties go to the higher
    accuracy, then to the simpler rule (no margin, several issues allowed), then to the higher confidence.
    ``signals`` and ``correct`` must be out-of-fold: on training rows every threshold looks accurate.
    """
    correct = np.asarray(correct, dtype=bool)
    best: tuple | None = None
    for several_unsure in (False, True):
        for margin in MARGIN_GRID:
            for confidence in CONFIDENCE_GRID:
                candidate = Thresholds(confidence, margin, several_unsure)
                sure = candidate.sure(signals)
                decided = int(sure.sum())
                if decided < min_decided:
                    break  # higher confidence thresholds decide fewer still
                accuracy = float(correct[sure].mean())
                if accuracy + 1e-12 < target:
                    continue
                key = (decided, accuracy, -margin, -several_unsure, confidence)
                if best is None or key > best[0]:
                    best = (key, candidate, accuracy)
    if best is None:
        return Thresholds(None, rows=len(correct))
    _, chosen, accuracy = best
    return Thresholds(
        chosen.confidence,
        chosen.margin,
        chosen.several_issues_unsure,
        rows=len(correct),
        coverage=float(chosen.sure(signals).mean()),
        accuracy=accuracy,
    )


@dataclass(frozen=True)
class ThresholdPolicy:
    """Thresholds per channel with a global fallback, all fitted for the same target accuracy."""

    target: float
    fallback: Thresholds
    channels: dict[str, Thresholds]

    def thresholds_for(self, channel: str) -> tuple[str, Thresholds]:
        """(whose thresholds, thresholds): the channel's own, else the global ones."""
        if channel in self.channels:
            return f"the {channel} channel", self.channels[channel]
        return f"all channels (none fitted for {channel})", self.fallback

    def unsure_reasons(self, signal: Signal, channel: str) -> list[str]:
        scope, thresholds = self.thresholds_for(channel)
        return thresholds.reasons(signal, scope, self.target)

    def sure(self, signals: Signals, channels: Sequence[str]) -> np.ndarray:
        """Vectorised: each ticket judged by its channel's thresholds."""
        channels = np.asarray(channels)
        sure = np.zeros(len(signals), dtype=bool)
        for channel in sorted(set(channels.tolist())):
            mask = channels == channel
            sure[mask] = self.thresholds_for(channel)[1].sure(signals[mask])
        return sure

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            GLOBAL: self.fallback.to_json(),
            "channels": {name: t.to_json() for name, t in sorted(self.channels.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ThresholdPolicy:
        return cls(
            target=float(data["target"]),
            fallback=Thresholds.from_json(data[GLOBAL]),
            channels={name: Thresholds.from_json(t) for name, t in data["channels"].items()},
        )


def fit_policy(
    signals: Signals,
    correct: np.ndarray,
    channels: Sequence[str],
    target: float = DEFAULT_TARGET,
    min_channel_rows: int = MIN_CHANNEL_ROWS,
) -> ThresholdPolicy:
    """Global thresholds on every row, and a channel's own for each channel with ``min_channel_rows`` rows."""
    channels = np.asarray(channels)
    correct = np.asarray(correct, dtype=bool)
    per_channel = {}
    for channel in sorted(set(channels.tolist())):
        mask = channels == channel
        if mask.sum() >= min_channel_rows:
            per_channel[channel] = fit_thresholds(signals[mask], correct[mask], target)
    return ThresholdPolicy(target, fit_thresholds(signals, correct, target), per_channel)


def unsure_reasons(policy: ThresholdPolicy | None, signal: Signal, channel: str, review_threshold: float) -> list[str]:
    """Why the fast router is unsure of a decision: the shipped thresholds, or without them the review threshold."""
    if policy is not None:
        return policy.unsure_reasons(signal, channel)
    if signal.confidence < review_threshold:
        return [
            f"confidence {signal.confidence:.2f} is below the {review_threshold:.0%} review threshold "
            "(the model ships no per-channel thresholds)"
        ]
    return []


def risk_coverage(signals: Signals, correct: np.ndarray, grid: Sequence[float] = REPORT_GRID) -> list[dict[str, Any]]:
    """For each confidence level: the share of tickets at or above it and the accuracy on that share."""
    correct = np.asarray(correct, dtype=bool)
    return [{"confidence": level, **measure(signals.confidence >= level, correct)} for level in grid]
