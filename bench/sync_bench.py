"""Sync latency of the local stack: a final decision (TicketRouted) to ``synced`` in the ticketing system.

    python -m bench.sync_bench [-n 300] [--rate 5] [--sync-workers 5] [--ticketing-delay-ms 0] [--json FILE]

Starts its own ``infra.local.LocalStack`` (keyword router, so the figures are about the sync, not the model),
submits tickets over HTTP at ``--rate``, waits until every decision is ``synced`` or ``failed``, and reports, from
the stored times (the same machine's clock wrote both):

* TicketRouted → synced (``routed_at`` → ``synced_at``): EventBridge → sync queue → poller → the sync worker's
  three requests to the local ticketing server → ``mark_synced``; p50/p95/p99/max;
* receipt → synced, the whole loop a ticket travels;
* failed syncs and tickets with more than one comment in the ticketing server (both must be 0).

``--ticketing-delay-ms`` adds that much to every request the local ticketing server answers, to play a Zendesk
that is farther away than 127.0.0.1 (Zendesk's own answers take a few hundred ms).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.load import submit
from datalayer.records import SyncStatus, TicketRecord
from datalayer.tickets import TicketStore
from infra import logs
from infra.local import LocalStack, StackOptions
from workers.limits import SYNC_MAX_CONCURRENCY


@dataclass
class SyncReport:
    tickets: int
    rate: float
    sync_workers: int
    ticketing_delay_ms: float
    synced: int
    failed: int
    unsettled: int
    duplicate_comments: int
    routed_to_synced_p50_ms: float
    routed_to_synced_p95_ms: float
    routed_to_synced_p99_ms: float
    routed_to_synced_max_ms: float
    received_to_synced_p50_ms: float
    received_to_synced_p95_ms: float
    received_to_synced_p99_ms: float
    machine: str


def percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def machine() -> str:
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def wait_until_settled(store: TicketStore, ticket_ids: list[str], timeout_s: float, progress: Progress) -> dict:
    """Every ticket's record once its sync is ``synced`` or ``failed`` (or the timeout passed)."""
    task = progress.add_task("synced", total=len(ticket_ids))
    settled: dict[str, TicketRecord] = {}
    deadline = time.monotonic() + timeout_s
    while len(settled) < len(ticket_ids) and time.monotonic() < deadline:
        for ticket_id in ticket_ids:
            if ticket_id in settled:
                continue
            record = store.get(ticket_id)
            if record is not None and record.sync_status in (SyncStatus.SYNCED, SyncStatus.FAILED):
                settled[ticket_id] = record
        progress.update(task, completed=len(settled))
        time.sleep(0.5)
    return settled


def _ms(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000


def run(args: argparse.Namespace, console: Console) -> SyncReport:
    options = StackOptions(port=0, workers=4, sync_workers=args.sync_workers, keyword_router=True, sweep_every_s=3600)
    with console.status("starting a local stack…"):
        stack = LocalStack(options).start()
    _quiet()
    try:
        assert stack.settings is not None and stack.ticketing is not None
        stack.ticketing.delay_s = args.ticketing_delay_ms / 1000
        store = TicketStore(stack.settings)
        columns = (TextColumn("{task.description:>11}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            accepted, _, _ = submit(stack.api_url, stack.api_key, time.strftime("S%H%M%S"), args.count, args.rate,
                                    progress)
            settled = wait_until_settled(store, accepted, args.settle_timeout, progress)
        synced = [r for r in settled.values() if r.sync_status is SyncStatus.SYNCED and r.routed_at and r.synced_at]
        routed_to_synced = sorted(_ms(r.routed_at, r.synced_at) for r in synced)  # type: ignore[arg-type]
        received_to_synced = sorted(_ms(r.received_at, r.synced_at) for r in synced)  # type: ignore[arg-type]
        comments = {ticket_id: len(stack.ticketing.comments(ticket_id)) for ticket_id in accepted}
        return SyncReport(
            tickets=len(accepted),
            rate=args.rate,
            sync_workers=args.sync_workers,
            ticketing_delay_ms=args.ticketing_delay_ms,
            synced=len(synced),
            failed=sum(1 for r in settled.values() if r.sync_status is SyncStatus.FAILED),
            unsettled=len(accepted) - len(settled),
            duplicate_comments=sum(1 for count in comments.values() if count > 1),
            routed_to_synced_p50_ms=percentile(routed_to_synced, 50),
            routed_to_synced_p95_ms=percentile(routed_to_synced, 95),
            routed_to_synced_p99_ms=percentile(routed_to_synced, 99),
            routed_to_synced_max_ms=max(routed_to_synced, default=float("nan")),
            received_to_synced_p50_ms=percentile(received_to_synced, 50),
            received_to_synced_p95_ms=percentile(received_to_synced, 95),
            received_to_synced_p99_ms=percentile(received_to_synced, 99),
            machine=machine(),
        )
    finally:
        stack.stop()


def _quiet() -> None:
    """Only warnings from the workers and the API, and no metric lines: the progress bars stay readable."""
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and name.startswith("switchboard-"):
            logger.setLevel(logging.WARNING)


def report_table(report: SyncReport) -> Table:
    table = Table(title=f"Sync latency: {report.tickets} tickets at {report.rate:g}/s, "
                        f"{report.sync_workers} sync pollers, ticketing server +{report.ticketing_delay_ms:g} ms")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("synced / failed / unsettled", f"{report.synced} / {report.failed} / {report.unsettled}"),
        ("tickets with a second comment (must be 0)", str(report.duplicate_comments)),
        ("TicketRouted→synced p50 / p95 / p99", f"{report.routed_to_synced_p50_ms:.0f} / "
         f"{report.routed_to_synced_p95_ms:.0f} / {report.routed_to_synced_p99_ms:.0f} ms"),
        ("TicketRouted→synced max", f"{report.routed_to_synced_max_ms:.0f} ms"),
        ("receipt→synced p50 / p95 / p99", f"{report.received_to_synced_p50_ms:.0f} / "
         f"{report.received_to_synced_p95_ms:.0f} / {report.received_to_synced_p99_ms:.0f} ms"),
        ("machine", report.machine),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure TicketRouted → synced on the local stack.")
    parser.add_argument("-n", "--count", type=int, default=300, help="tickets to submit (default 300)")
    parser.add_argument("--rate", type=float, default=5.0, help="tickets per second (default 5)")
    parser.add_argument(
        "--sync-workers", type=int, default=SYNC_MAX_CONCURRENCY, help="sync pollers (default: the deployed maximum, 5)"
    )
    parser.add_argument("--ticketing-delay-ms", type=float, default=0.0, help="added to each ticketing request")
    parser.add_argument("--settle-timeout", type=float, default=180.0, help="max seconds to wait for the syncs")
    parser.add_argument("--json", type=Path, help="also write the report here (bench/results/ is git-ignored)")
    args = parser.parse_args(argv)
    if args.count < 1 or args.rate <= 0 or args.sync_workers < 1 or args.ticketing_delay_ms < 0:
        parser.error("--count, --rate and --sync-workers must be positive, --ticketing-delay-ms not negative")

    console = Console()
    logs.install(console, level=logging.WARNING)
    report = run(args, console)
    console.print(report_table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return 0 if report.failed == report.unsettled == report.duplicate_comments == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
