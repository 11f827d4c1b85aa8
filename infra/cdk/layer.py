"""The Lambda layer: every third-party runtime dependency (``requirements.txt``) and the shipped models.

Why a layer: the function zip that ``chalice deploy`` uploads directly is limited to 50 MB, and numpy, onnxruntime,
tokenizers, pydantic and the models together are several times that. In the layer they are published once through
S3 by CDK (an asset of the data stack) and change only when the requirements or the models do, so the zip Chalice
builds holds our code alone.

Layout: ``python/`` (on Lambda's ``sys.path`` as /opt/python) and ``models/`` (/opt/models; the functions get
``SWITCHBOARD_MODEL_DIR=/opt/models/telecom``). Wheels are fetched for Lambda's platform (manylinux2014 x86_64,
CPython 3.11), not this machine's. The build is cached under ``build/layer/<hash of its inputs>``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from infra.cdk.config import ROOT

REQUIREMENTS = ROOT / "requirements.txt"
MODELS = ROOT / "agent" / "models"
BUILD_DIR = ROOT / "build" / "layer"
PLATFORM = ("--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.11")

UNUSED_DISTRIBUTIONS = frozenset({"sympy", "isympy", "mpmath", "huggingface_hub", "hf_xet", "fsspec"})
"""Installed as requirements of our requirements but never imported by the handlers (about 48 MB unzipped):
onnxruntime needs sympy (and mpmath) only for its offline shape-inference tools, tokenizers needs the Hugging Face
hub client only to download tokenizers, while ours are loaded from the model directory."""
LAMBDA_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"})
"""What the python3.11 runtime already has; shipping a second copy only costs space (pulled in by strands)."""

MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
"""Lambda allows 250 MB for a function and its layers unzipped; the rest is the zip's and the runtime's margin."""


class LayerError(Exception):
    """The layer cannot be built, or would not fit in Lambda."""


def inputs_hash() -> str:
    """Changes when the requirements or any model file do, and only then."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    for path in sorted(p for p in MODELS.rglob("*") if p.is_file()):
        digest.update(path.relative_to(MODELS).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def build_layer(build_dir: Path = BUILD_DIR) -> Path:
    """The layer's directory (built now, or reused when its inputs did not change).

    Built aside and renamed into place, so that synthesizing several stages at once (``make -j``, the tests) never
    sees, or deletes, another process's half-built layer: the first rename wins, the others use its result.
    """
    target = build_dir / inputs_hash()
    if target.is_dir():
        return target
    building = build_dir / f"{target.name}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    python = building / "python"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
               "--only-binary=:all:", *PLATFORM, "--target", str(python), "-r", str(REQUIREMENTS)]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise LayerError(
            "pip could not install requirements.txt for Lambda's platform (python3.11, manylinux2014 x86_64): "
            f"pin versions with such wheels\n{finished.stdout}{finished.stderr}"
        )
    _prune(python, UNUSED_DISTRIBUTIONS | LAMBDA_PROVIDED)
    shutil.copytree(MODELS, building / "models")
    size = unzipped_size(building)
    if size > MAX_UNZIPPED_BYTES:
        shutil.rmtree(building, ignore_errors=True)
        raise LayerError(f"the layer unzips to {size / 2**20:.0f} MiB, over {MAX_UNZIPPED_BYTES / 2**20:.0f} MiB")
    try:
        building.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(building, ignore_errors=True)
    for stale in build_dir.iterdir():
        if stale != target and stale.is_dir() and ".building-" not in stale.name:
            shutil.rmtree(stale, ignore_errors=True)
    return target


def unzipped_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def _prune(site: Path, distributions: frozenset[str]) -> None:
    """Remove the top-level packages of ``distributions`` and their metadata, and every bytecode cache."""
    for entry in site.iterdir():
        metadata = entry.name.endswith((".dist-info", ".data"))
        top = entry.name.split("-", 1)[0].lower() if metadata else entry.name.removesuffix(".py")
        if top in distributions:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
