"""Fixtures of the infrastructure tests: in-process moto for the resource tests (fast, independent of any server),
and every stage synthesized once per session (``synthesized``) for the template tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from datalayer.settings import Settings
from infra.cdk.config import ROOT, STAGES, app_stack_name, data_stack_name
from infra.cdk.layer import build_layer


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.session.Session()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def sqs(session: boto3.session.Session) -> object:
    return session.client("sqs", region_name="us-east-1")


# -- the synthesized stages (one synthesis per test session) ------------------------------------------------------

SYNTH_TIMEOUT_S = 600
CFN_LINT_ERROR = 2
"""cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational."""


@dataclass(frozen=True)
class Synthesized:
    """One stage's cloud assembly: its directory and both templates as JSON."""

    stage: str
    outdir: Path
    data: dict[str, Any]
    app: dict[str, Any]

    @property
    def templates(self) -> dict[str, dict[str, Any]]:
        return {"data": self.data, "app": self.app}

    def template_paths(self) -> list[Path]:
        return [self.outdir / f"{data_stack_name(self.stage)}.template.json",
                self.outdir / f"{app_stack_name(self.stage)}.template.json"]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """``python -m infra.cdk.app`` for every stage, as ``make synth`` runs it (in parallel: one process each)."""
    root = tmp_path_factory.mktemp("cdk.out")
    build_layer()  # once, before the three processes that need it
    environment = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        environment.pop(name, None)  # synthesis must need no credentials
    running = {
        stage: subprocess.Popen(
            [sys.executable, "-m", "infra.cdk.app", "--stage", stage, "--outdir", str(root / stage)],
            cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for stage in STAGES
    }
    found = {}
    for stage, process in running.items():
        output, _ = process.communicate(timeout=SYNTH_TIMEOUT_S)
        assert process.returncode == 0, f"synth of {stage} failed:\n{output}"
        outdir = root / stage
        found[stage] = Synthesized(
            stage, outdir,
            json.loads((outdir / f"{data_stack_name(stage)}.template.json").read_text()),
            json.loads((outdir / f"{app_stack_name(stage)}.template.json").read_text()),
        )
    return found
