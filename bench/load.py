"""Load test of the whole local pipeline: HTTP submit → EventBridge → SQS → worker → decision.

    python -m bench.load [-n 500] [--rate 50] [--workers 4] [--keyword-router] [--json bench/results/run.json]
    python -m bench.load --api-url http://127.0.0.1:8000 --api-key local-dev-key --endpoint-url http://127.0.0.1:PORT

Without ``--api-url`` it starts its own stack (``infra.local.LocalStack``); with it, it drives a running
``python -m infra.local`` (the moto endpoint it prints is ``--endpoint-url``). It reports

* accepted (202), routed, lost (accepted but never decided: must be 0), failed;
* duplicated decisions: tickets with more than one TicketRouted event, counted by a subscriber queue on the
  bus like any downstream consumer would (must be 0);
* receipt→decision latency p50/p95/p99 (the stored received_at and routed_at) and decision throughput;
* moto's own EventBridge→SQS throughput measured in the same run, the ceiling every figure above sits under.

Every wait is bounded, and only loopback addresses are accepted: this is not a tool to point at AWS.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from datalayer import aws
from datalayer.settings import Settings, get_settings, use_settings
from datalayer.tickets import TicketStore
from infra import logs
from infra.llm_stub import StubServer
from infra.local import LocalStack, StackOptions
from infra.observe import Observer, observe
from infra.resources import queue_policy

SUBJECTS = (
    ("No internet since this morning", "The modem shows a red light and nothing loads."),
    ("Charged twice", "My bill shows the monthly fee twice, please refund one."),
    ("Cannot log in", "Password reset email never arrives."),
    ("Router keeps rebooting", "Error E-1043 on the display every hour."),
    ("Moving house", "Please transfer my service to my new address on the 1st."),
)
CUSTOMERS = ("CUST-ENT-0001", "CUST-BIZ-0001", "CUST-BIZ-0002", "CUST-CON-0001", "CUST-CON-0002")
PROBE_DETAIL_TYPE = "BenchProbe"


@dataclass
class Report:
    requested: int
    rate_requested: float
    submit_rate: float
    accepted: int
    rejected: int
    routed: int
    needs_review: int
    failed: int
    lost: int
    duplicated: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    deferred: int
    """Tickets the cascade sent to the agent tier."""
    provisional_p50_ms: float
    provisional_p99_ms: float
    deferred_final_p50_ms: float
    deferred_final_p99_ms: float
    decisions_per_s: float
    moto_eventbridge_to_sqs_per_s: float
    workers: int
    router: str
    agent: str


def _loopback_only(url: str) -> str:
    host = urlparse(url).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"{url}: only loopback addresses are allowed")
    return url


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def submit(
    api_url: str, api_key: str, run_id: str, count: int, rate: float, progress: Progress, concurrency: int = 8
) -> tuple[list[str], int, float]:
    """POST ``count`` tickets at ``rate`` per second; returns the accepted ids, rejections, achieved rate."""
    task = progress.add_task("submitting", total=count)
    accepted: list[str] = []
    rejected = 0
    lock = threading.Lock()

    def post(client: httpx.Client, number: int) -> None:
        nonlocal rejected
        subject, description = SUBJECTS[number % len(SUBJECTS)]
        ticket_id = f"BENCH-{run_id}-{number:06d}"
        body = {
            "ticket_id": ticket_id,
            "customer_id": CUSTOMERS[number % len(CUSTOMERS)],
            "subject": subject,
            "description": description,
            "channel": "web",
        }
        try:
            ok = client.post("/tickets", json=body).status_code == 202
        except httpx.HTTPError:
            ok = False
        with lock:
            if ok:
                accepted.append(ticket_id)
            else:
                rejected += 1
        progress.advance(task)

    limits = httpx.Limits(max_connections=concurrency)
    started = time.monotonic()
    with (
        httpx.Client(base_url=api_url, headers={"x-api-key": api_key}, timeout=30, limits=limits) as client,
        ThreadPoolExecutor(concurrency, thread_name_prefix="submit") as pool,
    ):
        for number in range(count):
            delay = started + number / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, client, number)
    elapsed = time.monotonic() - started
    return accepted, rejected, count / elapsed if elapsed else float("inf")


def wait_for_decisions(observer: Observer, ticket_ids: list[str], timeout_s: float, progress: Progress) -> None:
    """Drain TicketRouted events until every accepted ticket has one or ``timeout_s`` passes, then a little
    longer, so that a late duplicate would still be counted."""
    wanted = set(ticket_ids)
    task = progress.add_task("decisions", total=len(wanted))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        observer.receive_once()
        progress.update(task, completed=len(wanted & set(observer.per_ticket())))
        if wanted <= set(observer.per_ticket()):
            break
    observer.drain(until=lambda _events: False, timeout_s=2)


def measure_moto_ceiling(settings: Settings, count: int, threads: int = 1) -> float:
    """Events per second moto moves from put_events to a received-and-deleted SQS message, nothing else.

    One putting thread by default: moto runs under this process's GIL, and more threads measure contention.
    """
    sqs, events = aws.client("sqs", settings), aws.client("events", settings)
    name = f"bench-probe-{int(time.time())}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = json.dumps({"source": [settings.event_source], "detail-type": [PROBE_DETAIL_TYPE]})
    rule_arn = events.put_rule(Name=name, EventBusName=settings.event_bus, EventPattern=pattern)["RuleArn"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(queue_policy(queue_arn, rule_arn))})
    events.put_targets(Rule=name, EventBusName=settings.event_bus, Targets=[{"Id": "probe", "Arn": queue_arn}])
    entry = {
        "Source": settings.event_source,
        "DetailType": PROBE_DETAIL_TYPE,
        "Detail": json.dumps({"probe": 1}),
        "EventBusName": settings.event_bus,
    }
    received = 0
    stop = threading.Event()

    def drain() -> None:
        nonlocal received
        while not stop.is_set() or received < count:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            )
            if not messages and stop.is_set():
                return
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
                received += len(messages)

    def put(batches: int) -> None:
        for _ in range(batches):
            events.put_events(Entries=[entry] * 10)

    started = time.monotonic()
    with ThreadPoolExecutor(threads + 1) as pool:
        drained = pool.submit(drain)
        for future in [pool.submit(put, count // 10 // threads) for _ in range(threads)]:
            future.result()
        stop.set()
        drained.result(timeout=120)
    elapsed = time.monotonic() - started
    events.remove_targets(Rule=name, EventBusName=settings.event_bus, Ids=["probe"])
    events.delete_rule(Name=name, EventBusName=settings.event_bus)
    sqs.delete_queue(QueueUrl=queue_url)
    return received / elapsed


def analyse(store: TicketStore, accepted: list[str], observer: Observer) -> dict[str, Any]:
    statuses = dict.fromkeys(["routed", "needs_review", "failed", "received", "awaiting_agent", "missing"], 0)
    latencies: list[float] = []
    provisional: list[float] = []
    deferred_final: list[float] = []
    first_received: datetime | None = None
    last_routed: datetime | None = None
    for ticket_id in accepted:
        record = store.get(ticket_id)
        if record is None:
            statuses["missing"] += 1
            continue
        statuses[record.status.value] += 1
        received = datetime.fromisoformat(record.received_at)
        if record.deferred_at:
            provisional.append((datetime.fromisoformat(record.deferred_at) - received).total_seconds() * 1000)
        if record.routed_at:
            routed = datetime.fromisoformat(record.routed_at)
            latencies.append((routed - received).total_seconds() * 1000)
            if record.deferred_at:
                deferred_final.append(latencies[-1])
            first_received = min(first_received or received, received)
            last_routed = max(last_routed or routed, routed)
    window = (last_routed - first_received).total_seconds() if first_received and last_routed else 0.0
    per_ticket = observer.per_ticket()
    return {
        "statuses": statuses,
        "latencies": sorted(latencies),
        "provisional": sorted(provisional),
        "deferred_final": sorted(deferred_final),
        "decisions_per_s": len(latencies) / window if window else 0.0,
        "duplicated": sum(1 for ticket_id in accepted if per_ticket.get(ticket_id, 0) > 1),
        "lost": statuses["received"] + statuses["missing"] + statuses["awaiting_agent"],
    }


def report_table(report: Report) -> Table:
    table = Table(title=f"Switchboard local pipeline: {report.requested} tickets at {report.rate_requested:g}/s")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("submit rate achieved", f"{report.submit_rate:.1f}/s"),
        ("accepted / rejected", f"{report.accepted} / {report.rejected}"),
        ("routed / needs_review / failed", f"{report.routed} / {report.needs_review} / {report.failed}"),
        ("lost (must be 0)", f"[{'green' if report.lost == 0 else 'bold red'}]{report.lost}[/]"),
        (
            "duplicated decisions (must be 0)",
            f"[{'green' if report.duplicated == 0 else 'bold red'}]{report.duplicated}[/]",
        ),
        ("receipt→decision p50", f"{report.latency_p50_ms:.0f} ms"),
        ("receipt→decision p95", f"{report.latency_p95_ms:.0f} ms"),
        ("receipt→decision p99", f"{report.latency_p99_ms:.0f} ms"),
        ("receipt→decision max", f"{report.latency_max_ms:.0f} ms"),
        ("sent to the agent tier", f"{report.deferred} ({report.agent})"),
        (
            "receipt→provisional p50 / p99 (deferred)",
            f"{report.provisional_p50_ms:.0f} / {report.provisional_p99_ms:.0f} ms",
        ),
        (
            "receipt→final p50 / p99 (deferred)",
            f"{report.deferred_final_p50_ms:.0f} / {report.deferred_final_p99_ms:.0f} ms",
        ),
        ("decision throughput", f"{report.decisions_per_s:.1f}/s"),
        ("moto EventBridge→SQS alone", f"{report.moto_eventbridge_to_sqs_per_s:.1f}/s"),
        ("pollers / router", f"{report.workers} / {report.router}"),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def run(args: argparse.Namespace, console: Console) -> Report:
    stack: LocalStack | None = None
    stub: StubServer | None = None
    if args.api_url:
        api_url, api_key = _loopback_only(args.api_url), args.api_key
        endpoint = _loopback_only(args.endpoint_url)
        use_settings(get_settings().derive(endpoint_url=endpoint))
    else:
        with console.status("starting a local stack…"):
            agent: dict[str, Any] = {}
            if args.agent_stub:
                stub = StubServer(delay_s=args.agent_stub_delay).start()
                agent = {
                    "routing_policy": "cascade",
                    "agent_provider": "openai",
                    "agent_base_url": stub.url,
                    "agent_model_id": "switchboard-stub",
                    "agent_api_key": "local",
                }
            stack = LocalStack(
                StackOptions(
                    port=0,
                    workers=args.workers,
                    agent_workers=args.agent_workers,
                    keyword_router=args.keyword_router,
                    sweep_every_s=3600,
                    settings=agent,
                )
            ).start()
        api_url, api_key = stack.api_url, stack.api_key
    try:
        settings = get_settings()
        run_id = time.strftime("%H%M%S")
        observer = observe(settings, "TicketRouted", f"bench-routed-{run_id}")
        columns = (TextColumn("{task.description:>11}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            accepted, rejected, submit_rate = submit(api_url, api_key, run_id, args.count, args.rate, progress)
            wait_for_decisions(observer, accepted, args.settle_timeout, progress)
        with console.status("measuring moto's own EventBridge→SQS throughput…"):
            ceiling = measure_moto_ceiling(settings, args.probe_events)
        observer.close()
        result = analyse(TicketStore(settings), accepted, observer)
        latencies = result["latencies"]
        return Report(
            requested=args.count,
            rate_requested=args.rate,
            submit_rate=submit_rate,
            accepted=len(accepted),
            rejected=rejected,
            routed=result["statuses"]["routed"],
            needs_review=result["statuses"]["needs_review"],
            failed=result["statuses"]["failed"],
            lost=result["lost"],
            duplicated=result["duplicated"],
            latency_p50_ms=_percentile(latencies, 50),
            latency_p95_ms=_percentile(latencies, 95),
            latency_p99_ms=_percentile(latencies, 99),
            latency_max_ms=max(latencies, default=float("nan")),
            deferred=len(result["provisional"]),
            provisional_p50_ms=_percentile(result["provisional"], 50),
            provisional_p99_ms=_percentile(result["provisional"], 99),
            deferred_final_p50_ms=_percentile(result["deferred_final"], 50),
            deferred_final_p99_ms=_percentile(result["deferred_final"], 99),
            decisions_per_s=result["decisions_per_s"],
            moto_eventbridge_to_sqs_per_s=ceiling,
            workers=args.workers if stack else 0,
            router="keyword" if args.keyword_router else "model",
            agent=f"test endpoint, {args.agent_stub_delay:g} s per answer" if args.agent_stub else "none (local-only)",
        )
    finally:
        if stack is not None:
            stack.stop()
        if stub is not None:
            stub.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load-test the local Switchboard pipeline.")
    parser.add_argument("-n", "--count", type=int, default=500, help="tickets to submit (default 500)")
    parser.add_argument("--rate", type=float, default=50.0, help="tickets per second (default 50)")
    parser.add_argument("--workers", type=int, default=4, help="pollers of a self-started stack (default 4)")
    parser.add_argument("--keyword-router", action="store_true", help="keyword router instead of the model")
    parser.add_argument("--settle-timeout", type=float, default=120.0, help="max seconds to wait for decisions")
    parser.add_argument("--probe-events", type=int, default=1000, help="events for the moto ceiling probe")
    parser.add_argument("--api-url", help="drive a running stack instead of starting one (loopback only)")
    parser.add_argument("--api-key", default="local-dev-key")
    parser.add_argument("--endpoint-url", help="the running stack's moto endpoint (with --api-url)")
    parser.add_argument(
        "--agent-stub",
        action="store_true",
        help="agent tier on, against the local test endpoint (infra.llm_stub): not a model",
    )
    parser.add_argument(
        "--agent-workers", type=int, default=10, help="agent pollers (Lambda's maximum concurrency there: 10)"
    )
    parser.add_argument(
        "--agent-stub-delay",
        type=float,
        default=0.8,
        help="seconds the test endpoint takes per answer (default 0.8, about a Haiku call)",
    )
    parser.add_argument("--json", type=Path, help="also write the report here (bench/results/ is git-ignored)")
    args = parser.parse_args(argv)
    if args.api_url and not args.endpoint_url:
        parser.error("--api-url needs --endpoint-url (the moto endpoint the stack printed)")
    if args.count < 1 or args.rate <= 0:
        parser.error("--count and --rate must be positive")

    console = Console()
    logs.install(console, level=logging.WARNING)  # the stack's per-ticket logs would bury the progress bars
    report = run(args, console)
    console.print(report_table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return 0 if report.lost == 0 and report.duplicated == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
