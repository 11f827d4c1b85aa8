"""The ONNX sentence encoder: unit vectors, batch-independent, bounded cost, clear load errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.encoder import DEFAULT_ENCODER_DIR, MAX_WINDOWS, SentenceEncoder, load_encoder
from agent.exceptions import ModelArtifactError


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return load_encoder()


def test_rows_are_unit_vectors_even_for_empty_text(encoder):
    out = encoder.encode(["", "my internet is down", "é" * 3])
    assert out.shape == (3, encoder.dim)
    assert np.linalg.norm(out, axis=1) == pytest.approx(1.0, abs=1e-5)


def test_embedding_does_not_depend_on_the_other_texts_encoded_with_it(encoder):
    text = "I was charged twice for the same month and want a refund"
    alone = encoder.encode([text])[0]
    long_companion = "the modem keeps rebooting every night " * 80
    together = encoder.encode([long_companion, text, "hi"])[1]
    assert np.array_equal(alone, together)


def test_similar_complaints_are_closer_than_unrelated_ones(encoder):
    a, b, c = encoder.encode(
        ["internet keeps dropping every evening", "my connection goes down each night", "please refund my late fee"]
    )
    assert float(a @ b) > float(a @ c)


def test_long_text_is_cut_into_a_bounded_number_of_windows(encoder):
    windows = encoder._windows("word " * 20_000)
    assert len(windows) == MAX_WINDOWS
    assert all(len(w) <= encoder.max_length for w in windows)


def test_text_beyond_the_window_cap_does_not_change_the_embedding(encoder):
    head = "my internet drops every evening and the modem was replaced twice " * 60
    windows = encoder._windows(head)
    assert len(windows) == MAX_WINDOWS
    longer = head + " please refund the late fee and the rental charge" * 400
    assert np.array_equal(encoder.encode([head])[0], encoder.encode([longer])[0])
    one_window = SentenceEncoder(DEFAULT_ENCODER_DIR, max_windows=1)
    assert len(one_window._windows(head)) == 1
    assert not np.allclose(one_window.encode([head])[0], encoder.encode([head])[0])


def test_missing_encoder_directory_is_a_model_artifact_error(tmp_path: Path):
    with pytest.raises(ModelArtifactError, match="cannot load sentence encoder"):
        SentenceEncoder(tmp_path / "nope")
