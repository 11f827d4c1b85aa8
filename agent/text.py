"""Text featurisation shared by training and inference: TF-IDF without scikit-learn at run time.

Training fits scikit-learn's ``TfidfVectorizer`` (word 1–2-grams and char_wb 2–5-grams, sublinear tf);
this module re-implements only its *transform* in plain Python + numpy from the saved vocabulary and
idf, so the Lambda package needs neither scikit-learn nor scipy and imports in milliseconds. A test
checks the two agree on real and hostile text.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np

# scikit-learn's default token pattern and whitespace normalisation, so vocabularies line up.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_WHITESPACE = re.compile(r"\s\s+")
# Control and zero-width characters carry no meaning and break tokenisation; NUL bytes break logs.
_INVISIBLE = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200f\u2028\u2029\u2060\ufeff]")
MAX_CHARS = 20_000
# Curly apostrophes and Unicode hyphens (pasted from phones and word processors) as their ASCII forms.
_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-"})


def normalize(text: str) -> str:
    """Canonical form of ticket text: NFKC (full-width digits become ASCII), no invisible characters,
    capped length (the first 20,000 characters decide routing; the rest only costs time)."""
    text = unicodedata.normalize("NFKC", text[: MAX_CHARS * 2])
    return _INVISIBLE.sub(" ", text)[:MAX_CHARS]


# Social-network markup, written as the short-message training data has it (handles → @user, links → <url>).
_URL = re.compile(r"(?i)(?:\bhttps?://|\bwww\.)\S+")
_HANDLE = re.compile(r"(?<![\w.@])@\w+")  # not the @ of an e-mail address
_HASHTAG = re.compile(r"(?<![\w&])#(?=[^\W\d_])")  # '#tag' but not '#12345' (an account or ticket number)


def mask_markup(text: str) -> str:
    """``@Ask_Spectrum no internet #outage https://t.co/x`` → ``@user no internet outage <url>``.

    Every handle becomes ``@user`` (a company's handle says which provider, not which team, and one telecom's
    own social channel always names the same company), every link ``<url>``, and a hashtag's ``#`` goes so that
    ``#outage`` reads as the word. The labelled social messages already have other people's handles and links
    masked this way; applying the same rule to every ticket at training and routing time keeps the two alike."""
    text = _URL.sub("<url>", text)
    text = _HANDLE.sub("@user", text)
    return _HASHTAG.sub("", text)


def prepare(text: str, markup: bool) -> str:
    """The text a model reads: ``normalize``, then ``mask_markup`` for models trained with it (``model.json``)."""
    text = normalize(text)
    return mask_markup(text) if markup else text


def ascii_punctuation(text: str) -> str:
    """``can’t`` → ``can't``, ``Wi‑Fi`` → ``Wi-Fi``: so keyword and phrase rules written in ASCII still match."""
    return text.translate(_TYPOGRAPHIC)


def word_ngrams(text: str, n_max: int = 2) -> list[str]:
    tokens = _TOKEN.findall(text.lower())
    grams = list(tokens)
    for n in range(2, n_max + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_wb_ngrams(text: str, n_min: int = 2, n_max: int = 5) -> list[str]:
    """Character n-grams inside word boundaries, padded with a space, exactly as scikit-learn's char_wb."""
    grams: list[str] = []
    for word in _WHITESPACE.sub(" ", text.lower()).split():
        padded = f" {word} "
        length = len(padded)
        for n in range(n_min, n_max + 1):
            offset = 0
            grams.append(padded[offset : offset + n])
            while offset + n < length:
                offset += 1
                grams.append(padded[offset : offset + n])
            if offset == 0:
                break
    return grams


@dataclass
class TfidfBlock:
    """One fitted vectoriser: vocabulary (term → column), idf per column, and how to cut n-grams."""

    analyzer: str
    vocabulary: dict[str, int]
    idf: np.ndarray
    ngram_range: tuple[int, int]

    def grams(self, text: str) -> list[str]:
        low, high = self.ngram_range
        if self.analyzer == "word":
            return word_ngrams(text, high)
        return char_wb_ngrams(text, low, high)

    def transform_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sparse row as (column indices, values): sublinear tf × idf, L2-normalised."""
        counts = Counter(self.vocabulary[g] for g in self.grams(text) if g in self.vocabulary)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float32, count=len(counts))
        values *= self.idf[columns]
        values /= max(float(np.linalg.norm(values)), 1e-12)
        return columns, values

    def known_ratio(self, text: str) -> float:
        """Share of word tokens the vocabulary knows: low for gibberish or a foreign language."""
        tokens = _TOKEN.findall(text.lower())
        if not tokens:
            return 0.0
        return sum(token in self.vocabulary for token in tokens) / len(tokens)
