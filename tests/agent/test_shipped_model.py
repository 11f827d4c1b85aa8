"""The shipped telecom model's files: sorted vocabularies, no replayed training text, thresholds per channel."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from agent.classifier import DEFAULT_MODEL_DIR, MODELS_DIR

SOCIAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "social_us_telecom" / "messages_labeled.csv"


def test_shipped_vocabularies_are_sorted_term_lists():
    vocab = json.loads((DEFAULT_MODEL_DIR / "vocab.json").read_text(encoding="utf-8"))
    for name, terms in vocab.items():
        assert isinstance(terms, list) and terms == sorted(terms), f"vocabulary {name!r} is not stored sorted"


def test_shipped_model_ships_thresholds_per_channel_and_centroids_not_ticket_embeddings():
    meta = json.loads((DEFAULT_MODEL_DIR / "model.json").read_text(encoding="utf-8"))
    policy = meta["policy"]
    assert policy["target"] == 0.97
    assert {"web", "social"} <= set(policy["channels"])
    assert policy["global"]["rows"] == sum(t["rows"] for t in policy["channels"].values())
    with np.load(DEFAULT_MODEL_DIR / "weights.npz") as archive:
        assert "reference_embeddings" not in archive.files
        assert len(archive["reference_centroids"]) * 5 <= meta["training"]["rows"]


@pytest.mark.skipif(not SOCIAL.exists(), reason="needs ../shared/data (the social messages are not shipped)")
def test_no_social_message_appears_verbatim_in_any_model_file():
    """The social messages may train and evaluate, never ship: no file under agent/models/ may contain one of
    20+ characters, as written, JSON-escaped or lower-cased (how a vocabulary would hold it)."""
    with SOCIAL.open(encoding="utf-8", newline="") as handle:
        texts = [row["text"].strip() for row in csv.DictReader(handle)]
    long = [t for t in texts if len(t) >= 20]
    raw = {text.encode("utf-8") for text in long}
    forms = set(raw)
    for text in long:
        forms |= {
            f.encode("utf-8")
            for f in (text.lower(), json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1])
        }
    files = [path for path in sorted(MODELS_DIR.rglob("*")) if path.is_file()]
    assert files
    for path in files:
        content, needles = path.read_bytes(), forms
        if path.suffix in {".npz", ".onnx"}:  # binary: raw UTF-8 only (the MiniLM export is 22 MB)
            needles = raw
            if path.suffix == ".npz":  # compressed: search what it holds
                with np.load(path) as archive:
                    content = b"".join(archive[name].tobytes() for name in archive.files)
        leaked = [needle.decode()[:60] for needle in sorted(needles) if needle in content]
        assert not leaked, f"{path.relative_to(MODELS_DIR)} holds social messages: {leaked[:3]}"
