"""Evaluate a routing model on labelled tickets: ``python -m agent.evaluate --data FILE.csv --json``.

Prints exactly one JSON object on stdout: n, accuracy, macro_f1, per_label, confusion,
manual_review_rate, auto_accuracy (the ``local`` policy: the review threshold, 70 %),
cascade_review_rate, cascade_auto_accuracy (the ``cascade`` policy: the model's per-channel
thresholds), ece, latency_ms {p50, p99}, model_version, and ``channels``: the same figures for each
channel. The channel of a row is the file's ``channel`` column when it has one, else ``--channel``
(default ``web``, as for a ticket that names none); each row is routed as a ticket of its channel.

``--coverage`` adds ``coverage``: per channel and overall, the risk–coverage table (for a grid of
confidence thresholds, the share the fast router would decide alone and its accuracy there), the
thresholds that would reach ``--target`` (0.97) on this data, and what the shipped thresholds give
on it. ``--model keyword`` evaluates the keyword baseline. Bad input exits non-zero with a one-line
error on stderr.

``--tier cascade`` (or ``agent``) with ``--provider bedrock|openai`` [``--base-url URL``] [``--model-id M``]
[``--api-key K``] also runs every ticket through the workers' decision path, the agent tier included, and adds
``cascade`` to the report (``agent.tier_evaluation``): deferred rate, local and agent accuracy, fallbacks by cause,
tokens, cost per ticket, agent latency and the agent accuracy needed for 0.90 and 0.95 overall, per channel too.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

import numpy as np

from agent.classifier import Classifier, load_classifier
from agent.cli import OneLineArgumentParser
from agent.datasets import DEFAULT_CHANNEL
from agent.exceptions import RouterError
from agent.metrics import confusion, expected_calibration_error, macro_f1, per_label
from agent.policy import (
    DEFAULT_TARGET,
    Signal,
    Signals,
    fit_thresholds,
    measure,
    risk_coverage,
    unsure_reasons,
)


@dataclass(frozen=True)
class Routed:
    """Every ticket's outcome, as arrays in input order."""

    truth: list[str]
    predicted: list[str]
    channels: np.ndarray
    confidence: np.ndarray
    """The classifier's top probability (what calibration is measured on)."""
    signals: Signals
    """What the router reads: confidence at chance level for out-of-scope tickets, margin, several issues."""
    out_of_scope: np.ndarray
    local_review: np.ndarray
    cascade_review: np.ndarray
    latency_ms: np.ndarray

    @property
    def correct(self) -> np.ndarray:
        return np.array([p == t for p, t in zip(self.predicted, self.truth, strict=True)], dtype=bool)

    def subset(self, mask: np.ndarray) -> Routed:
        keep = np.flatnonzero(mask)
        return Routed(
            truth=[self.truth[i] for i in keep],
            predicted=[self.predicted[i] for i in keep],
            channels=self.channels[mask],
            confidence=self.confidence[mask],
            signals=self.signals[mask],
            out_of_scope=self.out_of_scope[mask],
            local_review=self.local_review[mask],
            cascade_review=self.cascade_review[mask],
            latency_ms=self.latency_ms[mask],
        )


def route_each(classifier: Classifier, texts: list[str], truth: list[str], channels: list[str]) -> Routed:
    """Classify each text on its own (as production does) and apply both review policies."""
    taxonomy = classifier.taxonomy
    threshold = taxonomy.thresholds.manual_review
    predicted, confidence, signals, scope, local, cascade, latency = [], [], [], [], [], [], []
    for text, channel in zip(texts, channels, strict=True):
        start = time.perf_counter()
        result = classifier.classify([text], [channel])[0]
        latency.append((time.perf_counter() - start) * 1000)
        category, p = result.top
        signal = Signal.of(result)
        predicted.append(taxonomy.team_of[category])
        confidence.append(p)
        signals.append(signal)
        scope.append(result.out_of_scope)
        local.append(result.out_of_scope or p < threshold)
        cascade.append(result.out_of_scope or bool(unsure_reasons(classifier.policy, signal, channel, threshold)))
    return Routed(
        truth=list(truth),
        predicted=predicted,
        channels=np.array(channels, dtype=object),
        confidence=np.array(confidence, dtype=float),
        signals=Signals.of(signals),
        out_of_scope=np.array(scope, dtype=bool),
        local_review=np.array(local, dtype=bool),
        cascade_review=np.array(cascade, dtype=bool),
        latency_ms=np.array(latency, dtype=float),
    )


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else 0.0


def figures(routed: Routed, labels: list[str]) -> dict:
    """Every figure of the contract for one set of routed tickets."""
    correct = routed.correct
    report = per_label(routed.truth, routed.predicted, labels)
    return {
        "n": len(correct),
        "accuracy": _mean(correct),
        "macro_f1": macro_f1(report),
        "per_label": report,
        "confusion": confusion(routed.truth, routed.predicted, labels),
        "manual_review_rate": _mean(routed.local_review),
        "auto_accuracy": _mean(correct[~routed.local_review]),
        "cascade_review_rate": _mean(routed.cascade_review),
        "cascade_auto_accuracy": _mean(correct[~routed.cascade_review]),
        "ece": expected_calibration_error(routed.confidence, correct),
        "latency_ms": {
            "p50": float(np.percentile(routed.latency_ms, 50)) if len(correct) else 0.0,
            "p99": float(np.percentile(routed.latency_ms, 99)) if len(correct) else 0.0,
        },
    }


def coverage(routed: Routed, classifier: Classifier, target: float) -> dict:
    """Risk–coverage table, thresholds reaching ``target`` on this data, and what the shipped ones give on it."""
    correct = routed.correct
    in_scope = ~routed.out_of_scope
    signals = routed.signals  # out-of-scope tickets sit at chance level: never above a threshold
    fitted = fit_thresholds(signals, correct, target)
    out = {
        "n": len(correct),
        "risk_coverage": risk_coverage(signals, correct),
        "reaching_target": fitted.to_json() if fitted.confidence is not None else None,
    }
    if classifier.policy is not None:
        sure = classifier.policy.sure(signals, routed.channels.tolist()) & in_scope
        channels = sorted(set(routed.channels.tolist()))
        out["shipped"] = {
            "thresholds": [classifier.policy.thresholds_for(c)[0] for c in channels],
            **measure(sure, correct),
        }
    return out


def evaluate_classifier(
    classifier: Classifier,
    texts: list[str],
    truth: list[str],
    channels: list[str] | None = None,
    target: float | None = None,
) -> dict:
    """Route each text on its own (as production does) and compare with the truth (team names).

    ``channels`` defaults to the channel of a ticket that names none; ``target`` adds the coverage report.
    """
    channels = list(channels) if channels is not None else [DEFAULT_CHANNEL] * len(texts)
    routed = route_each(classifier, texts, truth, channels)
    labels = sorted(set(classifier.taxonomy.team_names) | set(truth))
    per_channel = {c: routed.subset(routed.channels == c) for c in sorted(set(channels))}
    report = {
        **figures(routed, labels),
        "model_version": classifier.version,
        "channels": {c: figures(r, labels) for c, r in per_channel.items()},
    }
    if target is not None:
        report["coverage"] = {
            "target": target,
            "shipped_policy": classifier.policy.to_json() if classifier.policy is not None else None,
            "overall": coverage(routed, classifier, target),
            "channels": {c: coverage(r, classifier, target) for c, r in per_channel.items()},
        }
    return report


def _evaluate_tier(args, classifier: Classifier, texts: list[str], truth: list[str], channels: list[str]) -> dict:  # type: ignore[no-untyped-def]
    from agent.router import Router
    from agent.tier_evaluation import evaluate_tier
    from datalayer.settings import get_settings

    if not args.provider:
        raise RouterError("--tier needs --provider bedrock or openai")
    changes = {"routing_policy": args.tier, "agent_provider": args.provider}
    for name, value in (
        ("agent_base_url", args.base_url),
        ("agent_model_id", args.model_id),
        ("agent_api_key", args.api_key),
    ):
        if value:
            changes[name] = value
    settings = get_settings().derive(**changes)
    return evaluate_tier(Router(classifier, routing_policy=settings.routing_policy), texts, truth, channels, settings)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog="python -m agent.evaluate", description="Evaluate a routing model.")
    parser.add_argument("--data", required=True, help="labelled tickets, .csv or .jsonl")
    parser.add_argument("--model", help="model directory, or 'keyword' for the baseline (default: shipped model)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="team")
    parser.add_argument("--channel", default=DEFAULT_CHANNEL, help="channel of rows without a channel column (web)")
    parser.add_argument("--coverage", action="store_true", help="add the risk-coverage report per channel")
    parser.add_argument("--target", type=float, default=DEFAULT_TARGET, help="local accuracy aimed at (0.97)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
    parser.add_argument("--tier", choices=["cascade", "agent"], help="run the agent tier on what the policy defers")
    parser.add_argument("--provider", choices=["bedrock", "openai"], help="with --tier: the model provider")
    parser.add_argument("--base-url", help="with --provider openai: the endpoint, e.g. http://127.0.0.1:8088/v1")
    parser.add_argument("--model-id", help="the model (default: the settings' agent_model_id)")
    parser.add_argument("--api-key", help="with --provider openai: the endpoint's key (never printed)")
    args = parser.parse_args(argv)
    try:
        from agent.datasets import load_labelled

        if not 0.0 < args.target <= 1.0:
            raise RouterError("--target must be in (0, 1]")
        data = load_labelled(args.data, args.text_column, args.label_column, args.channel)
        classifier = load_classifier(args.model)
        taxonomy = classifier.taxonomy
        try:
            truth = [taxonomy.resolve_label(label) for label in data.labels]
        except RouterError as exc:
            raise RouterError(f"{exc} (the model knows: {', '.join(taxonomy.team_names[:10])}…)") from exc
        report = evaluate_classifier(
            classifier, data.texts, truth, data.channels, args.target if args.coverage else None
        )
        if args.tier:
            report["cascade"] = _evaluate_tier(args, classifier, data.texts, truth, data.channels)
    except RouterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the contract: one line, never a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
