"""The routing brain's own settings, read from the environment in one place.

``SWITCHBOARD_MODEL_DIR``: model directory (default: the shipped telecom model; ``keyword`` for the baseline).
``SWITCHBOARD_REVIEW_THRESHOLD``: confidence below which a decision needs manual review (default: the
taxonomy's ``thresholds.manual_review``, 0.70 for telecom).
``SWITCHBOARD_ENCODER_THREADS``: onnxruntime threads for the sentence encoder (default 1, as on Lambda).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from agent.exceptions import RouterError


@dataclass(frozen=True)
class BrainSettings:
    model_dir: str | None = None
    review_threshold: float | None = None

    @classmethod
    def from_env(cls) -> BrainSettings:
        raw = os.environ.get("SWITCHBOARD_REVIEW_THRESHOLD", "").strip()
        threshold = None
        if raw:
            try:
                threshold = float(raw)
            except ValueError as exc:
                raise RouterError(f"SWITCHBOARD_REVIEW_THRESHOLD must be a number in [0, 1], got {raw!r}") from exc
            if not 0.0 <= threshold <= 1.0:
                raise RouterError(f"SWITCHBOARD_REVIEW_THRESHOLD must be in [0, 1], got {threshold}")
        return cls(model_dir=os.environ.get("SWITCHBOARD_MODEL_DIR") or None, review_threshold=threshold)
