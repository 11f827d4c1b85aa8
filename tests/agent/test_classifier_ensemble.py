"""Averaging the linear model with a fine-tuned encoder's head (agent.train --finetuned, TextClassifier.ensemble).

Fine-tuning needs torch, which tests do not install; the encoder directory here is the shipped MiniLM with a
head fitted in numpy, in the layout tools/finetune_encoder.py writes. What is under test is everything after
fine-tuning: matching the held-back rows, fitting the weight and temperature, and inference.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from agent.classifier import TextClassifier, log_softmax, softmax
from agent.datasets import load_labelled
from agent.encoder import DEFAULT_ENCODER_DIR, SentenceEncoder, text_fingerprint
from agent.exceptions import RouterError
from agent.text import normalize
from agent.train import train

LABELS = ["Network Operations", "Billing Support", "Technical Support", "Account Management"]


def _finetuned_dir(root: Path, csv: Path, head: str = "fitted", labels: list[str] = LABELS) -> Path:
    """Shipped encoder + a linear head; every other ticket (20 of 40) counts as kept out of fine-tuning."""
    data = load_labelled(csv)
    texts = [normalize(t) for t in data.texts]
    validation = [i for i in range(len(texts)) if i % 2 == 0]  # 20 of the 40 tickets
    out = root / "encoder-ft"
    out.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        shutil.copy(DEFAULT_ENCODER_DIR / name, out / name)
    config = json.loads((DEFAULT_ENCODER_DIR / "encoder.json").read_text())
    config |= {
        "normalize": False,
        "head": {"labels": labels, "validation_fingerprints": [text_fingerprint(texts[i]) for i in validation]},
    }
    (out / "encoder.json").write_text(json.dumps(config))
    encoder = SentenceEncoder(out)
    states = encoder.encode(texts)
    if head == "fitted":  # class centroids of every ticket: stands in for a strong fine-tuned model
        targets = np.array([LABELS.index(label) for label in data.labels])
        centroids = np.stack([states[targets == k].mean(axis=0) for k in range(len(LABELS))])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        coef, intercept = centroids * 40 / np.linalg.norm(states, axis=1).mean(), np.zeros(len(LABELS))
    else:  # loud noise: confident and uninformative
        rng = np.random.default_rng(0)
        coef, intercept = rng.normal(0, 50, (len(LABELS), encoder.dim)), np.zeros(len(LABELS))
    np.savez(out / "head.npz", coef=coef.astype(np.float32), intercept=intercept.astype(np.float32))
    return out


@pytest.fixture(scope="module")
def ensemble_model(tmp_path_factory: pytest.TempPathFactory, tiny_csv: Path) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("ensemble")
    report = train(load_labelled(tiny_csv), root / "model", folds=3, finetuned=_finetuned_dir(root, tiny_csv))
    return root / "model", report


def test_training_records_weight_temperature_and_validation_figures(ensemble_model):
    directory, report = ensemble_model
    meta = json.loads((directory / "model.json").read_text())
    ensemble = meta["ensemble"]
    assert 0.0 <= ensemble["weight"] < 1.0  # a useful head gets a share
    assert ensemble["temperature"] > 0
    assert ensemble["validation"]["rows"] == 20
    assert report["ensemble"] == ensemble["validation"]
    assert Path(ensemble["encoder"]).is_absolute()  # outside agent/models: stored as a path


def test_inference_averages_both_models_on_the_slow_path(ensemble_model):
    directory, _ = ensemble_model
    classifier = TextClassifier.load(directory)
    assert classifier.ensemble is not None
    texts = ["the modem light blinks and the bill doubled", "my password reset link never arrives"]
    classifier.fast = None  # every text takes the slow path, where the ensemble applies
    probabilities, _, slow, _ = classifier.logits(texts)
    assert slow == [0, 1]
    assert probabilities.sum(axis=1) == pytest.approx(1.0)
    ensemble, classifier.ensemble = classifier.ensemble, None
    linear_only, *_ = classifier.logits(texts)
    classifier.ensemble = ensemble
    assert not np.allclose(probabilities, linear_only)


def test_an_uninformative_head_gets_no_weight(tmp_path, tiny_csv):
    report = train(
        load_labelled(tiny_csv), tmp_path / "m", folds=3, finetuned=_finetuned_dir(tmp_path, tiny_csv, head="noise")
    )
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["ensemble"]["weight"] == 1.0
    assert report["ensemble"]["accuracy_ensemble"] == report["ensemble"]["accuracy_linear"]


def test_a_head_fine_tuned_on_other_data_is_refused(tmp_path, tiny_csv):
    finetuned = _finetuned_dir(tmp_path, tiny_csv)
    config = json.loads((finetuned / "encoder.json").read_text())
    config["head"]["validation_fingerprints"] = [text_fingerprint(f"other ticket {i}") for i in range(20)]
    (finetuned / "encoder.json").write_text(json.dumps(config))
    with pytest.raises(RouterError, match="same --data, --extra and --holdout"):
        train(load_labelled(tiny_csv), tmp_path / "m", folds=3, finetuned=finetuned)


def test_a_head_with_other_labels_is_refused(tmp_path, tiny_csv):
    finetuned = _finetuned_dir(tmp_path, tiny_csv, labels=list(reversed(LABELS)))
    with pytest.raises(RouterError, match="predicts"):
        train(load_labelled(tiny_csv), tmp_path / "m", folds=3, finetuned=finetuned)


def test_a_directory_without_a_head_is_refused(tmp_path, tiny_csv):
    with pytest.raises(RouterError, match="not a fine-tuned encoder"):
        train(load_labelled(tiny_csv), tmp_path / "m", folds=3, finetuned=DEFAULT_ENCODER_DIR)


def test_ensemble_probabilities_are_a_softmax_of_the_weighted_log_probabilities(ensemble_model):
    directory, _ = ensemble_model
    ensemble = TextClassifier.load(directory).ensemble
    linear = np.array([[2.0, 0.0, -1.0, 0.5]])
    out = ensemble.combine(linear, 1.0, ["internet down"])
    tuned = SentenceEncoder(Path(ensemble.encoder_dir)).encode(["internet down"]) @ ensemble.coef.T + ensemble.intercept
    expected = softmax(
        ensemble.weight * log_softmax(linear) + (1 - ensemble.weight) * log_softmax(tuned), ensemble.temperature
    )
    assert out == pytest.approx(expected, abs=1e-6)
