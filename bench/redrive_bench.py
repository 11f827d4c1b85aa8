"""Redrive throughput: dead letters moved per second from the routing DLQ back to the routing queue, on a moto server.

    python -m bench.redrive_bench [-n 500] [--runs 3] [--json FILE]

Starts moto's server in its own process (``infra.embedded_aws``, as the local stack does), provisions the stage,
and for each run fills the routing DLQ with ``-n`` TicketReceived envelopes, then empties it:

* ``engine``: the message-by-message redrive the command uses (``ops.drain.Drain`` with ``ops.redrive.ToQueue``:
  receive ten, send ten in one batch, delete ten in one batch), timed alone;
* ``command``: ``python -m ops dlq redrive routing --endpoint-url …`` in its own process, timed from start to exit
  (interpreter start, imports, clients, audit record and progress bar included);
* ``moto alone``: the same three calls per ten messages (receive, send batch, delete batch) with nothing of ours
  around them: the ceiling moto's server sets. moto's ReceiveMessage scans the whole queue (about 1 ms per 1,000
  queued messages on a quiet core), so this ceiling falls as the queue gets deeper; SQS answers in a few ms at any
  depth, and in AWS a whole queue moves inside SQS (StartMessageMoveTask) anyway.

Every run checks that the DLQ ends empty and the routing queue holds exactly ``-n`` messages, none twice. No worker
consumes the routing queue here: this measures the move, not the routing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from datalayer import aws
from datalayer.settings import Settings
from infra.local import EmbeddedAws
from infra.resources import provision
from ops.dead_letter_queues import stage_queues
from ops.dead_letters import QueueReader
from ops.drain import Drain
from ops.redrive import ToQueue


@dataclass
class Run:
    messages: int
    engine_s: float
    engine_per_s: float
    command_s: float
    command_per_s: float
    moto_alone_s: float
    moto_alone_per_s: float


@dataclass
class RedriveReport:
    messages: int
    runs: list[Run]
    engine_per_s_median: float
    command_per_s_median: float
    moto_alone_per_s_median: float
    machine: str
    load_average: str


def machine() -> str:
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def fill(sqs: Any, url: str, count: int) -> None:
    body = {"version": "0", "detail-type": "TicketReceived", "source": "switchboard.tickets",
            "detail": {"ticket": {"ticket_id": "", "customer_id": "CUST-CON-0002", "subject": "No internet",
                                  "description": "Down since this morning."}}}
    for start in range(0, count, 10):
        entries = []
        for number in range(start, min(count, start + 10)):
            body["detail"]["ticket"]["ticket_id"] = f"BENCH-{number:05d}"
            entries.append({"Id": str(number - start), "MessageBody": json.dumps(body)})
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def drain_all(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [message["Body"] for message in messages]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                         for i, m in enumerate(messages)])
    return bodies


def check(sqs: Any, settings: Settings, urls: dict[str, str], count: int) -> None:
    moved = drain_all(sqs, urls["queue"])
    left = drain_all(sqs, urls["dlq"])
    tickets = [json.loads(body)["detail"]["ticket"]["ticket_id"] for body in moved]
    if left or len(tickets) != count or len(set(tickets)) != count:
        raise SystemExit(f"redrive lost or duplicated messages: {len(tickets)} moved ({len(set(tickets))} distinct)"
                         f", {len(left)} left in the DLQ, {count} expected")


def moto_alone(sqs: Any, urls: dict[str, str]) -> None:
    """Receive ten, send them in one batch, delete them in one batch: the redrive's calls and nothing else."""
    while messages := sqs.receive_message(QueueUrl=urls["dlq"], MaxNumberOfMessages=10, VisibilityTimeout=30,
                                          AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", []):
        sqs.send_message_batch(QueueUrl=urls["queue"], Entries=[{"Id": str(i), "MessageBody": m["Body"]}
                                                                 for i, m in enumerate(messages)])
        sqs.delete_message_batch(QueueUrl=urls["dlq"], Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                                 for i, m in enumerate(messages)])


def run_once(settings: Settings, sqs: Any, urls: dict[str, str], count: int) -> Run:
    queues = stage_queues(settings)
    fill(sqs, urls["dlq"], count)
    started = time.perf_counter()
    moto_alone(sqs, urls)
    moto_alone_s = time.perf_counter() - started
    check(sqs, settings, urls, count)

    fill(sqs, urls["dlq"], count)
    started = time.perf_counter()
    report = Drain(QueueReader(sqs, urls["dlq"], queues.resolve("routing"), queues), ToQueue(sqs, urls["queue"])).run()
    engine_s = time.perf_counter() - started
    assert report.handed_over == count, report
    check(sqs, settings, urls, count)

    fill(sqs, urls["dlq"], count)
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "SWITCHBOARD_"))}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ops", "dlq", "redrive", "routing", "--endpoint-url",
                           str(settings.endpoint_url)], capture_output=True, text=True, env=environment, check=False)
    command_s = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the command failed: {done.stderr}")
    check(sqs, settings, urls, count)
    return Run(count, engine_s, count / engine_s, command_s, count / command_s, moto_alone_s, count / moto_alone_s)


def run(count: int, runs: int, console: Console) -> RedriveReport:
    with EmbeddedAws() as moto:
        endpoint = moto.endpoint
        settings = Settings(endpoint_url=endpoint)
        provisioned = provision(settings)
        sqs = aws.client("sqs", settings)
        urls = {"dlq": provisioned.routing_dlq_url, "queue": provisioned.routing_queue_url}
        results = []
        for number in range(runs):
            with console.status(f"run {number + 1} of {runs}: {count} dead letters…"):
                results.append(run_once(settings, sqs, urls, count))
    return RedriveReport(
        messages=count, runs=results,
        engine_per_s_median=statistics.median(r.engine_per_s for r in results),
        command_per_s_median=statistics.median(r.command_per_s for r in results),
        moto_alone_per_s_median=statistics.median(r.moto_alone_per_s for r in results),
        machine=machine(), load_average=" ".join(f"{value:.2f}" for value in os.getloadavg()),
    )


def report_table(report: RedriveReport) -> Table:
    table = Table(title=f"redrive of {report.messages} dead letters, routing DLQ → routing queue (moto server)")
    for column in ("run", "engine", "msgs/s", "command", "msgs/s ", "moto alone", "msgs/s  "):
        table.add_column(column, justify="right")
    for number, result in enumerate(report.runs, 1):
        table.add_row(str(number), f"{result.engine_s:.2f} s", f"{result.engine_per_s:.0f}",
                      f"{result.command_s:.2f} s", f"{result.command_per_s:.0f}",
                      f"{result.moto_alone_s:.2f} s", f"{result.moto_alone_per_s:.0f}")
    table.add_row("median", "", f"{report.engine_per_s_median:.0f}", "", f"{report.command_per_s_median:.0f}", "",
                  f"{report.moto_alone_per_s_median:.0f}")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", "--messages", type=int, default=500, help="dead letters per run (default 500)")
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3); the median is reported")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    console = Console()
    report = run(args.messages, args.runs, console)
    console.print(report_table(report))
    console.print(f"machine: {report.machine}; load average before the last run: {report.load_average}",
                  highlight=False)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
