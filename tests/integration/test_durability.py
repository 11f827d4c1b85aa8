"""The local stack keeps working and keeps its data: stopped and started again, its tickets and decisions are
there; when its embedded AWS dies, it says so in one line, starts it again with its state, and no accepted ticket
is lost; a busy port is one line, not a traceback. Each test runs ``python -m infra.local`` as a developer does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.local_process import ROOT, START_S, clean_env, running

pytestmark = pytest.mark.integration

SETTLE_S = 60


def _decided(client: httpx.Client, ticket_ids: list[str]) -> dict[str, dict]:
    deadline = time.monotonic() + SETTLE_S
    views: dict[str, dict] = {}
    while time.monotonic() < deadline:
        for ticket_id in ticket_ids:
            answer = client.get(f"/tickets/{ticket_id}")
            if answer.status_code == 200 and answer.json()["status"] in ("routed", "needs_review"):
                views[ticket_id] = answer.json()
        if len(views) == len(ticket_ids):
            return views
        time.sleep(0.3)
    pytest.fail(f"only {sorted(views)} of {ticket_ids} decided in {SETTLE_S} s")


def _ticket(ticket_id: str) -> dict[str, str]:
    return {
        "ticket_id": ticket_id,
        "customer_id": "CUST-CON-0002",
        "subject": "Refund",
        "description": "I was billed twice, please refund the duplicate charge.",
    }


def test_tickets_and_decisions_survive_a_restart_and_reset_forgets_them(tmp_path: Path) -> None:
    with running(tmp_path) as first, first.client() as client:
        for number in range(3):
            assert client.post("/tickets", json=_ticket(f"KEEP-{number}")).status_code == 202
        before = _decided(client, [f"KEEP-{n}" for n in range(3)])

    with running(tmp_path) as second, second.client() as client:
        after = {f"KEEP-{n}": client.get(f"/tickets/KEEP-{n}").json() for n in range(3)}
        assert {k: v["decision"]["decided_at"] for k, v in after.items()} == {
            k: v["decision"]["decided_at"] for k, v in before.items()
        }  # the same decisions, not new ones
        assert client.post("/tickets", json=_ticket("KEEP-NEW")).status_code == 202
        _decided(client, ["KEEP-NEW"])

    with running(tmp_path, "--reset") as third, third.client() as client:
        assert client.get("/tickets/KEEP-0").status_code == 404


def _kill_moto(port: int) -> None:
    """SIGKILL the embedded AWS listening on ``port`` (found by its command line)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"infra.embedded_aws" in cmdline and str(port).encode() in cmdline:
            os.kill(int(entry.name), signal.SIGKILL)
            return
    pytest.fail(f"no embedded AWS on port {port}")


def test_a_dead_embedded_aws_is_restarted_with_its_state_and_no_accepted_ticket_is_lost(tmp_path: Path) -> None:
    # While moto restarts, a request can wait out the AWS clients' read timeouts and retries before it answers 503.
    with running(tmp_path) as stack, stack.client(timeout_s=60) as client:
        accepted = [
            f"CRASH-{n}" for n in range(3) if client.post("/tickets", json=_ticket(f"CRASH-{n}")).status_code == 202
        ]
        _kill_moto(stack.moto_port)
        for number in range(3, 8):  # while it is down, and as it comes back: 503s (send again) or 202s
            ticket = _ticket(f"CRASH-{number}")
            deadline = time.monotonic() + SETTLE_S
            while (status := client.post("/tickets", json=ticket).status_code) == 503 and time.monotonic() < deadline:
                time.sleep(0.3)
            assert status == 202
            accepted.append(ticket["ticket_id"])

        _decided(client, accepted)
        assert client.get("/health").status_code == 200  # not 503 for ever
    text = "".join(stack.output)
    assert "the embedded AWS (moto) exited with status" in text and "the embedded AWS is back" in text
    assert "Traceback" not in text, "moto down is said in one line per poller, not a traceback"


def test_ctrl_c_in_the_terminal_stops_the_stack_in_order_without_a_traceback(tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals the whole foreground process group: moto must not die under the pollers."""
    with running(tmp_path) as stack:
        os.killpg(stack.process.pid, signal.SIGINT)
        assert stack.process.wait(timeout=30) == 0
        time.sleep(0.5)  # the output reader catches up
    text = "".join(stack.output)
    assert "Traceback" not in text and "poller" not in text.split("stopping", 1)[-1], text
    assert text.rstrip().endswith("stopped"), text
    assert not _answers(stack.moto_port), "moto stopped with the stack"


def test_a_killed_stack_does_not_leave_its_embedded_aws_behind(tmp_path: Path) -> None:
    with running(tmp_path) as stack:
        stack.process.kill()
        stack.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _answers(stack.moto_port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _answers(stack.moto_port), "moto outlived the stack that started it"


def _answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/moto-api/", timeout=1.0)
    except httpx.HTTPError:
        return False
    return True


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = [sys.executable, "-m", "infra.local", "--port", str(port), "--keyword-router",
                   "--state-dir", str(tmp_path)]
        done = subprocess.run(command, cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=START_S)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert f"127.0.0.1:{port} is already in use" in output and "Traceback" not in output
