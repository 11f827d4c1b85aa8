"""``python -m infra.package OUTDIR [--stage dev]``: a deployable SAM template and zip for one stage.

``chalice package`` ships only app.py, chalicelib/ and vendor/ (plus requirements.txt), but the code lives in
agent/, chalice_app/ and workers/ so that it is importable and testable as ordinary packages. This command
stages those packages (with the model artifacts under agent/models/) into vendor/, whose contents Chalice puts
at the zip's top level, runs ``chalice package`` with the stage's environment, patches the template with the
data plane (``infra.template``), and removes vendor/ again so that local runs never import stale copies.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

from datalayer.settings import Settings
from infra.template import patch_file

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_PACKAGES = ("agent", "chalice_app", "datalayer", "workers")
LOCAL_ONLY = frozenset({"workers/redrive.py"})
"""Command-line and local-stack modules: they import rich and chalice.local, which Lambda does not have."""
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")


MISSING_DEPENDENCIES = "Could not install dependencies"

UNUSED_DISTRIBUTIONS = frozenset({"sympy", "isympy", "mpmath", "huggingface_hub", "hf_xet", "fsspec"})
"""Installed as requirements of our requirements but never imported by the handlers (about 48 MB unzipped):
onnxruntime needs sympy (and mpmath) only for its offline shape-inference tools, tokenizers needs the Hugging Face
hub client (and its downloaders) only to fetch tokenizers, while ours are loaded from the model directory. The
packaging test imports every handler and loads the router from the pruned zip."""
MAX_UNZIPPED_BYTES = 230 * 1024 * 1024
"""Lambda's limit is 250 MB for the function and its layers unzipped; the margin is for the runtime's growth."""


class PackagingError(Exception):
    """The package would not work in Lambda."""


def stage_environment(stage: str, project_dir: Path = ROOT) -> dict[str, str]:
    """The environment variables ``.chalice/config.json`` gives the stage's functions (global, then stage)."""
    config = json.loads((project_dir / ".chalice" / "config.json").read_text(encoding="utf-8"))
    if stage not in config.get("stages", {}):
        raise SystemExit(f"unknown stage {stage!r}; .chalice/config.json has {sorted(config.get('stages', {}))}")
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def stage_vendor(project_dir: Path = ROOT) -> Path:
    vendor = project_dir / "vendor"
    shutil.rmtree(vendor, ignore_errors=True)
    vendor.mkdir()
    for package in SHIPPED_PACKAGES:
        shutil.copytree(project_dir / package, vendor / package, ignore=_ignore(project_dir))
    return vendor


def _ignore(project_dir: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(directory: str, names: list[str]) -> set[str]:
        relative = Path(directory).relative_to(project_dir)
        return set(_IGNORED(directory, names)) | {n for n in names if (relative / n).as_posix() in LOCAL_ONLY}

    return ignore


def package(out_dir: Path, stage: str, project_dir: Path = ROOT) -> Path:
    """Write ``out_dir``/sam.json and deployment.zip; returns the template path."""
    stage_env = stage_environment(stage, project_dir)
    env: Mapping[str, str] = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                              **stage_env}
    chalice = Path(sys.executable).with_name("chalice")
    vendor = stage_vendor(project_dir)
    try:
        # A subprocess, so that app.py is imported with the stage's settings (queue name) and nothing cached here.
        done = subprocess.run(
            [str(chalice), "package", "--stage", stage, str(out_dir)],
            cwd=project_dir, env=dict(env), capture_output=True, text=True, check=False,
        )
    finally:
        shutil.rmtree(vendor, ignore_errors=True)
    output = done.stdout + done.stderr
    print(output, end="")
    if done.returncode != 0:
        raise PackagingError(f"chalice package exited with {done.returncode}")
    if MISSING_DEPENDENCIES in output:
        # Chalice only warns and writes a zip that fails at import time in Lambda; refuse it instead.
        raise PackagingError(
            "some requirements have no wheel for Lambda's platform (python3.11 on Amazon Linux 2 needs "
            "manylinux2014 / manylinux_2_17 wheels); pin versions that have one (see the output above)"
        )
    unzipped = prune(out_dir / "deployment.zip", UNUSED_DISTRIBUTIONS)
    if unzipped > MAX_UNZIPPED_BYTES:
        raise PackagingError(
            f"the package unzips to {unzipped / 2**20:.0f} MiB, over the {MAX_UNZIPPED_BYTES / 2**20:.0f} MiB "
            "this project allows itself (Lambda's limit is 250 MB with layers)"
        )
    template = out_dir / "sam.json"
    patch_file(str(template), Settings.from_environment(env))
    return template


def prune(archive: Path, distributions: frozenset[str]) -> int:
    """Rewrite ``archive`` without the top-level packages (and their metadata) of ``distributions``; returns the
    unzipped size of what is left, in bytes."""
    def unused(name: str) -> bool:
        top = name.split("/", 1)[0]
        metadata = top.endswith((".dist-info", ".data"))
        return (top.split("-", 1)[0].lower() if metadata else top.removesuffix(".py")) in distributions

    kept = archive.with_suffix(".pruned.zip")
    size = 0
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(kept, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if unused(info.filename):
                continue
            target.writestr(info, source.read(info))
            size += info.file_size
    kept.replace(archive)
    return size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    try:
        template = package(args.out_dir.resolve(), args.stage)
    except PackagingError as error:
        raise SystemExit(f"packaging failed: {error}") from error
    print(f"wrote {template} and {template.with_name('deployment.zip')}")
    print(f"deploy: aws cloudformation package --template-file {template} --s3-bucket BUCKET "
          f"--output-template-file packaged.yaml && aws cloudformation deploy --template-file packaged.yaml "
          f"--stack-name switchboard-{args.stage} --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND")


if __name__ == "__main__":
    main()
