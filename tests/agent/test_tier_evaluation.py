"""``agent.evaluate --tier``: the workers' decision path on labelled tickets, with the agent on a test endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.evaluate import main
from agent.tier_evaluation import Outcome, needed_agent_accuracy
from infra.llm_stub import StubServer

ROWS = [
    ("I was billed twice, refund the duplicate charge on my bill", "Billing Support", "email"),
    ("hello?", "Network Operations", "social"),
    ("my router shows error code E-1043 after the technician installed it", "Technical Support", "chat"),
    ("cannot log in, password reset never arrives", "Account Management", "web"),
    ("internet outage in the whole neighborhood since this morning", "Network Operations", "social"),
]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "team": team, "channel": c}) for t, team, c in ROWS))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if out else {}


def test_the_agent_decides_what_the_policy_defers_and_the_report_says_what_it_cost(data, endpoint, capsys) -> None:
    asked = endpoint.requests
    code, report = run(
        capsys,
        "--data",
        str(data),
        "--model",
        "keyword",
        "--tier",
        "agent",
        "--provider",
        "openai",
        "--base-url",
        endpoint.url,
        "--model-id",
        "switchboard-stub",
        "--api-key",
        "k",
        "--json",
    )

    assert code == 0, report
    cascade = report["cascade"]
    assert cascade["tier"] == "agent" and cascade["deferred_rate"] == 1.0  # the agent policy defers every ticket
    assert cascade["agent_decided"] == len(ROWS) == endpoint.requests - asked
    assert cascade["input_tokens"] > 0 and cascade["cost_per_ticket_usd"] > 0
    assert cascade["endpoint"]["test_endpoint"] is True and "not a model" in cascade["endpoint"]["note"]
    assert set(cascade["channels"]) == {"chat", "email", "social", "web"}
    assert report["accuracy"] is not None  # the fast router's figures are still there, as without --tier


def test_an_unreachable_endpoint_is_a_fallback_by_cause(data, capsys) -> None:
    with StubServer() as gone:
        url = gone.url
    code, report = run(
        capsys,
        "--data",
        str(data),
        "--model",
        "keyword",
        "--tier",
        "agent",
        "--provider",
        "openai",
        "--base-url",
        url,
        "--api-key",
        "k",
    )
    assert code == 0 and report["cascade"]["fallbacks"] == {"provider_error": len(ROWS)}
    assert report["cascade"]["agent_decided"] == 0


def test_a_tier_needs_a_provider(data, capsys) -> None:
    assert main(["--data", str(data), "--model", "keyword", "--tier", "cascade"]) == 2
    assert "--provider" in capsys.readouterr().err


def test_the_accuracy_the_agent_needs_on_the_deferred_tickets() -> None:
    local_right = [Outcome("web", True, False, False, None, 0, 0, 0.0, None)] * 6
    deferred = [Outcome("web", False, True, True, None, 0, 0, 0.0, 1.0)] * 4
    # 6 right of 10 locally decided-or-not: 0.90 overall needs 3 of the 4 deferred right, 0.95 needs 3.5
    assert needed_agent_accuracy(local_right + deferred, 0.90) == 0.75
    assert needed_agent_accuracy(local_right + deferred, 0.95) == 0.875
    assert needed_agent_accuracy(local_right, 0.90) is None
