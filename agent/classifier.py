"""The trained text classifier: a versioned artifact on disk and its numpy-only inference.

A model directory holds ``model.json`` (labels, taxonomy, feature settings, calibration, routing
policy, training report), ``vocab.json`` (TF-IDF vocabularies, each a sorted term list) and
``weights.npz`` (idf, linear weights, k-means centroids of training embeddings for the out-of-scope
check). Features are TF-IDF word and character n-grams, one indicator per training channel (web,
social, …) and, optionally, a MiniLM sentence embedding; one multinomial logistic regression reads
them all, and a temperature fitted on out-of-fold predictions turns its scores into calibrated
probabilities. ``policy`` holds the per-channel thresholds that say when the fast router is sure
(``agent.policy``). Optionally (``ensemble`` in
``model.json``) the unsure tickets also go through a MiniLM fine-tuned on the routing labels
(``tools/finetune_encoder.py``), whose head is averaged with the linear model.

Inference needs numpy, onnxruntime and tokenizers only: no scikit-learn, no torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agent.classification import Classification
from agent.datasets import DEFAULT_CHANNEL
from agent.encoder import SentenceEncoder, load_encoder
from agent.exceptions import ModelArtifactError
from agent.policy import ThresholdPolicy
from agent.taxonomy import Taxonomy
from agent.text import TfidfBlock, prepare

FORMAT = "switchboard-text-classifier"
FORMAT_VERSION = 2
"""2: sorted vocabularies, channel features, reference centroids, routing policy."""
MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL_DIR = MODELS_DIR / "telecom"


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """log(softmax) without the underflow to -inf that taking the log of a tiny probability gives."""
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class Ensemble:
    """A fine-tuned encoder's linear head, averaged in log space with the linear model on the slow path.

    ``weight`` is the linear model's share; ``temperature`` calibrates the average. Both were fitted on
    training complaints that neither the fine-tuning nor the linear model's fold saw.
    """

    encoder_dir: str
    coef: np.ndarray
    intercept: np.ndarray
    weight: float
    temperature: float

    def combine(self, linear: np.ndarray, linear_temperature: float, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities from the linear scores of ``texts`` and the fine-tuned head's."""
        tuned = load_encoder(self.encoder_dir).encode(texts) @ self.coef.T + self.intercept
        mixed = self.weight * log_softmax(linear, linear_temperature) + (1 - self.weight) * log_softmax(tuned)
        return softmax(mixed, self.temperature)


def shared_artifact_dir(model_dir: Path, name: str) -> str:
    """Where an artifact a model names (its encoder) lives: beside the model directory when it is there (a deployed
    models tree such as the Lambda layer's ``/opt/models``), else under ``agent/models``; or ``name`` if absolute."""
    beside = Path(model_dir).parent / name
    return str(beside if beside.is_dir() else MODELS_DIR / name)


@dataclass(frozen=True)
class ScopeCheck:
    """Why a text is not something the model can route (empty, gibberish, unrelated), or in scope."""

    out_of_scope: bool
    reason: str = ""


class TextClassifier:
    """Loaded model: ``classify`` turns texts into calibrated ``Classification`` objects."""

    def __init__(self, directory: Path, meta: dict[str, Any], blocks: list[TfidfBlock], weights: dict[str, np.ndarray]):
        self.directory = directory
        self.meta = meta
        self.blocks = blocks
        self.labels: list[str] = list(meta["labels"])
        self.taxonomy = Taxonomy.model_validate(meta["taxonomy"])
        self.version: str = meta["model_version"]
        self.temperature: float = float(meta["calibration"]["temperature"])
        self.min_similarity: float = float(meta["scope"]["min_similarity"])
        self.coef: np.ndarray = weights["coef"]
        self.intercept: np.ndarray = weights["intercept"]
        stored = weights.get("reference_centroids")  # float16 on disk (half the size), float32 to compute with
        self.reference: np.ndarray | None = None if stored is None else stored.astype(np.float32)
        self._offsets = np.cumsum([0, *(len(b.vocabulary) for b in blocks)])
        self.channels: list[str] = list(meta["features"].get("channels", []))
        """Channels with an indicator column, right after the TF-IDF columns; any other channel gets none."""
        self._embedding_offset = int(self._offsets[-1]) + len(self.channels)
        self.mask_markup = bool(meta["features"].get("mask_markup", False))
        self.policy: ThresholdPolicy | None = ThresholdPolicy.from_json(meta["policy"]) if meta.get("policy") else None
        cascade = meta.get("cascade")
        self.fast: tuple[np.ndarray, np.ndarray, float, float] | None = (
            (
                weights["coef_fast"],
                weights["intercept_fast"],
                float(cascade["temperature"]),
                float(cascade["threshold"]),
            )
            if cascade
            else None
        )
        encoder_name = meta["features"].get("encoder")
        self._encoder_dir = shared_artifact_dir(directory, encoder_name) if encoder_name else None
        ensemble = meta.get("ensemble")
        self.ensemble: Ensemble | None = (
            Ensemble(
                encoder_dir=shared_artifact_dir(directory, ensemble["encoder"]),
                coef=weights["coef_ft"],
                intercept=weights["intercept_ft"],
                weight=float(ensemble["weight"]),
                temperature=float(ensemble["temperature"]),
            )
            if ensemble
            else None
        )

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(cls, directory: str | Path | None = None) -> TextClassifier:
        directory = Path(directory) if directory else DEFAULT_MODEL_DIR
        try:
            meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
            vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
            with np.load(directory / "weights.npz") as archive:
                weights = {k: archive[k] for k in archive.files}
        except FileNotFoundError as exc:
            raise ModelArtifactError(f"model directory {directory} is missing {Path(exc.filename).name}") from exc
        except (OSError, ValueError) as exc:
            raise ModelArtifactError(f"model directory {directory} is unreadable: {exc}") from exc
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise ModelArtifactError(
                f"{directory} holds format {meta.get('format')!r} v{meta.get('format_version')}, "
                f"this code reads {FORMAT!r} v{FORMAT_VERSION}: retrain with python -m agent.train"
            )
        blocks = [
            TfidfBlock(
                analyzer=spec["analyzer"],
                vocabulary={term: column for column, term in enumerate(vocab[spec["name"]])},
                idf=weights[f"idf_{spec['name']}"].astype(np.float32),
                ngram_range=tuple(spec["ngram_range"]),
            )
            for spec in meta["features"]["tfidf"]
        ]
        return cls(directory, meta, blocks, weights)

    @property
    def encoder(self) -> SentenceEncoder | None:
        return load_encoder(self._encoder_dir) if self._encoder_dir else None

    # --------------------------------------------------------------- inference
    def _sparse(self, text: str, channel: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """The text's TF-IDF row per block and its channel indicator, as (global column indices, values)."""
        out = []
        for block, offset in zip(self.blocks, self._offsets, strict=False):
            columns, values = block.transform_one(text)
            out.append((offset + columns, values))
        if channel in self.channels:
            column = self._offsets[-1] + self.channels.index(channel)
            out.append((np.array([column], dtype=np.int64), np.ones(1, dtype=np.float32)))
        return out

    @staticmethod
    def _linear(sparse: list[tuple[np.ndarray, np.ndarray]], coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        logits = intercept.astype(np.float64).copy()
        for columns, values in sparse:
            if columns.size:
                logits += coef[:, columns] @ values
        return logits

    def logits(
        self, texts: list[str], channels: list[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray, list[int], np.ndarray | None]:
        """Calibrated probabilities for prepared texts (``agent.text.prepare``) from ``channels``, via the cascade.

        The TF-IDF-only head (cheap) decides every text whose calibrated confidence reaches the
        threshold chosen at training time (where it was as accurate as the full model on out-of-fold
        data); the rest go through the sentence encoder and the full model. Returns the probabilities,
        the fast-path mask, the indices that used the encoder, and their embeddings.
        """
        n = len(texts)
        channels = channels or [DEFAULT_CHANNEL] * n
        sparse = [self._sparse(t, c) for t, c in zip(texts, channels, strict=True)]
        probabilities = np.zeros((n, len(self.labels)))
        fast = np.zeros(n, dtype=bool)
        if self.fast is not None:
            coef, intercept, temperature, threshold = self.fast
            fast_p = softmax(np.stack([self._linear(x, coef, intercept) for x in sparse]), temperature) if n else None
            if fast_p is not None:
                fast = fast_p.max(axis=1) >= threshold
                probabilities[fast] = fast_p[fast]
        slow = [i for i in range(n) if not fast[i]]
        embeddings = None
        if slow:
            full = np.stack([self._linear(sparse[i], self.coef, self.intercept) for i in slow])
            slow_texts = [texts[i] for i in slow]
            if self.encoder is not None:
                embeddings = self.encoder.encode(slow_texts)
                full += embeddings @ self.coef[:, self._embedding_offset :].T
            probabilities[slow] = (
                self.ensemble.combine(full, self.temperature, slow_texts)
                if self.ensemble is not None
                else softmax(full, self.temperature)
            )
        return probabilities, fast, slow, embeddings

    def scope(self, text: str, embedding: np.ndarray | None) -> ScopeCheck:
        """Refuse a confident guess on text with nothing routable in it."""
        thresholds = self.taxonomy.thresholds
        if len(text.strip()) < thresholds.min_text_chars:
            return ScopeCheck(True, "the ticket has (almost) no text")
        word_block = self.blocks[0]
        if word_block.known_ratio(text) < thresholds.min_known_token_ratio:
            return ScopeCheck(True, "most words are unknown to the model (gibberish or another language)")
        if embedding is not None and self.reference is not None and self.reference.size:
            nearest = float((self.reference @ embedding).max())
            if nearest < self.min_similarity:
                return ScopeCheck(True, f"unlike any ticket the model was trained on (similarity {nearest:.2f})")
        return ScopeCheck(False)

    def classify(self, texts: list[str], channels: list[str] | None = None) -> list[Classification]:
        """One calibrated classification per text, probabilities keyed by category.

        ``channels`` (``Channel`` values, one per text) defaults to the channel of a ticket that names none.
        """
        normalised = [prepare(t, self.mask_markup) for t in texts]
        probabilities, _, slow, embeddings = self.logits(normalised, channels)
        embedding_of = {i: embeddings[k] for k, i in enumerate(slow)} if embeddings is not None else {}
        categories = [self.taxonomy.category_of[label] for label in self.labels]
        threshold = self.taxonomy.thresholds.multi_issue
        results = []
        for i, text in enumerate(normalised):
            scope = self.scope(text, embedding_of.get(i))
            probs = {c: float(p) for c, p in zip(categories, probabilities[i], strict=True)}
            above = [c for c, p in sorted(probs.items(), key=lambda kv: -kv[1]) if p >= threshold]
            results.append(
                Classification(
                    probabilities=probs,
                    categories=above,
                    out_of_scope=scope.out_of_scope,
                    out_of_scope_reason=scope.reason,
                )
            )
        return results

    # ---------------------------------------------------------- explanations
    @cached_property
    def _word_terms(self) -> list[str]:
        return sorted(self.blocks[0].vocabulary, key=self.blocks[0].vocabulary.__getitem__)

    def evidence(self, text: str, label: str, top: int = 5) -> list[str]:
        """Words and phrases of ``text`` that pushed the model most towards ``label``: the decision's 'because'."""
        row = self.labels.index(label)
        columns, values = self.blocks[0].transform_one(prepare(text, self.mask_markup))
        if not columns.size:
            return []
        contribution = self.coef[row, columns] * values - np.mean(self.coef[:, columns], axis=0) * values
        order = np.argsort(-contribution)[:top]
        return [self._word_terms[columns[i]] for i in order if contribution[i] > 0]


class Classifier(Protocol):
    """What the router and the evaluation need from a model: the trained one or the keyword baseline.

    ``policy``: the thresholds fitted for this model (None: the router falls back to the review threshold).
    """

    taxonomy: Taxonomy
    version: str
    policy: ThresholdPolicy | None

    def classify(self, texts: list[str], channels: list[str] | None = None) -> list[Classification]: ...


def load_classifier(model: str | None) -> Classifier:
    """A model directory, ``keyword`` for the baseline, or the shipped model when ``None``."""
    from agent.keyword import KeywordClassifier

    if model == "keyword":
        return KeywordClassifier()
    return TextClassifier.load(model)
