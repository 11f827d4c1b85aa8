"""Several datasets and channels: training, the held-out split, per-channel evaluation, the coverage report, and
model files that do not replay their training text."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from agent.classifier import TextClassifier
from agent.datasets import load_labelled
from agent.exceptions import DatasetError
from agent.policy import REPORT_GRID
from agent.train import MIN_CLUSTER, train

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "n",
    "accuracy",
    "macro_f1",
    "per_label",
    "confusion",
    "manual_review_rate",
    "auto_accuracy",
    "cascade_review_rate",
    "cascade_auto_accuracy",
    "ece",
    "latency_ms",
}


def _evaluate(*args: str) -> dict:
    run = subprocess.run(
        [sys.executable, "-m", "agent.evaluate", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_rows_take_their_channel_from_the_column_else_the_default(tmp_path, tiny_csv, tiny_messages_csv):
    assert set(load_labelled(tiny_csv).channels) == {"web"}
    assert not load_labelled(tiny_csv).has_channel_column
    assert set(load_labelled(tiny_csv, default_channel="email").channels) == {"email"}
    assert set(load_labelled(tiny_messages_csv).channels) == {"social"}
    (tmp_path / "bad.csv").write_text("text,team,channel\nhello,Billing Support,fax\n")
    with pytest.raises(DatasetError, match="channel 'fax'"):
        load_labelled(tmp_path / "bad.csv")


def test_holdout_is_stratified_per_channel_and_label_and_written_with_the_channel(two_channel_model):
    held = list(csv.DictReader((two_channel_model.parent / "holdout.csv").open(encoding="utf-8")))
    assert set(held[0]) == {"id", "text", "team", "channel"}
    counts = Counter((row["channel"], row["team"]) for row in held)
    assert set(counts.values()) == {2, 1}  # 20 % of 10 web tickets per team, of 6 social messages per team
    assert all(counts[("web", team)] == 2 and counts[("social", team)] == 1 for _, team in counts)
    meta = json.loads((two_channel_model / "model.json").read_text())
    assert sorted(meta["training"]["holdout_ids"]) == sorted(row["id"] for row in held)
    assert [d["held_out"] for d in meta["training"]["datasets"]] == [8, 4]
    assert meta["training"]["rows"] == 32 + 20
    assert meta["features"]["channels"] == ["social", "web"]
    report = meta["training"]["holdout_report"]
    assert set(report["channels"]) == {"social", "web"} and report["channels"]["social"]["n"] == 4


def test_policy_is_fitted_on_out_of_fold_predictions_of_the_data_rows_only(
    tmp_path, tiny_csv, tiny_messages_csv, monkeypatch
):
    """Thresholds see predictions made by models that did not see the row, and never the --extra rows."""
    import agent.train as training

    seen = {}
    original = training.fit_policy

    def spy(signals, correct, channels, target):
        seen.update(signals=signals, correct=np.asarray(correct), channels=list(channels), target=target)
        return original(signals, correct, channels, target)

    monkeypatch.setattr(training, "fit_policy", spy)
    report = train(load_labelled(tiny_csv), tmp_path / "m", extra=load_labelled(tiny_messages_csv), folds=3, target=0.9)
    assert seen["target"] == 0.9
    assert seen["channels"] == ["web"] * 40  # the 24 --extra messages are not in the policy fit
    in_sample = TextClassifier.load(tmp_path / "m").classify(load_labelled(tiny_csv).texts)
    in_sample_accuracy = np.mean(
        [c.top[0] == t for c, t in zip(in_sample, _categories(load_labelled(tiny_csv).labels), strict=True)]
    )
    assert in_sample_accuracy == 1.0  # the final model knows its training rows ...
    assert seen["correct"].mean() < 1.0  # ... the thresholds were fitted on what it does not know
    assert seen["correct"].mean() == pytest.approx(report["production_path_per_channel"]["web"]["accuracy"])
    assert json.loads((tmp_path / "m" / "model.json").read_text())["policy"]["target"] == 0.9


def _categories(teams: list[str]) -> list[str]:
    from agent.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    return [taxonomy.category_of[team] for team in teams]


def test_training_on_two_datasets_is_deterministic(tmp_path, tiny_csv, tiny_messages_csv):
    data = [load_labelled(tiny_csv), load_labelled(tiny_messages_csv)]
    a = train(data, tmp_path / "a", holdout=0.2, folds=3)
    b = train(data, tmp_path / "b", holdout=0.2, folds=3)
    assert a["model_version"] == b["model_version"]
    for name in ("weights.npz", "vocab.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    meta = [json.loads((tmp_path / m / "model.json").read_text()) for m in ("a", "b")]
    assert meta[0]["policy"] == meta[1]["policy"]


def test_evaluate_reports_every_figure_per_channel(two_channel_model, tiny_csv, tiny_messages_csv, tmp_path):
    mixed = tmp_path / "mixed.csv"
    rows = list(csv.DictReader(tiny_csv.open())) + list(csv.DictReader(tiny_messages_csv.open()))
    with mixed.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["id", "text", "team", "channel"])
        writer.writeheader()
        writer.writerows({**row, "channel": row.get("channel") or "web"} for row in rows)
    report = _evaluate("--data", str(mixed), "--model", str(two_channel_model))
    assert FIGURES | {"model_version", "channels"} <= set(report)
    assert set(report["channels"]) == {"social", "web"}
    assert all(set(figures) >= FIGURES for figures in report["channels"].values())
    assert report["channels"]["web"]["n"] == 40 and report["channels"]["social"]["n"] == 24
    assert report["n"] == 64
    both = report["channels"]["web"]["accuracy"] * 40 + report["channels"]["social"]["accuracy"] * 24
    assert report["accuracy"] == pytest.approx(both / 64)
    assert sum(report["channels"]["social"]["confusion"]["Billing Support"].values()) == 6
    assert "coverage" not in report


def test_rows_without_a_channel_column_are_evaluated_as_the_default_channel(two_channel_model, tiny_csv):
    assert set(_evaluate("--data", str(tiny_csv), "--model", str(two_channel_model))["channels"]) == {"web"}
    report = _evaluate("--data", str(tiny_csv), "--model", str(two_channel_model), "--channel", "social")
    assert set(report["channels"]) == {"social"}


def test_the_channel_changes_the_classification(two_channel_model):
    classifier = TextClassifier.load(two_channel_model)
    text = "nothing works tonight"
    web, social = classifier.classify([text, text], ["web", "social"])
    assert web.probabilities != social.probabilities
    assert classifier.classify([text])[0].probabilities == web.probabilities  # no channel: a web ticket's
    unknown = classifier.classify([text], ["phone"])[0]  # a channel without training data: no indicator
    assert unknown.probabilities not in (web.probabilities, social.probabilities)


def test_coverage_report(two_channel_model, tiny_messages_csv):
    report = _evaluate("--data", str(tiny_messages_csv), "--model", str(two_channel_model), "--coverage")
    coverage = report["coverage"]
    assert coverage["target"] == 0.97
    assert coverage["shipped_policy"] == json.loads((two_channel_model / "model.json").read_text())["policy"]
    assert set(coverage["channels"]) == {"social"}
    for part in (coverage["overall"], coverage["channels"]["social"]):
        table = part["risk_coverage"]
        assert [row["confidence"] for row in table] == list(REPORT_GRID)
        assert [row["coverage"] for row in table] == sorted((row["coverage"] for row in table), reverse=True)
        assert {"thresholds", "decided", "coverage", "accuracy"} <= set(part["shipped"])
        assert "reaching_target" in part
    lower = _evaluate(
        "--data", str(tiny_messages_csv), "--model", str(two_channel_model), "--coverage", "--target", "0.5"
    )
    assert lower["coverage"]["target"] == 0.5
    assert lower["coverage"]["overall"]["reaching_target"]["coverage"] > 0


def test_keyword_baseline_coverage_has_no_shipped_thresholds(tiny_messages_csv):
    report = _evaluate("--data", str(tiny_messages_csv), "--model", "keyword", "--coverage")
    assert report["coverage"]["shipped_policy"] is None
    assert "shipped" not in report["coverage"]["overall"]
    assert report["cascade_review_rate"] == report["manual_review_rate"]  # no thresholds: the 70 % rule


# ------------------------------------------------------------------ model files hold no training text
def _model_files(directory: Path) -> dict[str, str]:
    """Every file of a model directory as text; the arrays of weights.npz by name (numbers, not text)."""
    out = {}
    for path in sorted(directory.rglob("*")):
        if path.suffix == ".npz":
            with np.load(path) as archive:
                for name in archive.files:
                    assert archive[name].dtype.kind in "fiu", f"{path.name}:{name} is not numeric"
                    out[f"{path.name}:{name}"] = archive[name].tobytes().decode("latin-1")
        elif path.is_file():
            out[path.name] = path.read_bytes().decode("utf-8", "replace")
    return out


def _leaks(texts: list[str], files: dict[str, str], min_chars: int = 20) -> list[tuple[str, str]]:
    leaks = []
    for text in texts:
        text = text.strip()
        if len(text) < min_chars:
            continue
        forms = {text, json.dumps(text, ensure_ascii=False)[1:-1], json.dumps(text)[1:-1], text.lower()}
        leaks += [(name, text) for name, content in files.items() for form in forms if form in content]
    return leaks


def test_vocabularies_are_stored_sorted(two_channel_model):
    vocab = json.loads((two_channel_model / "vocab.json").read_text())
    assert set(vocab) == {"word", "char"}
    for terms in vocab.values():
        assert isinstance(terms, list) and terms == sorted(terms) and len(set(terms)) == len(terms)


def test_no_model_file_replays_a_training_text(two_channel_model, tiny_csv, tiny_messages_csv):
    texts = load_labelled(tiny_csv).texts + load_labelled(tiny_messages_csv).texts
    assert _leaks(texts, _model_files(two_channel_model)) == []
    # the check itself finds a replayed text
    assert _leaks(texts[:1], {"model.json": json.dumps({"x": texts[0]})})


def test_out_of_scope_references_are_centroids_of_several_tickets(two_channel_model):
    with np.load(two_channel_model / "weights.npz") as archive:
        assert "reference_embeddings" not in archive.files
        centroids = archive["reference_centroids"]
    meta = json.loads((two_channel_model / "model.json").read_text())
    assert 0 < len(centroids) <= meta["training"]["rows"] // MIN_CLUSTER
    assert np.allclose(np.linalg.norm(centroids.astype(np.float32), axis=1), 1.0, atol=1e-2)


def test_one_channel_gets_no_indicator_column(tiny_model):
    meta = json.loads((tiny_model / "model.json").read_text())
    assert meta["features"]["channels"] == []  # a constant column would only be a second intercept
    classifier = TextClassifier.load(tiny_model)
    web, social = classifier.classify(["my bill is wrong", "my bill is wrong"], ["web", "social"])
    assert web.probabilities == social.probabilities
