"""Evaluate a routing model on labelled tickets: ``python -m agent.evaluate --data FILE.csv --json``.

Prints exactly one JSON object on stdout: n, accuracy, macro_f1, per_label, confusion,
manual_review_rate, auto_accuracy, ece, latency_ms {p50, p99}, model_version. ``--model keyword``
evaluates the keyword baseline. Bad input exits non-zero with a one-line error on stderr.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from agent.classifier import Classifier, load_classifier
from agent.cli import OneLineArgumentParser
from agent.exceptions import RouterError
from agent.metrics import confusion, expected_calibration_error, macro_f1, per_label


def evaluate_classifier(classifier: Classifier, texts: list[str], truth: list[str]) -> dict:
    """Route each text on its own (as production does) and compare with the truth (team names)."""
    taxonomy = classifier.taxonomy
    threshold = taxonomy.thresholds.manual_review
    predicted, confidence, review, latency = [], [], [], []
    for text in texts:
        start = time.perf_counter()
        result = classifier.classify([text])[0]
        latency.append((time.perf_counter() - start) * 1000)
        category, p = result.top
        predicted.append(taxonomy.team_of[category])
        confidence.append(p)
        review.append(result.out_of_scope or p < threshold)
    correct = [p == t for p, t in zip(predicted, truth, strict=True)]
    labels = sorted(set(taxonomy.team_names) | set(truth))
    report = per_label(truth, predicted, labels)
    auto = [c for c, r in zip(correct, review, strict=True) if not r]
    return {
        "n": len(texts),
        "accuracy": float(np.mean(correct)) if correct else 0.0,
        "macro_f1": macro_f1(report),
        "per_label": report,
        "confusion": confusion(truth, predicted, labels),
        "manual_review_rate": float(np.mean(review)) if review else 0.0,
        "auto_accuracy": float(np.mean(auto)) if auto else 0.0,
        "ece": expected_calibration_error(confidence, correct),
        "latency_ms": {
            "p50": float(np.percentile(latency, 50)) if latency else 0.0,
            "p99": float(np.percentile(latency, 99)) if latency else 0.0,
        },
        "model_version": classifier.version,
    }


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog="python -m agent.evaluate", description="Evaluate a routing model.")
    parser.add_argument("--data", required=True, help="labelled tickets, .csv or .jsonl")
    parser.add_argument("--model", help="model directory, or 'keyword' for the baseline (default: shipped model)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="team")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
    args = parser.parse_args(argv)
    try:
        from agent.datasets import load_labelled

        data = load_labelled(args.data, args.text_column, args.label_column)
        classifier = load_classifier(args.model)
        taxonomy = classifier.taxonomy
        try:
            truth = [taxonomy.resolve_label(label) for label in data.labels]
        except RouterError as exc:
            raise RouterError(f"{exc} (the model knows: {', '.join(taxonomy.team_names[:10])}…)") from exc
        report = evaluate_classifier(classifier, data.texts, truth)
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
