"""``python -m infra.local`` in a child process, as a developer runs it, for the tests that need the real thing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_S = 120


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    api_url: str
    moto_port: int
    output: list[str]

    def client(self, timeout_s: float = 10) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, headers={"x-api-key": "local-dev-key"}, timeout=timeout_s)


def command(state_dir: Path, *extra: str, keyword_router: bool = True) -> list[str]:
    """The stack on a free port with two pollers; the keyword router unless a test needs the shipped model."""
    router = ["--keyword-router"] if keyword_router else []
    return [sys.executable, "-m", "infra.local", "--port", "0", "--workers", "2", *router,
            "--state-dir", str(state_dir), *extra]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SWITCHBOARD_"))}
    return {**env, "COLUMNS": "200"}


@contextmanager
def running(state_dir: Path, *extra: str, keyword_router: bool = True) -> Iterator[RunningStack]:
    """Start the stack, yield once it prints "Ctrl-C to stop", SIGTERM it afterwards."""
    process = subprocess.Popen(
        command(state_dir, *extra, keyword_router=keyword_router),
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal gives it (tests signal the group)
    )
    output: list[str] = []
    reader: threading.Thread | None = None
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            output.append(line)
            if "Ctrl-C to stop" in line or not line:
                break
        text = "".join(output)
        api = re.search(r"API\s+(http://127\.0\.0\.1:\d+)", text)
        moto = re.search(r"moto\s+http://127\.0\.0\.1:(\d+)", text)
        assert api and moto, text
        # Keep reading: a stack whose pipe fills up blocks on its next log line.
        reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True)
        reader.start()
        yield RunningStack(process, api.group(1), int(moto.group(1)), output)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if reader is not None:
            reader.join(timeout=5)
