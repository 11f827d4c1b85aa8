"""Evaluation metrics in numpy: accuracy, per-label precision/recall/F1, confusion, calibration error.

Kept free of scikit-learn so that ``agent.evaluate`` runs wherever the router runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """truth label → predicted label → count, with every label present in both levels."""
    table = {t: dict.fromkeys(labels, 0) for t in labels}
    for t, p in zip(truth, predicted, strict=True):
        table.setdefault(t, dict.fromkeys(labels, 0))
        table[t][p] = table[t].get(p, 0) + 1
    return table


def per_label(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p == label)
        predicted_n = sum(1 for p in predicted if p == label)
        support = sum(1 for t in truth if t == label)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return out


def macro_f1(report: dict[str, dict[str, float]]) -> float:
    """Mean F1 over labels that occur in the truth (labels with no support would only add zeros)."""
    scores = [r["f1"] for r in report.values() if r["support"] > 0]
    return float(np.mean(scores)) if scores else 0.0


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """ECE with equal-width bins: how far stated confidence is from observed accuracy, weighted by bin size."""
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(conf[mask].mean() - hit[mask].mean())
    return float(total)
