"""The README's examples run as shown and print what it says, against ``python -m infra.local`` with the shipped
model (what ``make run`` starts); only the host and port the stack printed are put in."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.integration.local_process import ROOT, RunningStack, clean_env, running

pytestmark = pytest.mark.integration

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCUMENTED_API = "http://127.0.0.1:8000"


@dataclass
class Example:
    """One command of a README code block and the ``# …`` lines under it: what it says the command prints."""

    command: str
    says: list[str] = field(default_factory=list)


def examples(section_title: str, block_number: int = 0) -> list[Example]:
    """The commands of a bash block (the first unless told) of the README section ``## <section_title>``."""
    section = README.split(f"## {section_title}\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n")[1 + block_number].split("```", 1)[0]
    found: list[Example] = []
    pending = ""
    for line in block.splitlines():
        if not pending and not line.strip():
            continue
        if not pending and line.startswith("#"):
            if found:
                found[-1].says.append(line.lstrip("# ").rstrip())
            continue
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\") or not _complete(pending):
            continue
        found.append(Example(pending.replace("\\\n", " ")))
        pending = ""
    return found


def _complete(command: str) -> bool:
    try:
        shlex.split(command, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def run(command: str) -> str:
    done = subprocess.run(
        command, shell=True, cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def documented_json(says: list[str]) -> dict:
    """The JSON object a comment shows, its ``...`` and ``…`` left out: the fields it names with a value."""
    text = " ".join(says)
    return {key: json.loads(value) for key, value in re.findall(r'"(\w+)": ("[^"]*"|true|false|[\d.]+)', text)}


def matches(printed: dict, documented: dict) -> None:
    for key, value in documented.items():
        assert key in printed, f"{key} documented, not printed: {printed}"
        if isinstance(value, float):
            assert printed[key] == pytest.approx(value, abs=0.01), key
        elif not isinstance(value, str) or "…" not in value:
            assert printed[key] == value, key


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with running(tmp_path_factory.mktemp("readme"), keyword_router=False) as started:
        yield started


def test_the_submit_a_ticket_examples(stack: RunningStack) -> None:
    submit, read, *others = examples("Submit a ticket and read its decision")

    printed = json.loads(run(submit.command.replace(DOCUMENTED_API, stack.api_url)))
    assert printed == json.loads(submit.says[0].split("   (HTTP")[0])

    read_command = read.command.replace(DOCUMENTED_API, stack.api_url)
    deadline = time.monotonic() + 60
    while (decided := json.loads(run(read_command)))["status"] == "received" and time.monotonic() < deadline:
        time.sleep(0.3)
    matches(decided, documented_json(read.says[:1]))
    documented_level = re.search(r'"level": "(P\d)"', " ".join(read.says)).group(1)
    assert decided["decision"]["priority"]["level"] == documented_level
    for part in ("alternatives", "entities", "troubleshooting"):
        assert decided["decision"][part], part

    listing, health, openapi = (json.loads(run(o.command.replace(DOCUMENTED_API, stack.api_url))) for o in others)
    assert "T-1001" in {item["ticket_id"] for item in listing["items"]}
    assert health["status"] == "ok"
    assert "/tickets" in openapi["paths"]


def test_the_outage_examples(stack: RunningStack) -> None:
    declare, listing, end = (
        Example(e.command.replace("PORT", str(stack.moto_port)), e.says)
        for e in examples("Outages: the service status routing sees")
    )
    printed = run(declare.command).strip()
    pattern = re.escape(declare.says[0]).replace(r"2026\-12\-03\ 09:10", r"\d{4}-\d\d-\d\d \d\d:\d\d")
    assert re.fullmatch(pattern, printed), printed
    assert "OUT-42" in run(listing.command) and "active" in run(listing.command)
    assert run(end.command).startswith("ended OUT-42 in Springfield at ")
    as_json = json.loads(run(listing.command.replace(" --endpoint-url", " --json --endpoint-url")))
    assert [(o["outage_id"], o["ended_at"] is not None) for o in as_json] == [("OUT-42", True)]


def test_the_routing_brain_example() -> None:
    route = examples("The routing brain on its own")[0]
    matches(json.loads(run(route.command)), documented_json(route.says))


def test_the_on_call_examples(stack: RunningStack) -> None:
    """The rehearsal (a message that is not an event, dead-lettered by the sync worker), then the tool's commands."""
    with_port = {"PORT": str(stack.moto_port)}

    def local(example: Example) -> str:
        return re.sub(r"PORT", with_port["PORT"], example.command)

    rehearse, show_after = examples("On call: the dead-letter queues", block_number=1)
    run(local(rehearse))
    deadline = time.monotonic() + 60
    while "(unreadable)" not in (shown := run(local(show_after))) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "(unreadable)" in shown and "EventFormatError" in shown, shown

    commands = {e.command.split(" --endpoint-url")[0].removeprefix(".venv/bin/switchboard dlq "): local(e)
                for e in examples("On call: the dead-letter queues")}
    listing = run(commands["list"])
    assert re.search(r"switchboard-dev-sync-dlq\s.*\b1\b", listing), listing
    as_json = json.loads(run(commands["show routing --filter timeout --older-than 2h --json"]))
    assert as_json == []
    assert "would move 1 dead letter(s) from switchboard-dev-sync-dlq" in run(commands["redrive sync --dry-run"])
    assert "moved 0 message(s)" in run(commands["redrive sync --ticket-id T-404"])
    assert "switchboard-dev-routing-dlq is empty: nothing to redrive" in run(commands["redrive routing --rate 20"])
    audit = run(commands["audit --since 24h"])
    assert "redrive sync  1  dry_run=True" in audit and "show sync" in audit, audit
