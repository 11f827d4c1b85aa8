"""Cross-validated routing accuracy on the real complaints, for comparing training recipes.

    python bench/cross_validate.py [--features tfidf+encoder|tfidf|encoder] [--windows 2] [--C 50] [--folds 5]

Why beside the held-out figure: the 339 held-out complaints give accuracy within about ±2 points (one
standard error), too coarse to tell recipes apart. Here every one of the 1,695 labelled complaints is
scored once by a model that did not see it (stratified folds, seed 13), the written examples
(``agent/data/telecom_examples.jsonl``) join every training fold and are never scored, and the recipe is
the shipped one (``agent.train``'s TF-IDF blocks, balanced logistic regression, MiniLM embedding of the
first ``--windows`` windows). Reports accuracy, macro-F1 and accuracy on the rows the labellers marked
``confidence=high`` and ``low``. Prints one JSON object; figures go in the issue note, not in tests.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.datasets import load_labelled  # noqa: E402
from agent.encoder import DEFAULT_ENCODER_DIR, MAX_WINDOWS, SentenceEncoder  # noqa: E402
from agent.metrics import macro_f1, per_label  # noqa: E402
from agent.taxonomy import DEFAULT_TAXONOMY_PATH, load_taxonomy  # noqa: E402
from agent.text import normalize  # noqa: E402
from agent.train import SEED, _features, _fit_vectorizers, _logistic  # noqa: E402

COMPLAINTS = ROOT.parent / "shared" / "data" / "comcast_fcc_2015" / "complaints_labeled.csv"
WRITTEN = ROOT / "agent" / "data" / "telecom_examples.jsonl"


def _embed(texts: list[str], windows: int) -> np.ndarray:
    from rich.progress import track

    encoder = SentenceEncoder(DEFAULT_ENCODER_DIR, threads=0, max_windows=windows)
    return np.vstack([encoder.encode([t]) for t in track(texts, description="sentence embeddings", transient=True)])


def cross_validate(features: str, windows: int, c: float, folds: int) -> dict:
    from rich.progress import track
    from sklearn.model_selection import StratifiedKFold

    complaints = load_labelled(COMPLAINTS)
    written = load_labelled(WRITTEN)
    with COMPLAINTS.open(encoding="utf-8", newline="") as handle:
        confidence = {row["id"]: row["confidence"] for row in csv.DictReader(handle)}
    low = np.array([confidence[ticket_id] == "low" for ticket_id in complaints.ids])
    taxonomy = load_taxonomy(DEFAULT_TAXONOMY_PATH)
    teams = taxonomy.team_names
    texts = [normalize(t) for t in complaints.texts + written.texts]
    targets = np.array([teams.index(taxonomy.resolve_label(label)) for label in complaints.labels + written.labels])
    n = len(complaints.texts)
    embeddings = _embed(texts, windows) if "encoder" in features else None
    predicted = np.zeros(n, dtype=int)
    splits = StratifiedKFold(folds, shuffle=True, random_state=SEED).split(np.zeros(n), targets[:n])
    for train_idx, test_idx in track(list(splits), description="folds", transient=True):
        train_idx = np.concatenate([train_idx, np.arange(n, len(texts))])
        train_texts, test_texts = [texts[i] for i in train_idx], [texts[i] for i in test_idx]
        vectorizers = _fit_vectorizers(train_texts) if "tfidf" in features else []
        train_emb = None if embeddings is None else embeddings[train_idx]
        test_emb = None if embeddings is None else embeddings[test_idx]
        model = _logistic(c).fit(_features(train_texts, vectorizers, train_emb), targets[train_idx])
        predicted[test_idx] = model.predict(_features(test_texts, vectorizers, test_emb))
    hit = predicted == targets[:n]
    truth = [teams[i] for i in targets[:n]]
    report = per_label(truth, [teams[i] for i in predicted], teams)
    accuracy = float(hit.mean())
    return {
        "features": features,
        "windows": windows if embeddings is not None else None,
        "C": c,
        "folds": folds,
        "n": n,
        "accuracy": accuracy,
        "accuracy_standard_error": float(np.sqrt(accuracy * (1 - accuracy) / n)),
        "macro_f1": macro_f1(report),
        "accuracy_confidence_high": float(hit[~low].mean()),
        "accuracy_confidence_low": float(hit[low].mean()),
        "per_label_f1": {label: report[label]["f1"] for label in teams},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", choices=["tfidf+encoder", "tfidf", "encoder"], default="tfidf+encoder")
    parser.add_argument("--windows", type=int, default=MAX_WINDOWS, help="encoder windows per text")
    parser.add_argument("--C", dest="c", type=float, default=50.0)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    if not COMPLAINTS.exists():
        parser.error(f"{COMPLAINTS} is missing: this benchmark needs ../shared/data beside the checkout")
    print(json.dumps(cross_validate(args.features, args.windows, args.c, args.folds), indent=2))


if __name__ == "__main__":
    main()
