"""The threshold search of agent.policy on synthetic out-of-fold arrays, and the policy's per-channel fallback."""

from __future__ import annotations

import numpy as np
import pytest

from agent.policy import (
    CONFIDENCE_GRID,
    REPORT_GRID,
    Signal,
    Signals,
    ThresholdPolicy,
    Thresholds,
    fit_policy,
    fit_thresholds,
    risk_coverage,
    unsure_reasons,
)


def _signals(confidence, margin=None, several=None) -> Signals:
    confidence = np.asarray(confidence, dtype=float)
    margin = np.asarray(margin if margin is not None else confidence, dtype=float)
    several = np.asarray(several if several is not None else np.zeros(len(confidence)), dtype=bool)
    return Signals(confidence, margin, several)


def _ladder() -> tuple[Signals, np.ndarray]:
    """100 tickets at confidence 0.50 … 0.99; the 10 wrong ones all sit below 0.80."""
    confidence = np.array([0.50 + 0.01 * (i % 50) for i in range(100)])
    correct = np.ones(100, dtype=bool)
    correct[np.flatnonzero(confidence < 0.80)[::6]] = False
    return _signals(confidence), correct


def test_the_search_decides_the_most_tickets_that_reach_the_target():
    signals, correct = _ladder()
    chosen = fit_thresholds(signals, correct, target=0.97)
    sure = signals.confidence >= chosen.confidence
    assert correct[sure].mean() >= 0.97
    assert chosen.accuracy == pytest.approx(correct[sure].mean())
    assert chosen.coverage == pytest.approx(sure.mean())
    assert chosen.rows == 100
    # one grid step lower would have missed the target: the chosen threshold is the most permissive one
    lower = signals.confidence >= round(chosen.confidence - 0.01, 2)
    assert correct[lower].mean() < 0.97
    assert chosen.margin == 0.0 and not chosen.several_issues_unsure  # the simplest rule that does it


def test_a_higher_target_decides_fewer_tickets():
    signals, correct = _ladder()
    assert fit_thresholds(signals, correct, 0.99).coverage < fit_thresholds(signals, correct, 0.90).coverage


def test_training_row_predictions_would_pick_a_looser_threshold_than_out_of_fold_ones():
    """Why thresholds are fitted out of fold: on rows the model was trained on nearly everything is right."""
    signals, out_of_fold = _ladder()
    in_sample = np.ones_like(out_of_fold)
    assert fit_thresholds(signals, in_sample, 0.97).confidence == CONFIDENCE_GRID[0]
    assert fit_thresholds(signals, out_of_fold, 0.97).confidence > 0.70


def test_unreachable_target_means_nothing_is_sure():
    signals = _signals(np.full(50, 0.95))
    correct = np.arange(50) % 2 == 0  # a coin toss at any confidence
    chosen = fit_thresholds(signals, correct, 0.97)
    assert chosen.confidence is None and chosen.coverage == 0.0 and chosen.accuracy is None
    assert not chosen.sure(signals).any()
    assert "every such ticket is deferred" in chosen.reasons(Signal(0.99, 0.98, False), "the social channel", 0.97)[0]


def test_too_few_decided_tickets_do_not_count():
    signals = _signals([0.99] * 5 + [0.6] * 95)
    correct = np.array([True] * 5 + [False] * 95)
    assert fit_thresholds(signals, correct, 0.97, min_decided=20).confidence is None
    assert fit_thresholds(signals, correct, 0.97, min_decided=5).confidence is not None


def test_the_margin_threshold_is_used_when_confidence_cannot_separate():
    confidence = np.full(100, 0.9)
    margin = np.where(np.arange(100) < 20, 0.1, 0.85)  # the 20 narrow calls are the wrong ones
    correct = np.arange(100) >= 20
    chosen = fit_thresholds(_signals(confidence, margin), correct, 0.97)
    assert chosen.margin > 0.1 and chosen.coverage == pytest.approx(0.8) and chosen.accuracy == 1.0


def test_several_issues_can_make_a_ticket_unsure():
    confidence = np.full(100, 0.9)
    several = np.arange(100) < 20
    correct = ~several
    chosen = fit_thresholds(_signals(confidence, confidence, several), correct, 0.97)
    assert chosen.several_issues_unsure and chosen.coverage == pytest.approx(0.8)
    reasons = chosen.reasons(Signal(0.95, 0.9, True), "the web channel", 0.97)
    assert reasons == ["several issues detected, which the web channel's thresholds defer for 97% local accuracy"]


def test_channels_with_enough_rows_get_their_own_thresholds_the_rest_the_global_ones():
    web, web_correct = _ladder()
    social = _signals(np.linspace(0.5, 0.99, 120))
    social_correct = social.confidence >= 0.9  # short messages: only the surest are right
    signals = Signals(
        np.concatenate([web.confidence, social.confidence, [0.99] * 10]),
        np.concatenate([web.margin, social.margin, [0.99] * 10]),
        np.zeros(230, dtype=bool),
    )
    correct = np.concatenate([web_correct, social_correct, [True] * 10])
    channels = ["web"] * 100 + ["social"] * 120 + ["chat"] * 10
    policy = fit_policy(signals, correct, channels, target=0.97, min_channel_rows=100)
    assert set(policy.channels) == {"web", "social"}  # 10 chat rows are too few for thresholds of their own
    assert policy.channels["social"].confidence > policy.channels["web"].confidence
    assert policy.thresholds_for("chat")[1] == policy.fallback
    assert policy.fallback.rows == 230
    reasons = policy.unsure_reasons(Signal(0.81, 0.7, False), "social")
    expected = f"confidence 0.81 is below the social channel's {policy.channels['social'].confidence:.2f} threshold"
    assert reasons[0].startswith(expected) and reasons[0].endswith("for 97% local accuracy")
    assert "none fitted for email" in policy.unsure_reasons(Signal(0.51, 0.1, False), "email")[0]
    assert policy.unsure_reasons(Signal(0.999, 0.998, False), "social") == []
    sure = policy.sure(signals, channels)
    assert (sure[100:220] == policy.channels["social"].sure(social)).all()
    assert ThresholdPolicy.from_json(policy.to_json()) == policy


def test_without_a_policy_the_review_threshold_decides():
    assert unsure_reasons(None, Signal(0.69, 0.5, False), "social", 0.70)[0].startswith(
        "confidence 0.69 is below the 70% review threshold"
    )
    assert unsure_reasons(None, Signal(0.70, 0.5, False), "social", 0.70) == []


def test_risk_coverage_table_shrinks_coverage_and_reports_accuracy_on_the_covered_share():
    signals, correct = _ladder()
    table = risk_coverage(signals, correct)
    assert [row["confidence"] for row in table] == list(REPORT_GRID)
    coverages = [row["coverage"] for row in table]
    assert coverages == sorted(coverages, reverse=True) and coverages[0] == 1.0
    assert table[0]["accuracy"] == pytest.approx(0.9)
    assert table[-1]["decided"] == 2 and table[-1]["accuracy"] == 1.0


def test_signal_of_an_out_of_scope_classification_is_at_chance_level():
    from agent.classification import Classification

    probabilities = {"Billing Dispute": 0.9, "Network Outage": 0.05, "Technical Problem": 0.03, "Account Access": 0.02}
    signal = Signal.of(Classification(probabilities=probabilities, out_of_scope=True))
    assert signal.confidence == 0.25 and signal.margin == pytest.approx(0.20)
    sure = Signal.of(Classification(probabilities=probabilities, categories=["Billing Dispute"]))
    assert sure == Signal(0.9, pytest.approx(0.85), False)
    assert Thresholds(0.8).sure(Signals.of([sure])).all()
