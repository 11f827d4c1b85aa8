"""A Chalice project that packages Switchboard's code, for ``chalice deploy`` (dev) and the CDK construct (all stages).

Chalice ships only ``app.py``, ``chalicelib/`` and ``vendor/`` of a project, while the code lives in ``agent/``,
``chalice_app/``, ``datalayer/`` and ``workers/`` so that it stays importable and testable as ordinary packages.
``stage_project`` writes a project directory with ``app.py``, those packages under ``vendor/`` (which Chalice puts at
the zip's top level) without the models (they are in the layer) and the local-only modules, no
``requirements.txt`` (every dependency is in the layer), and ``.chalice/config.json``: the repository's config with
the stage's section completed from the data stack (environment, layer, roles or policy files, concurrency).
The repository's own ``.chalice/config.json`` stays free of generated values and keys.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from infra.cdk.config import ROOT, StageConfig
from infra.cdk.functions import FUNCTIONS
from infra.cdk.plane import DataPlane, function_environment

SHIPPED_PACKAGES = ("agent", "chalice_app", "datalayer", "workers")
NOT_SHIPPED = frozenset({"agent/models"})
"""The models travel in the layer. (The operator commands, ``ops/``, are not a shipped package at all.)"""
MAX_ZIP_BYTES = 50 * 1024 * 1024
"""Lambda's limit for a zip uploaded directly (what ``chalice deploy`` does)."""
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")


def repository_config() -> dict[str, Any]:
    return dict(json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8")))


def stage_section(
    config: StageConfig, plane: DataPlane, function_settings: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The stage's Chalice configuration: the repository's section for it, plus what the data stack decides.

    ``function_settings`` carries how each function gets its role: ``{"iam_role_arn": …}`` (CDK creates the
    roles) or ``{"iam_policy_file": …}`` (``chalice deploy`` creates them from our policy files).
    """
    section = copy.deepcopy(repository_config()["stages"][config.name])
    section["environment_variables"] = {**section.get("environment_variables", {}),
                                        **function_environment(plane, config)}
    section["layers"] = [plane.layer_arn]
    functions: dict[str, Any] = section.setdefault("lambda_functions", {})
    for function in FUNCTIONS:
        settings = functions.setdefault(function.name, {})
        settings.update(function_settings[function.name])
        if function.name in config.reserved_concurrency:
            settings["reserved_concurrency"] = config.reserved_concurrency[function.name]
    return section


def stage_project(
    out_dir: Path, stage_key: str, section: Mapping[str, Any], extra_files: Mapping[str, str] | None = None
) -> Path:
    """Write the project for Chalice stage ``stage_key`` into ``out_dir`` and return it.

    ``.chalice/deployed/`` is kept: it is how ``chalice deploy`` knows what it deployed before. ``extra_files``
    are written under ``.chalice/`` (policy files).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("app.py", "vendor"):
        path = out_dir / stale
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    shutil.copy(ROOT / "app.py", out_dir / "app.py")
    for package in SHIPPED_PACKAGES:
        shutil.copytree(ROOT / package, out_dir / "vendor" / package, ignore=_ignore(ROOT))
    chalice_dir = out_dir / ".chalice"
    chalice_dir.mkdir(exist_ok=True)
    config = repository_config()
    config["stages"] = {stage_key: dict(section)}
    (chalice_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    for name, text in (extra_files or {}).items():
        (chalice_dir / name).write_text(text, encoding="utf-8")
    return out_dir


def _ignore(root: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(directory: str, names: list[str]) -> set[str]:
        relative = Path(directory).relative_to(root)
        return set(_IGNORED(directory, names)) | {n for n in names if (relative / n).as_posix() in NOT_SHIPPED}

    return ignore
