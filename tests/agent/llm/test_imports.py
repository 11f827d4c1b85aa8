"""The fast path never pays for strands: only the runner, the tools and the provider modules import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LIGHT = [
    "agent.router",
    "agent.llm.verdict",
    "agent.llm.prompt",
    "agent.llm.context",
    "agent.llm.masking",
    "agent.llm.errors",
    "agent.llm.answer",
    "agent.llm.pricing",
    "agent.llm.logs",
    "agent.llm.providers",
]
HEAVY = ("strands", "openai", "boto3", "botocore")


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_importing_the_fast_router_does_not_load_strands() -> None:
    assert "strands" not in loaded_after_import("agent.router")


@pytest.mark.parametrize("module", LIGHT[1:])
def test_the_agent_tier_light_modules_load_no_sdk(module: str) -> None:
    assert not loaded_after_import(module) & set(HEAVY), module


def test_the_runner_does_load_strands() -> None:
    """The check above would pass vacuously if the subprocess could not see strands at all."""
    assert "strands" in loaded_after_import("agent.llm.routing_agent")
