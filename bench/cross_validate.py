"""Cross-validated routing accuracy per channel, on the real complaints (web) and social messages (social).

    python bench/cross_validate.py [--features tfidf+encoder|tfidf|encoder] [--windows 2] [--C 50] [--folds 5]
        [--no-channel-feature] [--mask-markup] [--channel-weight social=2] [--without-social]

Why beside the held-out figures: 339 held-out complaints and 128 held-out messages give accuracy within about ±2
and ±3.5 points (one standard error), too coarse to tell recipes apart. Here every labelled row of a channel is
scored once by a model that did not see it: the channel's rows are cut into stratified folds (seed 13), and each
fold is scored by a model trained on the channel's other folds plus **all** rows of the other channel and the
written examples (``agent/data/telecom_examples.jsonl``, never scored), the way the shipped model sees both. The
recipe is ``agent.train``'s (TF-IDF blocks, channel indicators, balanced logistic regression,
MiniLM embedding of the first ``--windows`` windows); the flags switch its parts off or weight a channel's rows.
``--without-social`` is the recipe before social messages: complaints cross-validated without them, and every
social message scored by one model trained on all complaints and the written examples.

Reports per channel: accuracy (with its standard error), macro-F1, accuracy on the rows the labellers marked
``confidence=high`` and ``low``, per-team F1. Embeddings are cached in ``build/cache/`` (git-ignored; they are
derived from the texts and stay on this machine). Prints one JSON object; figures go in the data card, not tests.
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

from agent.datasets import LabelledTexts, load_labelled  # noqa: E402
from agent.encoder import DEFAULT_ENCODER_DIR, MAX_WINDOWS, SentenceEncoder, text_fingerprint  # noqa: E402
from agent.metrics import macro_f1, per_label  # noqa: E402
from agent.taxonomy import DEFAULT_TAXONOMY_PATH, load_taxonomy  # noqa: E402
from agent.text import prepare  # noqa: E402
from agent.train import SEED, Recipe, _channel_block, _features, _fit_vectorizers, _logistic  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
COMPLAINTS = SHARED / "comcast_fcc_2015" / "complaints_labeled.csv"
SOCIAL = SHARED / "social_us_telecom" / "messages_labeled.csv"
WRITTEN = ROOT / "agent" / "data" / "telecom_examples.jsonl"
CACHE = ROOT / "build" / "cache"


def _embed(texts: list[str], windows: int) -> np.ndarray:
    """Embeddings of ``texts``, computed once per text and encoder window count, then read from the cache."""
    from rich.console import Console
    from rich.progress import track

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"embeddings-{DEFAULT_ENCODER_DIR.name}-w{windows}.npz"
    cached: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as archive:
            cached = dict(zip(archive["keys"].tolist(), archive["vectors"], strict=True))
    keys = [text_fingerprint(t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cached}.items())
    if missing:
        encoder = SentenceEncoder(DEFAULT_ENCODER_DIR, threads=0, max_windows=windows)
        for key, text in track(missing, "sentence embeddings", transient=True, console=Console(stderr=True)):
            cached[key] = encoder.encode([text])[0]
        np.savez(path, keys=np.array(list(cached)), vectors=np.stack(list(cached.values())))
    return np.stack([cached[k] for k in keys])


def _low_confidence(path: Path, data: LabelledTexts) -> np.ndarray:
    """The rows the labellers marked ``confidence=low``, matched by id."""
    with path.open(encoding="utf-8", newline="") as handle:
        confidence = {row["id"]: row["confidence"] for row in csv.DictReader(handle)}
    return np.array([confidence[ticket_id] == "low" for ticket_id in data.ids])


def _summary(predicted: np.ndarray, targets: np.ndarray, low: np.ndarray, teams: list[str]) -> dict:
    hit = predicted == targets
    report = per_label([teams[i] for i in targets], [teams[i] for i in predicted], teams)
    accuracy = float(hit.mean())
    return {
        "n": len(hit),
        "accuracy": accuracy,
        "accuracy_standard_error": float(np.sqrt(accuracy * (1 - accuracy) / len(hit))),
        "macro_f1": macro_f1(report),
        "accuracy_confidence_high": float(hit[~low].mean()),
        "accuracy_confidence_low": float(hit[low].mean()),
        "per_label_f1": {label: report[label]["f1"] for label in teams},
    }


def cross_validate(
    features: str, windows: int, c: float, folds: int, recipe: Recipe, without_social: bool = False
) -> dict:
    from rich.console import Console
    from rich.progress import track
    from sklearn.model_selection import StratifiedKFold

    taxonomy = load_taxonomy(DEFAULT_TAXONOMY_PATH)
    teams = taxonomy.team_names
    sources = {"web": (COMPLAINTS, load_labelled(COMPLAINTS)), "social": (SOCIAL, load_labelled(SOCIAL))}
    written = load_labelled(WRITTEN)
    parts = [data for _, data in sources.values()] + [written]
    texts = [prepare(t, recipe.mask_markup) for data in parts for t in data.texts]
    channels = [ch for data in parts for ch in data.channels]
    targets = np.array([teams.index(taxonomy.resolve_label(label)) for data in parts for label in data.labels])
    owner = np.concatenate([np.full(len(data.texts), k) for k, data in enumerate(parts)])
    names = sorted(set(channels)) if recipe.channel_feature else []
    block = _channel_block(channels, names) if names else None
    weights = recipe.weights(channels)
    embeddings = _embed(texts, windows) if "encoder" in features else None

    def fit_and_predict(train_idx: np.ndarray, test_idx: np.ndarray) -> np.ndarray:
        train_texts, test_texts = [texts[i] for i in train_idx], [texts[i] for i in test_idx]
        vectorizers = _fit_vectorizers(train_texts) if "tfidf" in features else []
        emb = (None, None) if embeddings is None else (embeddings[train_idx], embeddings[test_idx])
        ch = (None, None) if block is None else (block[train_idx], block[test_idx])
        model = _logistic(c).fit(
            _features(train_texts, vectorizers, emb[0], ch[0]),
            targets[train_idx],
            sample_weight=None if weights is None else weights[train_idx],
        )
        return model.predict(_features(test_texts, vectorizers, emb[1], ch[1]))

    result: dict = {
        "features": features,
        "windows": windows if embeddings is not None else None,
        "C": c,
        "folds": folds,
        "recipe": {
            "channel_feature": recipe.channel_feature,
            "mask_markup": recipe.mask_markup,
            "channel_weights": recipe.channel_weights,
            "without_social": without_social,
        },
        "channels": {},
    }
    social = list(sources).index("social")
    for k, (channel, (path, data)) in enumerate(sources.items()):
        rows = np.flatnonzero(owner == k)
        excluded = (owner == k) | ((owner == social) if without_social else False)
        others = np.flatnonzero(~excluded)
        predicted = np.zeros(len(rows), dtype=int)
        if without_social and k == social:
            predicted[:] = fit_and_predict(others, rows)
        else:
            splits = StratifiedKFold(folds, shuffle=True, random_state=SEED).split(rows, targets[rows])
            for train_part, test_part in track(
                list(splits), f"{channel} folds", transient=True, console=Console(stderr=True)
            ):
                predicted[test_part] = fit_and_predict(np.concatenate([rows[train_part], others]), rows[test_part])
        result["channels"][channel] = _summary(predicted, targets[rows], _low_confidence(path, data), teams)
    return result


def _channel_weight(value: str) -> tuple[str, float]:
    channel, _, weight = value.partition("=")
    return channel, float(weight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", choices=["tfidf+encoder", "tfidf", "encoder"], default="tfidf+encoder")
    parser.add_argument("--windows", type=int, default=MAX_WINDOWS, help="encoder windows per text")
    parser.add_argument("--C", dest="c", type=float, default=50.0)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-channel-feature", action="store_true")
    parser.add_argument("--mask-markup", action="store_true")
    parser.add_argument("--channel-weight", action="append", default=[], help="e.g. social=2")
    parser.add_argument("--without-social", action="store_true", help="the recipe before social messages")
    args = parser.parse_args()
    for path in (COMPLAINTS, SOCIAL):
        if not path.exists():
            parser.error(f"{path} is missing: this benchmark needs ../shared/data beside the checkout")
    recipe = Recipe(
        channel_feature=not args.no_channel_feature,
        mask_markup=args.mask_markup,
        channel_weights=dict(_channel_weight(v) for v in args.channel_weight),
    )
    print(
        json.dumps(
            cross_validate(args.features, args.windows, args.c, args.folds, recipe, args.without_social), indent=2
        )
    )


if __name__ == "__main__":
    main()
