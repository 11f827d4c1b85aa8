"""Train a routing model: ``python -m agent.train --data FILE --out DIR``.

Deterministic (fixed seed, deterministic solvers): the same data and flags give the same weights
and the same ``model_version``. Writes a model directory that ``agent.router`` and
``agent.evaluate --model DIR`` read. Labels may be team or category names of the taxonomy; data
whose labels are not in the telecom taxonomy (e.g. BANKING77's 77 intents) gets a flat taxonomy
derived from its labels, so a new domain needs data (and optionally a taxonomy file), not code.

Reproduce the shipped telecom model (``agent/models/telecom``)::

    python -m agent.train --data ../shared/data/comcast_fcc_2015/complaints_labeled.csv \
        --extra agent/data/telecom_examples.jsonl --holdout 0.2 --holdout-out build/holdout.csv \
        --out agent/models/telecom
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from agent.calibration import fit_temperature, negative_log_likelihood
from agent.classifier import FORMAT, FORMAT_VERSION, MODELS_DIR, TextClassifier, log_softmax, softmax
from agent.cli import OneLineArgumentParser
from agent.datasets import LabelledTexts, load_labelled
from agent.encoder import DEFAULT_ENCODER_DIR, SentenceEncoder, text_fingerprint
from agent.exceptions import RouterError
from agent.metrics import expected_calibration_error
from agent.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy, load_taxonomy
from agent.text import normalize

SEED = 13
RECIPE = "tfidf+minilm-2-windows-lr-balanced+fast-head-cascade"
"""Names the training recipe; part of the model version, so a new recipe never reuses an old version string."""
WORD = {"name": "word", "analyzer": "word", "ngram_range": [1, 2], "max_features": 60_000}
CHAR = {"name": "char", "analyzer": "char_wb", "ngram_range": [2, 5], "max_features": 150_000}


def resolve_taxonomy(labels: list[str], path: str | None) -> Taxonomy:
    """The given taxonomy; else telecom when every label belongs to it; else one derived from the labels."""
    if path:
        return load_taxonomy(path)
    telecom = load_taxonomy(DEFAULT_TAXONOMY_PATH)
    known = set(telecom.team_names) | set(telecom.team_of)
    if set(labels) <= known:
        return telecom
    return Taxonomy.from_labels(labels)


def stratified_split(labels: list[str], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, holdout): ``fraction`` of every label held out, at least one row per label when possible."""
    rng = np.random.default_rng(seed)
    train, holdout = [], []
    for label in sorted(set(labels)):
        idx = np.array([i for i, lab in enumerate(labels) if lab == label])
        rng.shuffle(idx)
        k = round(fraction * len(idx)) if len(idx) > 1 else 0
        holdout.extend(idx[:k].tolist())
        train.extend(idx[k:].tolist())
    return np.array(sorted(train)), np.array(sorted(holdout))


def _features(texts: list[str], vectorizers: list, embeddings: np.ndarray | None):
    from scipy.sparse import csr_matrix, hstack

    blocks = [v.transform(texts) for v in vectorizers]
    if embeddings is not None:
        blocks.append(csr_matrix(embeddings))
    return hstack(blocks).tocsr()


def _fit_vectorizers(texts: list[str]) -> list:
    from sklearn.feature_extraction.text import TfidfVectorizer

    out = []
    for spec in (WORD, CHAR):
        vectorizer = TfidfVectorizer(
            analyzer=spec["analyzer"],
            ngram_range=tuple(spec["ngram_range"]),
            sublinear_tf=True,
            min_df=2 if len(texts) >= 50 else 1,
            max_features=spec["max_features"],
            dtype=np.float32,
        )
        out.append(vectorizer.fit(texts))
    return out


def _logistic(c: float):
    from sklearn.linear_model import LogisticRegression

    # Balanced class weights: without them the rare teams (Account Management is 9 % of real complaints)
    # lose recall to Billing; with them accuracy holds and macro-F1 rises (5-fold CV on the complaints).
    return LogisticRegression(C=c, max_iter=5000, tol=1e-5, class_weight="balanced")


def _scores(model, features, n_rows: int, n_labels: int) -> np.ndarray:
    """Decision scores with one column per label (absent labels of a fold score -1e9)."""
    raw = model.decision_function(features).reshape(n_rows, -1)
    if raw.shape[1] == 1:  # two labels: scikit-learn returns the second label's margin only
        raw = np.hstack([-raw, raw]) / 2
    scores = np.full((n_rows, n_labels), -1e9)
    scores[:, model.classes_] = raw
    return scores


def _out_of_fold_logits(texts, targets, embeddings, folds, c, progress):
    """Scores of every training row from models that did not see it: (full model, TF-IDF-only head or None)."""
    from sklearn.model_selection import StratifiedKFold

    n_labels = int(targets.max()) + 1
    full = np.zeros((len(texts), n_labels))
    fast = np.zeros((len(texts), n_labels)) if embeddings is not None else None
    smallest = int(np.bincount(targets).min())
    folds = max(2, min(folds, smallest)) if smallest >= 2 else 0
    if not folds:
        return None, None
    task = progress.add_task("calibration folds", total=folds)
    for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=SEED).split(texts, targets):
        fold_texts = [texts[i] for i in train_idx]
        held = [texts[i] for i in test_idx]
        vectorizers = _fit_vectorizers(fold_texts)
        emb = None if embeddings is None else embeddings[train_idx]
        emb_held = None if embeddings is None else embeddings[test_idx]
        model = _logistic(c).fit(_features(fold_texts, vectorizers, emb), targets[train_idx])
        full[test_idx] = _scores(model, _features(held, vectorizers, emb_held), len(test_idx), n_labels)
        if fast is not None:
            head = _logistic(c).fit(_features(fold_texts, vectorizers, None), targets[train_idx])
            fast[test_idx] = _scores(head, _features(held, vectorizers, None), len(test_idx), n_labels)
        progress.advance(task)
    return full, fast


def _cascade_threshold(fast_probs: np.ndarray, full_probs: np.ndarray, targets: np.ndarray) -> float | None:
    """Lowest confidence of the TF-IDF-only head at which it is, out of fold, at least as accurate as the full
    model on the same tickets (and covers some); None when no such level exists (no cascade)."""
    fast_conf = fast_probs.max(axis=1)
    fast_hit = fast_probs.argmax(axis=1) == targets
    full_hit = full_probs.argmax(axis=1) == targets
    for threshold in np.arange(0.80, 0.995, 0.01):
        chosen = fast_conf >= threshold
        if chosen.sum() >= 20 and fast_hit[chosen].mean() >= full_hit[chosen].mean():
            return float(round(threshold, 2))
    return None


def _weights(model, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """(coef, intercept) with one row per label; scikit-learn keeps a single row for two labels."""
    if n_labels > 2:
        return model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
    coef = np.vstack([-model.coef_, model.coef_]).astype(np.float32) / 2
    return coef, np.array([-model.intercept_[0], model.intercept_[0]], dtype=np.float32) / 2


def train(
    data: LabelledTexts,
    out: Path,
    taxonomy_path: str | None = None,
    holdout: float = 0.0,
    holdout_out: Path | None = None,
    extra: LabelledTexts | None = None,
    use_encoder: bool = True,
    c: float = 50.0,
    folds: int = 5,
    finetuned: Path | None = None,
) -> dict:
    """Fit, calibrate, check on the holdout, and write the model directory; returns the training report."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    all_labels = data.labels + (extra.labels if extra else [])
    taxonomy = resolve_taxonomy(all_labels, taxonomy_path)
    teams = taxonomy.team_names
    to_team = {label: taxonomy.resolve_label(label) for label in set(all_labels)}
    train_idx, holdout_idx = (
        stratified_split(data.labels, holdout, SEED)
        if holdout
        else (np.arange(len(data.texts)), np.array([], dtype=int))
    )
    texts = [normalize(data.texts[i]) for i in train_idx]
    labels = [to_team[data.labels[i]] for i in train_idx]
    if extra:
        texts += [normalize(t) for t in extra.texts]
        labels += [to_team[label] for label in extra.labels]
    present = [t for t in teams if t in set(labels)]
    if len(present) < 2:
        raise RouterError("training needs at least two different labels")
    targets = np.array([present.index(label) for label in labels])
    if holdout_out and len(holdout_idx):
        holdout_out.parent.mkdir(parents=True, exist_ok=True)
        with holdout_out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "text", "team"])
            for i in holdout_idx:
                writer.writerow([data.ids[i], data.texts[i], to_team[data.labels[i]]])

    with Progress(console=console, transient=False) as progress:
        embeddings = None
        if use_encoder:
            encoder = SentenceEncoder(DEFAULT_ENCODER_DIR, threads=0)
            task = progress.add_task("sentence embeddings", total=len(texts))
            parts = []
            for start in range(0, len(texts), 256):
                parts.append(encoder.encode(texts[start : start + 256]))
                progress.advance(task, len(parts[-1]))
            embeddings = np.vstack(parts)
        oof, oof_fast = _out_of_fold_logits(texts, targets, embeddings, folds, c, progress)
        fit_task = progress.add_task("final fit", total=2)
        vectorizers = _fit_vectorizers(texts)
        model = _logistic(c).fit(_features(texts, vectorizers, embeddings), targets)
        progress.advance(fit_task)
        head = _logistic(c).fit(_features(texts, vectorizers, None), targets) if oof_fast is not None else None
        progress.advance(fit_task)

    temperature, oof_report = 1.0, {}
    if oof is not None:
        temperature = fit_temperature(oof, targets)
        probs = softmax(oof, temperature)
        predicted = probs.argmax(axis=1)
        oof_report = {
            "accuracy": float((predicted == targets).mean()),
            "ece_uncalibrated": expected_calibration_error(softmax(oof).max(axis=1), predicted == targets),
            "ece": expected_calibration_error(probs.max(axis=1), predicted == targets),
        }
    cascade = None
    if oof is not None and oof_fast is not None and head is not None:
        fast_temperature = fit_temperature(oof_fast, targets)
        fast_probs = softmax(oof_fast, fast_temperature)
        threshold = _cascade_threshold(fast_probs, softmax(oof, temperature), targets)
        if threshold is not None:
            cascade = {
                "temperature": fast_temperature,
                "threshold": threshold,
                "out_of_fold_fast_share": float((fast_probs.max(axis=1) >= threshold).mean()),
            }
            oof_report["fast_path_share"] = cascade["out_of_fold_fast_share"]
    ensemble, ensemble_arrays = (None, {})
    if finetuned is not None:
        if oof is None:
            raise RouterError("--finetuned needs out-of-fold scores: use --folds 2 or more")
        ensemble, ensemble_arrays = _fit_ensemble(finetuned, texts, targets, present, oof, temperature)
        oof_report["ensemble"] = ensemble["validation"]
    min_similarity = _min_similarity(embeddings)
    out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"{label}\t{text}\n".encode())
    digest.update(json.dumps([WORD, CHAR, use_encoder, c, folds, SEED, RECIPE]).encode())
    digest.update(taxonomy.model_dump_json().encode())  # thresholds and priority rules travel with the model
    if ensemble is not None:
        digest.update(json.dumps(ensemble, sort_keys=True).encode())
        digest.update(ensemble_arrays["coef_ft"].tobytes())
    version = f"{taxonomy.name}-{digest.hexdigest()[:10]}"
    vocab = {
        spec["name"]: {k: int(v) for k, v in vec.vocabulary_.items()}
        for spec, vec in zip((WORD, CHAR), vectorizers, strict=True)
    }
    coef, intercept = _weights(model, len(present))
    arrays = {"coef": coef, "intercept": intercept}
    if cascade:
        arrays["coef_fast"], arrays["intercept_fast"] = _weights(head, len(present))
    arrays.update(ensemble_arrays)
    for spec, vec in zip((WORD, CHAR), vectorizers, strict=True):
        arrays[f"idf_{spec['name']}"] = vec.idf_.astype(np.float32)
    if embeddings is not None:
        arrays["reference_embeddings"] = embeddings.astype(np.float16)
    np.savez_compressed(out / "weights.npz", **arrays)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": present,
        "taxonomy": taxonomy.model_dump(mode="json"),
        "features": {"tfidf": [WORD, CHAR], "encoder": DEFAULT_ENCODER_DIR.name if use_encoder else None},
        "calibration": {"method": "temperature", "temperature": temperature, "folds": folds},
        "cascade": cascade,
        "ensemble": ensemble,
        "scope": {"min_similarity": min_similarity},
        "training": {
            "data": data.source,
            "extra": extra.source if extra else None,
            "rows": len(texts),
            "per_label": {label: labels.count(label) for label in present},
            "holdout_fraction": holdout,
            "holdout_rows": len(holdout_idx),
            "holdout_ids": [data.ids[i] for i in holdout_idx],
            "seed": SEED,
            "C": c,
            "out_of_fold": oof_report,
        },
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    report = {"model_version": version, "out": str(out), "rows": len(texts), "temperature": temperature, **oof_report}
    if len(holdout_idx):
        report["holdout"] = _holdout_report(out, data, holdout_idx, to_team)
        meta["training"]["holdout_report"] = report["holdout"]
        (out / "model.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def _fit_ensemble(
    directory: Path, texts: list[str], targets: np.ndarray, labels: list[str], oof: np.ndarray, temperature: float
) -> tuple[dict, dict[str, np.ndarray]]:
    """Weight and temperature that average the linear model with a fine-tuned encoder's head.

    Fitted on the training complaints that ``tools/finetune_encoder.py`` kept out of fine-tuning, using the
    linear model's out-of-fold scores for the same rows: neither side has seen them, so the weight is not
    tilted towards whichever model memorised its training data. The weight minimises log-loss (smoother
    than accuracy on a few hundred rows); the temperature then calibrates the average.
    """
    try:
        config = json.loads((directory / "encoder.json").read_text(encoding="utf-8"))
        with np.load(directory / "head.npz") as archive:
            coef, intercept = archive["coef"].astype(np.float32), archive["intercept"].astype(np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise RouterError(f"{directory} is not a fine-tuned encoder (tools/finetune_encoder.py): {exc}") from exc
    head = config.get("head") or {}
    if head.get("labels") != labels:
        raise RouterError(f"the fine-tuned head in {directory} predicts {head.get('labels')}, this model {labels}")
    wanted = set(head.get("validation_fingerprints", []))
    rows = np.array([i for i, text in enumerate(texts) if text_fingerprint(text) in wanted], dtype=int)
    if len(rows) < 20:
        raise RouterError(
            f"only {len(rows)} of the {len(wanted)} rows {directory.name} kept out of fine-tuning are in this "
            "training data: fine-tune with the same --data, --extra and --holdout"
        )
    tuned = SentenceEncoder(directory, threads=0).encode([texts[i] for i in rows]) @ coef.T + intercept
    linear, finetuned = log_softmax(oof[rows], temperature), log_softmax(tuned)
    truth = targets[rows]

    def loss(weight: float) -> float:
        return negative_log_likelihood(weight * linear + (1 - weight) * finetuned, truth, 1.0)

    weight = min((round(float(w), 2) for w in np.linspace(0.0, 1.0, 21)), key=loss)
    mixed = weight * linear + (1 - weight) * finetuned
    mixed_temperature = fit_temperature(mixed, truth)
    name = (
        str(directory.resolve().relative_to(MODELS_DIR))
        if directory.resolve().is_relative_to(MODELS_DIR)
        else str(directory.resolve())
    )
    ensemble = {
        "encoder": name,
        "weight": weight,
        "temperature": mixed_temperature,
        "validation": {
            "rows": len(rows),
            "accuracy_linear": float((linear.argmax(axis=1) == truth).mean()),
            "accuracy_finetuned": float((finetuned.argmax(axis=1) == truth).mean()),
            "accuracy_ensemble": float((mixed.argmax(axis=1) == truth).mean()),
        },
    }
    return ensemble, {"coef_ft": coef, "intercept_ft": intercept}


def _min_similarity(embeddings: np.ndarray | None) -> float:
    """Scope threshold: a new ticket less similar to every training ticket than 99 % of training tickets are
    to their nearest neighbour is 'unlike anything seen'. Leave-one-out, capped to bound memory on big sets."""
    if embeddings is None or len(embeddings) < 3:
        return -1.0
    sample = embeddings[:: max(1, len(embeddings) // 2000)]
    sims = sample @ embeddings.T
    sims[sims > 0.9999] = -1.0  # the example itself (and exact duplicates)
    return float(np.quantile(sims.max(axis=1), 0.01)) * 0.9


def _holdout_report(out: Path, data: LabelledTexts, holdout_idx: np.ndarray, to_team: dict[str, str]) -> dict:
    from agent.evaluate import evaluate_classifier

    classifier = TextClassifier.load(out)
    texts = [data.texts[i] for i in holdout_idx]
    truth = [to_team[data.labels[i]] for i in holdout_idx]
    report = evaluate_classifier(classifier, texts, truth)
    return {k: report[k] for k in ("n", "accuracy", "macro_f1", "ece", "manual_review_rate", "auto_accuracy")}


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog="python -m agent.train", description="Train a Switchboard routing model.")
    parser.add_argument("--data", required=True, help="labelled tickets, .csv or .jsonl")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="team")
    parser.add_argument("--out", required=True, type=Path, help="model directory to write")
    parser.add_argument("--taxonomy", help="taxonomy JSON (default: telecom if the labels fit it)")
    parser.add_argument("--extra", help="more labelled tickets used for training only (same columns)")
    parser.add_argument("--holdout", type=float, default=0.0, help="stratified fraction of --data never trained on")
    parser.add_argument("--holdout-out", type=Path, help="write the held-out rows to this CSV (id,text,team)")
    parser.add_argument("--no-encoder", action="store_true", help="TF-IDF only: faster, less accurate")
    parser.add_argument("--C", dest="c", type=float, default=50.0, help="inverse regularisation strength")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds for calibration")
    parser.add_argument(
        "--finetuned", type=Path, help="fine-tuned encoder from tools/finetune_encoder.py to average with (same data)"
    )
    args = parser.parse_args(argv)
    try:
        if not 0.0 <= args.holdout < 1.0:
            raise RouterError("--holdout must be in [0, 1)")
        data = load_labelled(args.data, args.text_column, args.label_column)
        extra = load_labelled(args.extra, args.text_column, args.label_column) if args.extra else None
        report = train(
            data,
            args.out,
            args.taxonomy,
            args.holdout,
            args.holdout_out,
            extra,
            not args.no_encoder,
            args.c,
            args.folds,
            args.finetuned,
        )
    except RouterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
