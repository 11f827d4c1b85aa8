import pytest

from agent.calibration import fit_temperature, negative_log_likelihood
from agent.classifier import softmax
from agent.metrics import confusion, expected_calibration_error, macro_f1, per_label


def test_per_label_precision_recall_f1_and_confusion():
    truth = ["a", "a", "b", "b", "c"]
    predicted = ["a", "b", "b", "b", "a"]
    report = per_label(truth, predicted, ["a", "b", "c"])
    assert report["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert report["b"]["precision"] == pytest.approx(2 / 3)
    assert report["b"]["recall"] == 1.0
    assert report["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert macro_f1(report) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    table = confusion(truth, predicted, ["a", "b", "c"])
    assert table["a"] == {"a": 1, "b": 1, "c": 0}
    assert table["c"]["a"] == 1


def test_ece_is_zero_when_confidence_equals_accuracy_and_large_when_overconfident():
    assert expected_calibration_error([0.75] * 4, [True, True, True, False]) == pytest.approx(0.0)
    assert expected_calibration_error([0.99] * 4, [False] * 4) == pytest.approx(0.99)
    assert expected_calibration_error([], []) == 0.0


def test_temperature_scaling_fixes_overconfident_scores():
    import numpy as np

    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, 600)
    logits = rng.normal(0, 1, (600, 3))
    logits[np.arange(600), targets] += 1.0  # ~60 % accurate ...
    logits *= 8.0  # ... but scores that claim near certainty
    temperature = fit_temperature(logits, targets)
    assert temperature > 3.0
    assert negative_log_likelihood(logits, targets, temperature) < negative_log_likelihood(logits, targets, 1.0)
    correct = softmax(logits).argmax(1) == targets
    before = expected_calibration_error(softmax(logits).max(1), correct)
    after = expected_calibration_error(softmax(logits, temperature).max(1), correct)
    assert after < before / 2
