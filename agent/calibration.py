"""Temperature scaling: one number that turns a linear model's scores into honest probabilities.

Fitted on out-of-fold scores (predictions for examples the fitting model did not see), because
in-sample scores of a high-dimensional linear model are over-confident.
"""

from __future__ import annotations

import numpy as np

from agent.classifier import softmax


def negative_log_likelihood(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    probabilities = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(probabilities[np.arange(len(targets)), targets], 1e-12, 1.0))))


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """Minimise NLL over T in [0.05, 20] by a log-spaced grid then golden-section refinement (deterministic)."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 60))
    losses = [negative_log_likelihood(logits, targets, t) for t in grid]
    best = int(np.argmin(losses))
    low, high = np.log(grid[max(best - 1, 0)]), np.log(grid[min(best + 1, len(grid) - 1)])
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if negative_log_likelihood(logits, targets, np.exp(a)) < negative_log_likelihood(logits, targets, np.exp(b)):
            high = b
        else:
            low = a
    return float(np.exp((low + high) / 2))
