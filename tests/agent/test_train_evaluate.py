import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.classifier import TextClassifier
from agent.datasets import load_labelled
from agent.exceptions import DatasetError, ModelArtifactError
from agent.taxonomy import DEFAULT_TAXONOMY_PATH
from agent.train import stratified_split, train

ROOT = Path(__file__).resolve().parents[2]


def _cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_training_writes_a_versioned_artifact_that_classifies(tiny_model):
    meta = json.loads((tiny_model / "model.json").read_text())
    assert meta["model_version"].startswith("telecom-")
    assert meta["labels"] == ["Network Operations", "Billing Support", "Technical Support", "Account Management"]
    assert meta["calibration"]["temperature"] > 0
    assert sum(f.stat().st_size for f in tiny_model.iterdir()) < 50 * 1024 * 1024
    classifier = TextClassifier.load(tiny_model)
    result = classifier.classify(["I was charged twice, refund the duplicate charge on my bill"])[0]
    assert result.top[0] == "Billing Dispute"
    assert sum(result.probabilities.values()) == pytest.approx(1.0)


def test_training_is_deterministic(tmp_path, tiny_csv):
    data = load_labelled(tiny_csv)
    a = train(data, tmp_path / "a", use_encoder=False, folds=3)
    b = train(data, tmp_path / "b", use_encoder=False, folds=3)
    assert a["model_version"] == b["model_version"]
    assert (tmp_path / "a" / "weights.npz").read_bytes() == (tmp_path / "b" / "weights.npz").read_bytes()


def test_a_changed_taxonomy_gives_a_new_model_version(tmp_path, tiny_csv):
    data = load_labelled(tiny_csv)
    taxonomy = json.loads(DEFAULT_TAXONOMY_PATH.read_text())
    taxonomy["priority"]["escalate_after_hours"] = 12
    changed = tmp_path / "taxonomy.json"
    changed.write_text(json.dumps(taxonomy))
    a = train(data, tmp_path / "a", use_encoder=False, folds=3)
    b = train(data, tmp_path / "b", taxonomy_path=str(changed), use_encoder=False, folds=3)
    assert a["model_version"] != b["model_version"]
    assert TextClassifier.load(tmp_path / "b").taxonomy.priority.escalate_after_hours == 12


def test_holdout_is_stratified_and_never_trained_on(tmp_path, tiny_csv):
    data = load_labelled(tiny_csv)
    train_idx, holdout_idx = stratified_split(data.labels, 0.2, seed=1)
    assert not set(train_idx) & set(holdout_idx)
    held = [data.labels[i] for i in holdout_idx]
    assert {held.count(team) for team in set(data.labels)} == {2}
    report = train(data, tmp_path / "m", holdout=0.2, holdout_out=tmp_path / "held.csv", use_encoder=False, folds=3)
    assert report["rows"] == 32
    assert report["holdout"]["n"] == 8
    held_rows = load_labelled(tmp_path / "held.csv")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert sorted(held_rows.ids) == sorted(meta["training"]["holdout_ids"])


def test_train_then_evaluate_round_trip_prints_the_contract(tiny_model, tiny_csv):
    run = _cli("agent.evaluate", "--data", str(tiny_csv), "--model", str(tiny_model), "--json")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    expected = {
        "n",
        "accuracy",
        "macro_f1",
        "per_label",
        "confusion",
        "manual_review_rate",
        "auto_accuracy",
        "ece",
        "latency_ms",
        "model_version",
    }
    assert expected <= set(report)
    assert report["n"] == 40
    assert report["accuracy"] >= 0.9  # it was trained on these very tickets
    assert set(report["per_label"]["Billing Support"]) == {"precision", "recall", "f1", "support"}
    assert sum(report["confusion"]["Billing Support"].values()) == 10
    assert report["latency_ms"]["p99"] >= report["latency_ms"]["p50"] > 0


def test_keyword_baseline_evaluates_with_category_labels(tmp_path, tiny_csv):
    rows = tiny_csv.read_text().replace("Billing Support", "Billing Dispute")
    (tmp_path / "cat.csv").write_text(rows)
    run = _cli("agent.evaluate", "--data", str(tmp_path / "cat.csv"), "--model", "keyword", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["model_version"] == "keyword-baseline"
    assert report["per_label"]["Billing Support"]["support"] == 10


def test_jsonl_and_custom_columns(tmp_path, tiny_model):
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"body": "refund my late fee", "queue": "Billing Support"}\n\n{"body": "wifi router error 651", '
        '"queue": "Technical Support"}\n'
    )
    run = _cli(
        "agent.evaluate",
        "--data",
        str(path),
        "--model",
        str(tiny_model),
        "--text-column",
        "body",
        "--label-column",
        "queue",
        "--json",
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["n"] == 2


@pytest.mark.parametrize(
    ("content", "name", "args", "message"),
    [
        (None, "missing.csv", [], "not found"),
        ("id,body\n1,hello\n", "cols.csv", [], "no column 'text'"),
        ("text,team\nhello,\n", "empty.csv", [], "empty 'team'"),
        ("text,team\n", "header.csv", [], "no data rows"),
        ("text,team\nhello,Sales\n", "unknown.csv", [], "neither a team nor a category"),
        ('{"text": "x"', "bad.jsonl", [], "not valid JSON"),
        ("text,team\n", "x.txt", [], "unsupported data file type"),
        ("text,team\nhi,Billing Support\n", "ok.csv", ["--model", "/nonexistent/model"], "missing model.json"),
    ],
)
def test_evaluate_cli_errors_are_one_line_without_traceback(tmp_path, content, name, args, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    run = _cli("agent.evaluate", "--data", str(path), *args, "--json")
    assert run.returncode != 0
    assert run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1
    assert message in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("agent.evaluate", ["--json"]),
        ("agent.evaluate", ["--data", "x.csv", "--bogus"]),
        ("agent.train", ["--data", "x"]),
    ],
)
def test_usage_errors_are_one_line(module, args):
    run = _cli(module, *args)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1
    assert run.stderr.startswith("error: ")


def test_train_cli_errors_are_one_line(tmp_path):
    (tmp_path / "one.csv").write_text("text,team\nonly one label,Billing Support\nagain,Billing Support\n")
    run = _cli("agent.train", "--data", str(tmp_path / "one.csv"), "--out", str(tmp_path / "m"), "--no-encoder")
    assert run.returncode == 2
    assert "at least two different labels" in run.stderr
    assert "Traceback" not in run.stderr


def test_corrupt_or_foreign_artifact_is_refused(tmp_path, tiny_model):
    for name in ("model.json", "vocab.json", "weights.npz"):
        (tmp_path / name).write_bytes((tiny_model / name).read_bytes())
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelArtifactError, match="retrain"):
        TextClassifier.load(tmp_path)
    (tmp_path / "weights.npz").write_bytes(b"garbage")
    with pytest.raises(ModelArtifactError):
        TextClassifier.load(tmp_path)


def test_windows_1252_exports_and_bom_are_read(tmp_path):
    (tmp_path / "cp.csv").write_bytes("text,team\nCaf\u00e9 bill wrong,Billing Support\n".encode("cp1252"))
    (tmp_path / "bom.csv").write_bytes("text,team\nrouter broken,Technical Support\n".encode("utf-8-sig"))
    assert load_labelled(tmp_path / "cp.csv").texts == ["Caf\u00e9 bill wrong"]
    assert load_labelled(tmp_path / "bom.csv").labels == ["Technical Support"]
    (tmp_path / "bin.csv").write_bytes(b"\x00\x01\x02")
    with pytest.raises(DatasetError, match="binary"):
        load_labelled(tmp_path / "bin.csv")


def test_dataset_error_for_directory(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DatasetError, match="directory"):
        load_labelled(tmp_path / "d.csv")


def test_cascade_threshold_is_where_the_fast_head_is_as_accurate_as_the_full_model():
    import numpy as np

    from agent.train import _cascade_threshold

    targets = np.zeros(100, dtype=int)
    full = np.tile([0.9, 0.1], (100, 1))  # the full model is always right
    fast = np.tile([0.85, 0.15], (100, 1))
    fast[:30] = [0.05, 0.95]  # the head is wrong, and surest, on 30 tickets ...
    assert _cascade_threshold(fast, full, targets) is None  # ... so it never matches the full model: no cascade
    fast[:30] = [0.45, 0.55]  # now its mistakes are unsure ones: its confident answers can be taken
    assert _cascade_threshold(fast, full, targets) == 0.80
