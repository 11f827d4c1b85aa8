"""Read a JSON configuration file into a validated pydantic model, with errors a person can act on.

Taxonomies and the knowledge base are edited by hand; a typo must name the file and the bad field,
not surface as a stack trace from the first ticket that needs them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from agent.exceptions import RouterError

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_model(path: Path, model: type[ModelT], error: type[RouterError], what: str) -> ModelT:
    """``model`` validated from the JSON file at ``path``; any problem raises ``error`` naming ``what`` and where."""
    try:
        return model.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise error(f"{what} file not found: {path}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{what} file {path} is not valid JSON: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise error(f"{what} file {path} is invalid at {where}: {first['msg']}") from exc
