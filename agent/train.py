"""Train a routing model: ``python -m agent.train --data FILE [--data FILE ...] --out DIR``.

Deterministic (fixed seed, deterministic solvers): the same data and flags give the same weights
and the same ``model_version``. Writes a model directory that ``agent.router`` and
``agent.evaluate --model DIR`` read. Labels may be team or category names of the taxonomy; data
whose labels are not in the telecom taxonomy (e.g. BANKING77's 77 intents) gets a flat taxonomy
derived from its labels, so a new domain needs data (and optionally a taxonomy file), not code.

Several datasets: ``--data`` may be given once per labelled file; ``--holdout`` keeps the same fraction of each
file out of training, stratified per channel and label, and ``--holdout-out`` writes them all to one CSV
(``id,text,team,channel``). Every row has a channel: the file's ``channel`` column when it has one, else
``--default-channel`` (``web``; the FCC complaints, which have no such column, were filed through a web form).
``--extra`` files (repeatable) are training-only: never held out, never used to fit the routing thresholds.

Besides the weights, training fits on out-of-fold predictions (models that did not see the row, through the same
cascade as production) the temperature, the fast head's cascade threshold and the routing policy: per channel with
enough rows, and over all channels as the fallback, the confidence / top-2 margin / several-issues thresholds that
decide the most tickets at ``--target`` accuracy (``agent.policy``). Only ``--data`` rows count for the policy.

Nothing in the model directory replays training text: vocabularies are stored sorted, the out-of-scope check keeps
k-means centroids of at least ``MIN_CLUSTER`` training embeddings (not one vector per ticket), and ``model.json``
holds ids and counts, never text.

Reproduce the shipped telecom model (``agent/models/telecom``)::

    python -m agent.train --data ../shared/data/comcast_fcc_2015/complaints_labeled.csv \
        --data ../shared/data/social_us_telecom/messages_labeled.csv \
        --extra agent/data/telecom_examples.jsonl --holdout 0.2 --holdout-out build/holdout.csv \
        --out agent/models/telecom
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from agent.calibration import fit_temperature, negative_log_likelihood
from agent.classifier import FORMAT, FORMAT_VERSION, MODELS_DIR, TextClassifier, log_softmax, softmax
from agent.cli import OneLineArgumentParser
from agent.datasets import DEFAULT_CHANNEL, LabelledTexts, load_labelled
from agent.encoder import DEFAULT_ENCODER_DIR, SentenceEncoder, text_fingerprint
from agent.exceptions import RouterError
from agent.metrics import expected_calibration_error
from agent.policy import DEFAULT_TARGET, Signals, ThresholdPolicy, fit_policy
from agent.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy, load_taxonomy
from agent.text import prepare

SEED = 13
RECIPE = "tfidf+minilm-2-windows-lr-balanced+fast-head-cascade+channels+policy"
"""Names the training recipe; part of the model version, so a new recipe never reuses an old version string."""
WORD = {"name": "word", "analyzer": "word", "ngram_range": [1, 2], "max_features": 60_000}
CHAR = {"name": "char", "analyzer": "char_wb", "ngram_range": [2, 5], "max_features": 150_000}
MIN_CLUSTER = 5
"""Training embeddings averaged into each stored out-of-scope reference vector, at least."""


@dataclass(frozen=True)
class Recipe:
    """The choices for short messages that cross-validation compared (table in ``agent/data/DATA_CARD.md``)."""

    channel_feature: bool = True
    """One indicator column per training channel (when there are two or more), read by both heads: lets the model
    shift its priors per channel (63 % of social messages are outages, 24 % of web complaints)."""
    mask_markup: bool = False
    """``agent.text.mask_markup`` on every text at training and routing time (handles, links, hashtags). Off: it
    did not help by cross-validation, nor on held-out messages whose links were put back raw."""
    channel_weights: dict[str, float] = field(default_factory=dict)
    """Sample weight per channel (others 1.0), on top of the balanced class weights."""

    def weights(self, channels: list[str]) -> np.ndarray | None:
        """Sample weights of the training rows (None: every row weighs 1)."""
        if not self.channel_weights:
            return None
        return np.array([self.channel_weights.get(c, 1.0) for c in channels], dtype=float)


@dataclass(frozen=True)
class TrainingRows:
    """What the model is fitted on: prepared texts, team labels, channels, and which rows are real (``--data``)."""

    texts: list[str]
    labels: list[str]
    channels: list[str]
    real: np.ndarray


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
    return np.array(sorted(train), dtype=int), np.array(sorted(holdout), dtype=int)


def holdout_split(data: LabelledTexts, fraction: float, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``stratified_split`` of one dataset per (channel, label). A one-channel file splits exactly as
    ``stratified_split`` of its labels alone, so the complaints' holdout is the one earlier models held out."""
    if not fraction:
        return np.arange(len(data.texts)), np.array([], dtype=int)
    keys = [f"{channel}\x1f{label}" for channel, label in zip(data.channels, data.labels, strict=True)]
    return stratified_split(keys, fraction, seed)


def _channel_block(channels: list[str], names: list[str]):
    """Indicator columns, one per channel the model knows; a channel it does not know gets none."""
    from scipy.sparse import csr_matrix

    rows = [i for i, c in enumerate(channels) if c in names]
    columns = [names.index(channels[i]) for i in rows]
    return csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(channels), len(names)))


def _features(texts: list[str], vectorizers: list, embeddings: np.ndarray | None, channels=None):
    """Columns: TF-IDF blocks, then the channel indicators (when given), then the embedding (when given)."""
    from scipy.sparse import csr_matrix, hstack

    blocks = [v.transform(texts) for v in vectorizers]
    if channels is not None:
        blocks.append(channels)
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
    # Balancing within each channel instead did not change the per-channel CV (agent/data/DATA_CARD.md).
    return LogisticRegression(C=c, max_iter=5000, tol=1e-5, class_weight="balanced")


def _scores(model, features, n_rows: int, n_labels: int) -> np.ndarray:
    """Decision scores with one column per label (absent labels of a fold score -1e9)."""
    raw = model.decision_function(features).reshape(n_rows, -1)
    if raw.shape[1] == 1:  # two labels: scikit-learn returns the second label's margin only
        raw = np.hstack([-raw, raw]) / 2
    scores = np.full((n_rows, n_labels), -1e9)
    scores[:, model.classes_] = raw
    return scores


def _out_of_fold_logits(texts, targets, embeddings, folds, c, progress, channels=None, strata=None, weights=None):
    """Scores of every training row from models that did not see it: (full model, TF-IDF-only head or None).

    ``channels`` is the channel indicator matrix (or None), ``strata`` what the folds are stratified on
    (default: the targets), ``weights`` the sample weights (default: none).
    """
    from sklearn.model_selection import StratifiedKFold

    strata = targets if strata is None else strata
    n_labels = int(targets.max()) + 1
    full = np.zeros((len(texts), n_labels))
    fast = np.zeros((len(texts), n_labels)) if embeddings is not None else None
    smallest = int(np.unique(strata, return_counts=True)[1].min())
    folds = max(2, min(folds, smallest)) if smallest >= 2 else 0
    if not folds:
        return None, None
    task = progress.add_task("calibration folds", total=folds)
    for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=SEED).split(texts, strata):
        fold_texts = [texts[i] for i in train_idx]
        held = [texts[i] for i in test_idx]
        vectorizers = _fit_vectorizers(fold_texts)
        ch_fit = None if channels is None else channels[train_idx]
        ch_held = None if channels is None else channels[test_idx]
        emb = None if embeddings is None else embeddings[train_idx]
        emb_held = None if embeddings is None else embeddings[test_idx]
        sample_weight = None if weights is None else weights[train_idx]
        model = _logistic(c).fit(
            _features(fold_texts, vectorizers, emb, ch_fit), targets[train_idx], sample_weight=sample_weight
        )
        full[test_idx] = _scores(model, _features(held, vectorizers, emb_held, ch_held), len(test_idx), n_labels)
        if fast is not None:
            head = _logistic(c).fit(
                _features(fold_texts, vectorizers, None, ch_fit), targets[train_idx], sample_weight=sample_weight
            )
            fast[test_idx] = _scores(head, _features(held, vectorizers, None, ch_held), len(test_idx), n_labels)
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


def sorted_vocabulary(vectorizer) -> list[str]:
    """The fitted vocabulary as a sorted term list, the position of a term being its column.

    scikit-learn numbers the columns in sorted term order, but its ``vocabulary_`` dict keeps the order terms
    were met in the corpus, and char n-grams in corpus order nearly spell the training text out: only the sorted
    list is stored.
    """
    terms = sorted(vectorizer.vocabulary_)
    if [vectorizer.vocabulary_[t] for t in terms] != list(range(len(terms))):
        raise RouterError("the TF-IDF vocabulary's columns are not in sorted term order")  # never with scikit-learn
    return terms


def _spherical_kmeans(points: np.ndarray, k: int, seed: int, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Unit-length centroids and each point's cluster: k-means++ seeding, then Lloyd steps on cosine similarity."""
    rng = np.random.default_rng(seed)
    centres = [points[int(rng.integers(len(points)))]]
    distance = 1.0 - points @ centres[0]
    for _ in range(1, k):
        weights = np.clip(distance, 0.0, None)
        if weights.sum() <= 0:
            break
        chosen = int(rng.choice(len(points), p=weights / weights.sum()))
        centres.append(points[chosen])
        distance = np.minimum(distance, 1.0 - points @ points[chosen])
    centroids = np.stack(centres)
    assign = np.zeros(len(points), dtype=int)
    for _ in range(iterations):
        assign = (points @ centroids.T).argmax(axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, points)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        updated = np.where(norms > 0, sums / np.maximum(norms, 1e-12), centroids)
        if np.allclose(updated, centroids):
            break
        centroids = updated
    return centroids, (points @ centroids.T).argmax(axis=1)


def _reference_centroids(embeddings: np.ndarray | None) -> tuple[np.ndarray | None, float]:
    """(centroids, min_similarity) of the out-of-scope check.

    The training embeddings are grouped into about one cluster per 20 tickets (spherical k-means, seeded); only
    clusters of at least ``MIN_CLUSTER`` tickets are kept, so no stored vector stands for one ticket. A new ticket
    less similar to every centroid than 99 % of training tickets are to their nearest one (× 0.9) is 'unlike
    anything seen'.
    """
    if embeddings is None or len(embeddings) < MIN_CLUSTER:
        return None, -1.0
    k = int(np.clip(len(embeddings) // 20, 1, 256))
    centroids, assign = _spherical_kmeans(embeddings.astype(np.float64), k, SEED)
    kept = centroids[np.bincount(assign, minlength=len(centroids)) >= MIN_CLUSTER]
    if not len(kept):
        return None, -1.0
    nearest = (embeddings @ kept.T).max(axis=1)
    return kept.astype(np.float32), float(np.quantile(nearest, 0.01)) * 0.9


def _training_rows(
    datasets: list[LabelledTexts], extras: list[LabelledTexts], holdouts: list[np.ndarray], to_team, recipe: Recipe
) -> TrainingRows:
    texts, labels, channels, real = [], [], [], []
    for data, keep in zip(datasets, holdouts, strict=True):
        for i in keep:
            texts.append(prepare(data.texts[i], recipe.mask_markup))
            labels.append(to_team[data.labels[i]])
            channels.append(data.channels[i])
            real.append(True)
    for extra in extras:
        texts += [prepare(t, recipe.mask_markup) for t in extra.texts]
        labels += [to_team[label] for label in extra.labels]
        channels += extra.channels
        real += [False] * len(extra.texts)
    return TrainingRows(texts, labels, channels, np.array(real, dtype=bool))


def _write_holdout(path: Path, datasets: list[LabelledTexts], held: list[np.ndarray], to_team) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "team", "channel"])
        for data, rows in zip(datasets, held, strict=True):
            for i in rows:
                writer.writerow([data.ids[i], data.texts[i], to_team[data.labels[i]], data.channels[i]])


def _per_channel(values: dict[str, np.ndarray], channels: np.ndarray, figures) -> dict[str, dict]:
    return {c: figures({k: v[channels == c] for k, v in values.items()}) for c in sorted(set(channels.tolist()))}


def train(
    data: LabelledTexts | list[LabelledTexts],
    out: Path,
    taxonomy_path: str | None = None,
    holdout: float = 0.0,
    holdout_out: Path | None = None,
    extra: LabelledTexts | list[LabelledTexts] | None = None,
    use_encoder: bool = True,
    c: float = 50.0,
    folds: int = 5,
    finetuned: Path | None = None,
    recipe: Recipe | None = None,
    target: float = DEFAULT_TARGET,
) -> dict:
    """Fit, calibrate, fit the routing policy, check on the holdout, and write the model directory; returns the
    training report. ``data`` is one labelled dataset or several (each with its own holdout); ``extra`` is
    training-only."""
    from rich.console import Console
    from rich.progress import Progress

    recipe = recipe or Recipe()
    datasets = data if isinstance(data, list) else [data]
    extras = extra if isinstance(extra, list) else ([extra] if extra else [])
    console = Console(stderr=True)
    all_labels = [label for d in datasets + extras for label in d.labels]
    taxonomy = resolve_taxonomy(all_labels, taxonomy_path)
    teams = taxonomy.team_names
    to_team = {label: taxonomy.resolve_label(label) for label in set(all_labels)}
    splits = [holdout_split(d, holdout) for d in datasets]
    rows = _training_rows(datasets, extras, [keep for keep, _ in splits], to_team, recipe)
    texts, labels = rows.texts, rows.labels
    present = [t for t in teams if t in set(labels)]
    if len(present) < 2:
        raise RouterError("training needs at least two different labels")
    targets = np.array([present.index(label) for label in labels])
    # One channel carries no information (its column would be a second intercept): indicators from two on.
    channel_names = sorted(set(rows.channels)) if recipe.channel_feature and len(set(rows.channels)) > 1 else []
    channel_block = _channel_block(rows.channels, channel_names) if channel_names else None
    weights = recipe.weights(rows.channels)
    strata = np.array([f"{ch}\x1f{t}" for ch, t in zip(rows.channels, targets, strict=True)])
    held_out = [held for _, held in splits]
    if holdout_out and sum(len(h) for h in held_out):
        _write_holdout(holdout_out, datasets, held_out, to_team)

    with Progress(console=console, transient=False) as progress:
        embeddings = _embed(texts, progress) if use_encoder else None
        oof, oof_fast = _out_of_fold_logits(
            texts, targets, embeddings, folds, c, progress, channel_block, strata, weights
        )
        fit_task = progress.add_task("final fit", total=2)
        vectorizers = _fit_vectorizers(texts)
        model = _logistic(c).fit(
            _features(texts, vectorizers, embeddings, channel_block), targets, sample_weight=weights
        )
        progress.advance(fit_task)
        head = (
            _logistic(c).fit(_features(texts, vectorizers, None, channel_block), targets, sample_weight=weights)
            if oof_fast is not None
            else None
        )
        progress.advance(fit_task)

    fitted = (
        _calibrate(oof, oof_fast if head is not None else None, targets, rows, taxonomy.thresholds.multi_issue, target)
        if oof is not None
        else Calibration()
    )
    temperature, cascade, policy, oof_report = fitted.temperature, fitted.cascade, fitted.policy, fitted.report
    ensemble, ensemble_arrays = (None, {})
    if finetuned is not None:
        if oof is None:
            raise RouterError("--finetuned needs out-of-fold scores: use --folds 2 or more")
        ensemble, ensemble_arrays = _fit_ensemble(finetuned, texts, targets, present, oof, temperature)
        oof_report["ensemble"] = ensemble["validation"]
    centroids, min_similarity = _reference_centroids(embeddings)
    settings = [WORD, CHAR, use_encoder, c, folds, SEED, RECIPE, asdict(recipe), target]
    version = _model_version(rows, settings, taxonomy, ensemble, ensemble_arrays)
    arrays = {**_arrays(model, head if cascade else None, vectorizers, len(present)), **ensemble_arrays}
    if centroids is not None:
        arrays["reference_centroids"] = centroids.astype(np.float16)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "weights.npz", **arrays)
    vocab = {spec["name"]: sorted_vocabulary(vec) for spec, vec in zip((WORD, CHAR), vectorizers, strict=True)}
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": present,
        "taxonomy": taxonomy.model_dump(mode="json"),
        "features": {
            "tfidf": [WORD, CHAR],
            "channels": channel_names,
            "mask_markup": recipe.mask_markup,
            "encoder": DEFAULT_ENCODER_DIR.name if use_encoder else None,
        },
        "calibration": {"method": "temperature", "temperature": temperature, "folds": folds},
        "cascade": cascade,
        "ensemble": ensemble,
        "policy": policy.to_json() if policy else None,
        "scope": {
            "min_similarity": min_similarity,
            "reference": f"k-means centroids of >= {MIN_CLUSTER} training embeddings",
        },
        "training": {
            **_training_summary(datasets, extras, splits, rows, present),
            "recipe": asdict(recipe),
            "holdout_fraction": holdout,
            "seed": SEED,
            "C": c,
            "out_of_fold": oof_report,
        },
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    report = {"model_version": version, "out": str(out), "rows": len(texts), "temperature": temperature, **oof_report}
    if meta["policy"]:
        report["policy"] = meta["policy"]
    if meta["training"]["holdout_rows"]:
        report["holdout"] = _holdout_report(out, datasets, held_out, to_team)
        meta["training"]["holdout_report"] = report["holdout"]
        (out / "model.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def _model_version(rows: TrainingRows, settings: list, taxonomy: Taxonomy, ensemble, ensemble_arrays) -> str:
    """A digest of everything that shapes the weights: rows, settings, taxonomy, ensemble."""
    digest = hashlib.sha256()
    for text, label, channel in zip(rows.texts, rows.labels, rows.channels, strict=True):
        digest.update(f"{label}\t{channel}\t{text}\n".encode())
    digest.update(json.dumps(settings).encode())
    digest.update(taxonomy.model_dump_json().encode())  # thresholds and priority rules travel with the model
    if ensemble is not None:
        digest.update(json.dumps(ensemble, sort_keys=True).encode())
        digest.update(ensemble_arrays["coef_ft"].tobytes())
    return f"{taxonomy.name}-{digest.hexdigest()[:10]}"


def _arrays(model, head, vectorizers: list, n_labels: int) -> dict[str, np.ndarray]:
    """Weights of the full model and (when the cascade uses it) the fast head, and the idf of each TF-IDF block."""
    coef, intercept = _weights(model, n_labels)
    arrays = {"coef": coef, "intercept": intercept}
    if head is not None:
        arrays["coef_fast"], arrays["intercept_fast"] = _weights(head, n_labels)
    for spec, vec in zip((WORD, CHAR), vectorizers, strict=True):
        arrays[f"idf_{spec['name']}"] = vec.idf_.astype(np.float32)
    return arrays


def _embed(texts: list[str], progress) -> np.ndarray:
    encoder = SentenceEncoder(DEFAULT_ENCODER_DIR, threads=0)
    task = progress.add_task("sentence embeddings", total=len(texts))
    parts = []
    for start in range(0, len(texts), 256):
        parts.append(encoder.encode(texts[start : start + 256]))
        progress.advance(task, len(parts[-1]))
    return np.vstack(parts)


@dataclass(frozen=True)
class Calibration:
    """What training fits on out-of-fold scores, besides the weights."""

    temperature: float = 1.0
    cascade: dict | None = None
    policy: ThresholdPolicy | None = None
    report: dict = field(default_factory=dict)


def _calibrate(
    oof: np.ndarray, oof_fast: np.ndarray | None, targets: np.ndarray, rows: TrainingRows, multi_issue: float, target
) -> Calibration:
    """Temperatures, the cascade threshold, and the routing policy, all from out-of-fold scores.

    The policy reads the production path (the fast head where the cascade lets it decide, the full model
    elsewhere, both calibrated) on the ``--data`` rows only: written examples are not tickets.
    """
    temperature = fit_temperature(oof, targets)
    probs = softmax(oof, temperature)
    production, cascade = probs, None
    if oof_fast is not None:
        fast_temperature = fit_temperature(oof_fast, targets)
        fast_probs = softmax(oof_fast, fast_temperature)
        threshold = _cascade_threshold(fast_probs, probs, targets)
        if threshold is not None:
            fast_mask = fast_probs.max(axis=1) >= threshold
            production = np.where(fast_mask[:, None], fast_probs, probs)
            cascade = {
                "temperature": fast_temperature,
                "threshold": threshold,
                "out_of_fold_fast_share": float(fast_mask.mean()),
            }
    signals = Signals.from_probabilities(production, multi_issue)
    correct = production.argmax(axis=1) == targets
    real_channels = [channel for channel, real in zip(rows.channels, rows.real, strict=True) if real]
    policy = fit_policy(signals[rows.real], correct[rows.real], real_channels, target)
    report = _out_of_fold_report(oof, probs, production, targets, rows, cascade)
    return Calibration(temperature, cascade, policy, report)


def _training_summary(
    datasets: list[LabelledTexts], extras: list[LabelledTexts], splits, rows: TrainingRows, present: list[str]
) -> dict:
    """Sources, counts per dataset, team and channel, and the held-out ids (ids and counts only, never text)."""
    held_out = [held for _, held in splits]
    return {
        "data": [d.source for d in datasets],
        "extra": [e.source for e in extras],
        "datasets": [
            {
                "source": d.source,
                "rows": len(d.texts),
                "trained_on": len(keep),
                "held_out": len(held),
                "channels": {ch: d.channels.count(ch) for ch in sorted(set(d.channels))},
            }
            for d, (keep, held) in zip(datasets, splits, strict=True)
        ],
        "rows": len(rows.texts),
        "per_label": {label: rows.labels.count(label) for label in present},
        "per_channel": {
            channel: {
                label: sum(
                    1 for ch, lab in zip(rows.channels, rows.labels, strict=True) if (ch, lab) == (channel, label)
                )
                for label in present
            }
            for channel in sorted(set(rows.channels))
        },
        "holdout_rows": sum(len(h) for h in held_out),
        "holdout_ids": [d.ids[i] for d, held in zip(datasets, held_out, strict=True) for i in held],
    }


def _out_of_fold_report(
    oof: np.ndarray, probs: np.ndarray, production: np.ndarray, targets: np.ndarray, rows: TrainingRows, cascade
) -> dict:
    """Out-of-fold accuracy and calibration, overall and per channel (real rows only per channel)."""
    predicted = probs.argmax(axis=1)
    report = {
        "accuracy": float((predicted == targets).mean()),
        "ece_uncalibrated": expected_calibration_error(softmax(oof).max(axis=1), predicted == targets),
        "ece": expected_calibration_error(probs.max(axis=1), predicted == targets),
    }
    if cascade:
        report["fast_path_share"] = cascade["out_of_fold_fast_share"]
    channels = np.array(rows.channels)[rows.real]
    values = {
        "hit": (production.argmax(axis=1) == targets)[rows.real],
        "confidence": production.max(axis=1)[rows.real],
    }
    report["production_path_per_channel"] = _per_channel(
        values,
        channels,
        lambda v: {
            "n": len(v["hit"]),
            "accuracy": float(v["hit"].mean()),
            "ece": expected_calibration_error(v["confidence"], v["hit"]),
        },
    )
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


HOLDOUT_FIGURES = (
    "n",
    "accuracy",
    "macro_f1",
    "ece",
    "manual_review_rate",
    "auto_accuracy",
    "cascade_review_rate",
    "cascade_auto_accuracy",
)


def _holdout_report(
    out: Path, datasets: list[LabelledTexts], held_out: list[np.ndarray], to_team: dict[str, str]
) -> dict:
    """The written model's figures on the held-out rows, overall and per channel (no per-row latency noise)."""
    from agent.evaluate import evaluate_classifier

    classifier = TextClassifier.load(out)
    texts = [d.texts[i] for d, held in zip(datasets, held_out, strict=True) for i in held]
    truth = [to_team[d.labels[i]] for d, held in zip(datasets, held_out, strict=True) for i in held]
    channels = [d.channels[i] for d, held in zip(datasets, held_out, strict=True) for i in held]
    report = evaluate_classifier(classifier, texts, truth, channels)
    summary = {k: report[k] for k in HOLDOUT_FIGURES}
    summary["channels"] = {ch: {k: r[k] for k in HOLDOUT_FIGURES} for ch, r in report["channels"].items()}
    return summary


def _channel_weight(value: str) -> tuple[str, float]:
    channel, _, weight = value.partition("=")
    try:
        return channel.strip(), float(weight)
    except ValueError as exc:
        raise RouterError(f"--channel-weight wants CHANNEL=WEIGHT (social=2), not {value!r}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog="python -m agent.train", description="Train a Switchboard routing model.")
    parser.add_argument(
        "--data", required=True, action="append", help="labelled tickets, .csv or .jsonl (repeat for several files)"
    )
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="team")
    parser.add_argument("--out", required=True, type=Path, help="model directory to write")
    parser.add_argument("--taxonomy", help="taxonomy JSON (default: telecom if the labels fit it)")
    parser.add_argument(
        "--extra", action="append", default=[], help="more labelled tickets used for training only (repeatable)"
    )
    parser.add_argument(
        "--default-channel", default=DEFAULT_CHANNEL, help="channel of files without a channel column (web)"
    )
    parser.add_argument("--holdout", type=float, default=0.0, help="fraction of each --data never trained on")
    parser.add_argument("--holdout-out", type=Path, help="write the held-out rows to this CSV (id,text,team,channel)")
    parser.add_argument("--no-encoder", action="store_true", help="TF-IDF only: faster, less accurate")
    parser.add_argument("--C", dest="c", type=float, default=50.0, help="inverse regularisation strength")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds for calibration and thresholds")
    parser.add_argument(
        "--target", type=float, default=DEFAULT_TARGET, help="local accuracy the routing thresholds aim at (0.97)"
    )
    parser.add_argument("--no-channel-feature", action="store_true", help="do not give the model the channel")
    parser.add_argument("--mask-markup", action="store_true", help="mask @handles, links and #hashtags (not shipped)")
    parser.add_argument(
        "--channel-weight", action="append", default=[], help="sample weight of a channel's rows, e.g. social=2"
    )
    parser.add_argument(
        "--finetuned", type=Path, help="fine-tuned encoder from tools/finetune_encoder.py to average with (same data)"
    )
    args = parser.parse_args(argv)
    try:
        if not 0.0 <= args.holdout < 1.0:
            raise RouterError("--holdout must be in [0, 1)")
        if not 0.0 < args.target <= 1.0:
            raise RouterError("--target must be in (0, 1]")
        columns = (args.text_column, args.label_column, args.default_channel)
        datasets = [load_labelled(path, *columns) for path in args.data]
        extras = [load_labelled(path, *columns) for path in args.extra]
        recipe = Recipe(
            channel_feature=not args.no_channel_feature,
            mask_markup=args.mask_markup,
            channel_weights=dict(_channel_weight(v) for v in args.channel_weight),
        )
        report = train(
            datasets,
            args.out,
            args.taxonomy,
            args.holdout,
            args.holdout_out,
            extras,
            not args.no_encoder,
            args.c,
            args.folds,
            args.finetuned,
            recipe,
            args.target,
        )
    except RouterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
