"""``python -m infra.local``: the whole of Switchboard on one machine, talking to an embedded moto.

One process tree: a moto server process on 127.0.0.1 (free port) stands in for DynamoDB, EventBridge, SQS and
Secrets Manager; every resource is created from ``infra.resources``; the Chalice app serves the REST API through
Chalice's local server; a fleet of pollers (``infra.poller``) plays Lambda's SQS event source mapping and invokes
the real worker handlers; a local Zendesk stand-in (``infra.ticketing_server``) receives the synced decisions and
sends its webhooks to the API; a thread runs the stuck-ticket sweep the way the scheduled Lambda would. Ctrl-C or
SIGTERM stops it all, in the reverse order.

    python -m infra.local [--host 127.0.0.1] [--port 8000] [--workers 4] [--demo [--exit]] [--keyword-router]

``LocalStack`` is also what the integration tests and ``bench/load.py`` start.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import httpx
from chalice.config import Config
from chalice.local import LocalDevServer, create_local_server
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from datalayer import aws
from datalayer.settings import AgentProvider, RoutingPolicy, Settings, get_settings, use_settings
from infra import logs
from infra.persistence import DEFAULT_DIRECTORY, LocalState
from infra.poller import SqsEventSourceMapping, find_sqs_handler
from infra.resources import Provisioned, provision, seed_customers
from infra.ticketing_server import LocalTicketingServer, start_local_ticketing
from workers import agent, routing, sync
from workers.limits import AGENT_WORKER_TIMEOUT_SECONDS, SYNC_WORKER_TIMEOUT_SECONDS
from workers.sweep import sweep_with_settings

log = logging.getLogger("switchboard.local")

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
DEV_API_KEY = "local-dev-key"
DEFAULT_SWEEP_EVERY_S = 30.0


@dataclass(frozen=True)
class StackOptions:
    host: str = LOOPBACK
    port: int = 8000
    """0 picks a free port (tests, benchmarks)."""
    workers: int = 4
    agent_workers: int = 4
    """Concurrent agent invocations (Lambda's maximum concurrency on the agent queue)."""
    sync_workers: int = 2
    """Concurrent sync invocations, writing decisions to the local ticketing server."""
    keyword_router: bool = False
    visibility_timeout_s: int | None = None
    """Every queue's visibility timeout; None: the production values (tests shorten them to see retries)."""
    sweep_every_s: float = DEFAULT_SWEEP_EVERY_S
    region: str = "us-east-1"
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Settings to change on top of the environment's (e.g. the agent provider for a test)."""
    state_dir: Path | None = None
    """Where tickets, decisions and queued work are kept across restarts (``infra.persistence``); None: nowhere."""
    reset: bool = False
    """Start clean: forget what ``state_dir`` holds."""
    snapshot_every_s: float = 5.0


@contextmanager
def _process_settings(settings: Settings) -> Iterator[None]:
    """Make ``settings`` the process's settings for the stack's lifetime, then restore what was there."""
    previous = get_settings()
    use_settings(settings)
    try:
        yield
    finally:
        use_settings(previous)


MOTO_START_TIMEOUT_S = 30.0
WATCHDOG_EVERY_S = 0.5


class EmbeddedAws:
    """moto's server in its own interpreter (``infra.embedded_aws``), on a port that stays the same when it is
    started again, so that every client keeps its endpoint.

    Its own process, not a thread: moto is the busiest part of the local stack (every ticket costs it about ten
    calls), and in-process it would share one interpreter lock with the API and the pollers.
    """

    def __init__(self, module: str = "infra.embedded_aws", watch_parent: bool = True) -> None:
        """``module``: the server to run with ``-H HOST -p PORT`` (a test's own variant of moto's server);
        ``watch_parent``: it takes ``--parent-pid`` and leaves when this process is gone."""
        self.module = module
        self.watch_parent = watch_parent
        with socket.socket() as probe:
            probe.bind((LOOPBACK, 0))
            self.port = probe.getsockname()[1]
        self.endpoint = f"http://{LOOPBACK}:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def exit_status(self) -> int | None:
        """None while it runs."""
        return self._process.poll() if self._process is not None else None

    def start(self) -> EmbeddedAws:
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.module, "-H", LOOPBACK, "-p", str(self.port),
             *(["--parent-pid", str(os.getpid())] if self.watch_parent else [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: Ctrl-C in the terminal reaches the stack alone, which stops moto last, after the
            # pollers; moto leaves by itself if the stack is killed (``--parent-pid``).
            start_new_session=True,
        )
        deadline = time.monotonic() + MOTO_START_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                raise StackError(f"the embedded AWS (moto) exited at start with status {self._process.returncode}")
            try:
                httpx.get(f"{self.endpoint}/moto-api/", timeout=1.0)
                return self
            except httpx.HTTPError as exc:
                if time.monotonic() > deadline:
                    raise StackError(f"the embedded AWS did not answer on {self.endpoint} in time") from exc
                time.sleep(0.1)

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> EmbeddedAws:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class StackError(Exception):
    """The local stack cannot start or keep running; the message is one line for the person who ran it."""


class _Every(threading.Thread):
    """Calls ``work`` every ``every_s`` seconds until stopped; an error is logged, never fatal."""

    def __init__(self, name: str, work: Callable[[], Any], every_s: float) -> None:
        super().__init__(name=name, daemon=True)
        self._work = work
        self._every_s = every_s
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self._every_s):
            try:
                self._work()
            except Exception:
                log.exception("%s failed", self.name)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


class LocalStack:
    """Moto, resources, API server, pollers and sweep, started and stopped as one."""

    def __init__(self, options: StackOptions = StackOptions()) -> None:
        self.options = options
        self.settings: Settings | None = None
        self.provisioned: Provisioned | None = None
        self.moto_endpoint = ""
        self.api_url = ""
        self.mapping: SqsEventSourceMapping | None = None
        self.agent_mapping: SqsEventSourceMapping | None = None
        self.sync_mapping: SqsEventSourceMapping | None = None
        self.ticketing: LocalTicketingServer | None = None
        self.moto: EmbeddedAws
        self.state: LocalState | None = None
        self._running = ExitStack()
        self._moto_lock = threading.Lock()
        """Held while moto is revived: a snapshot of a half-restored moto would replace the good one."""

    @property
    def api_key(self) -> str:
        assert self.settings is not None and self.settings.api_keys, "start() first"
        return self.settings.api_keys[0]

    def start(self) -> LocalStack:
        try:
            self._start(self._running)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, running: ExitStack) -> None:
        moto = self.moto = EmbeddedAws().start()
        running.callback(moto.stop)
        self.moto_endpoint = moto.endpoint
        state = self.state = LocalState(self.options.state_dir) if self.options.state_dir else None
        if state is not None and self.options.reset:
            state.reset()

        base = get_settings()
        self.settings = settings = base.derive(
            endpoint_url=self.moto_endpoint,
            region=self.options.region,
            api_keys=base.api_keys or (DEV_API_KEY,),
            model_dir="keyword" if self.options.keyword_router else base.model_dir,
            intake_journal=str(state.journal.path) if state is not None else None,
            **self.options.settings,
        )
        ticketing, settings = start_local_ticketing(running, settings)
        self.ticketing, self.settings = ticketing, settings
        running.enter_context(_process_settings(settings))
        self.provisioned = self._provision()
        if state is not None:
            running.callback(_quietly, self._snapshot)  # the last snapshot, once the pollers stopped

        app_module = importlib.import_module("app")
        routing.use_worker_factory(lambda: routing.build_default_worker(settings))
        running.callback(routing.use_worker_factory, routing.build_default_worker)
        routing.current_worker()  # load the model now: a broken artifact should stop the start, not the first ticket
        agent.use_worker_factory(lambda: agent.build_default_worker(settings))
        running.callback(agent.use_worker_factory, agent.build_default_worker)
        agent.current_worker()  # a provider that cannot be configured should stop the start too

        server = _api_server(app_module, settings, self.options.host, self.options.port)
        threading.Thread(target=server.server.serve_forever, name="api", daemon=True).start()
        running.callback(_quietly, server.server.server_close)
        running.callback(_quietly, server.shutdown)
        host, port = server.server.server_address[:2]
        self.api_url = f"http://{host}:{port}"
        ticketing.webhook_url = f"{self.api_url}/webhooks/ticketing"

        def poll(queue: str, url: str, arn: str, concurrency: int, **limits: int) -> SqsEventSourceMapping:
            """Lambda's event source mapping for ``queue``, polling until the stack stops."""
            mapping = SqsEventSourceMapping(
                find_sqs_handler(app_module.app, queue),
                queue_url=url,
                queue_arn=arn,
                region=settings.region,
                concurrency=concurrency,
                sqs_client=lambda: aws.client("sqs", settings),
                **limits,
            ).start()
            running.callback(_quietly, mapping.stop)
            return mapping

        provisioned = self.provisioned
        self.mapping = poll(settings.routing_queue, provisioned.routing_queue_url, provisioned.routing_queue_arn,
                            self.options.workers)
        self.agent_mapping = poll(settings.agent_queue, provisioned.agent_queue_url, provisioned.agent_queue_arn,
                                  self.options.agent_workers, timeout_s=AGENT_WORKER_TIMEOUT_SECONDS)
        sync.use_worker_factory(lambda: sync.build_default_worker(settings))
        running.callback(sync.use_worker_factory, sync.build_default_worker)
        self.sync_mapping = poll(settings.sync_queue, provisioned.sync_queue_url, provisioned.sync_queue_arn,
                                 self.options.sync_workers, timeout_s=SYNC_WORKER_TIMEOUT_SECONDS)

        sweeper = _Every("sweep", lambda: _sweep(settings), self.options.sweep_every_s)
        sweeper.start()
        running.callback(_quietly, sweeper.stop)
        if state is not None:
            snapshots = _Every("snapshot", self._snapshot, self.options.snapshot_every_s)
            snapshots.start()
            running.callback(_quietly, snapshots.stop)
        watchdog = _Every("watchdog", self._revive_moto, WATCHDOG_EVERY_S)
        watchdog.start()
        running.callback(_quietly, watchdog.stop)

    def _provision(self) -> Provisioned:
        """Every resource, the sample customers, and what the state directory kept."""
        assert self.settings is not None
        provisioned = provision(self.settings, visibility_timeout_s=self.options.visibility_timeout_s)
        seed_customers(self.settings)
        if self.state is not None:
            restored = self.state.restore(self.settings)
            if restored.items or restored.journal_replayed:
                log.info("restored from %s: %s", self.state.directory, restored)
        return provisioned

    def _revive_moto(self) -> None:
        """If moto died, say so in one line and start it again on the same port with the stack's state."""
        status = self.moto.exit_status
        if status is None:
            return
        log.error("the embedded AWS (moto) exited with status %s: restarting it with the stack's state", status)
        with self._moto_lock:
            self.moto.start()
            self._provision()
        log.warning("the embedded AWS is back on %s", self.moto.endpoint)

    def _snapshot(self) -> None:
        """Save the state, unless moto is down or being revived (its tables are empty or half restored)."""
        assert self.state is not None and self.settings is not None
        with self._moto_lock:
            if self.moto.exit_status is None:
                self.state.save(self.settings)

    def stop(self) -> None:
        """Stop in reverse order of start: sweep, pollers (finishing their batches), API, environment, moto."""
        self._running.close()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _quietly(stop: Callable[[], Any]) -> None:
    """Run one shutdown step; a failing step is logged so that the later ones still run."""
    try:
        stop()
    except Exception:
        log.exception("error while stopping")


def _api_server(app_module: ModuleType, settings: Settings, host: str, port: int) -> LocalDevServer:
    """Chalice's own local server (what ``chalice local --no-autoreload`` runs), in this process."""
    config_from_disk = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    config = Config.create(
        chalice_stage=settings.stage,
        app_name=config_from_disk["app_name"],
        project_dir=str(ROOT),
        config_from_disk=config_from_disk,
        chalice_app=app_module.app,
    )
    return create_local_server(app_module.app, config, host, port)


def describe_agent_tier(settings: Settings) -> str:
    """One line on who decides the tickets the fast router is unsure of."""
    if settings.routing_policy is RoutingPolicy.LOCAL:
        return "the fast router decides every ticket"
    if settings.agent_provider is AgentProvider.NONE:
        return "no agent provider: the cascade runs local-only (unsure tickets go to manual review)"
    where = f" at {settings.agent_base_url}" if settings.agent_base_url else ""
    return f"unsure tickets go to {settings.agent_model_id} ({settings.agent_provider.value}{where})"


def _sweep(settings: Settings) -> None:
    report = sweep_with_settings(settings)
    if report.republished or report.given_up or report.stopped_on_error:
        log.warning("sweep: %s", report)


# ---------------------------------------------------------------------------------------------------------------
# demo

DEMO_TICKETS: tuple[dict[str, str], ...] = (
    {
        "customer_id": "CUST-ENT-0001",
        "channel": "phone",
        "subject": "Fiber link down at HQ",
        "description": "Our 10G fiber circuit has been down since 08:10, all three office floors have no internet. "
        "Link light on the ONT is red. This is costing us thousands per hour.",
    },
    {
        "customer_id": "CUST-CON-0002",
        "channel": "email",
        "subject": "Charged twice this month",
        "description": "My November bill shows the $79.99 plan fee twice. Please refund the duplicate charge.",
    },
    {
        "customer_id": "CUST-CON-0001",
        "channel": "chat",
        "subject": "Can't log in to my account",
        "description": "Password reset emails never arrive and the app says my account is locked.",
    },
    {
        "customer_id": "CUST-BIZ-0002",
        "channel": "web",
        "subject": "New router keeps rebooting",
        "description": "The router you installed last week restarts every hour, error code E-1043 on the display.",
    },
    {
        "customer_id": "CUST-BIZ-0001",
        "channel": "email",
        "subject": "Moving our office",
        "description": "We move to 400 Main St on the 1st; please transfer service and cancel the old line.",
    },
    {"customer_id": "CUST-CON-0003", "channel": "social", "subject": "???", "description": "hello is anyone there"},
)


def run_demo(stack: LocalStack, console: Console, *, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """Submit the demo tickets over HTTP, wait for their decisions, print them; returns the ticket views."""
    headers = {"x-api-key": stack.api_key}
    run_id = time.strftime("%H%M%S")
    views: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=10) as client:
        for number, fields in enumerate(DEMO_TICKETS, start=1):
            ticket_id = f"DEMO-{run_id}-{number}"
            answer = client.post("/tickets", json={"ticket_id": ticket_id, **fields})
            answer.raise_for_status()
            views[ticket_id] = answer.json()
        deadline = time.monotonic() + timeout_s
        pending = set(views)
        while pending and time.monotonic() < deadline:
            for ticket_id in sorted(pending):
                view = client.get(f"/tickets/{ticket_id}").raise_for_status().json()
                if view["status"] not in ("received", "awaiting_agent"):
                    views[ticket_id] = view
                    pending.discard(ticket_id)
            if pending:
                time.sleep(0.2)

    table = Table(title="Demo decisions")
    table.add_column("ticket", no_wrap=True)
    table.add_column("team")
    table.add_column("confidence", justify="right")
    table.add_column("priority")
    table.add_column("decided by")
    table.add_column("status", no_wrap=True)
    for ticket_id, view in views.items():
        decision = view.get("decision") or {}
        confidence = view.get("confidence")
        table.add_row(
            ticket_id,
            view.get("team") or "-",
            f"{confidence:.2f}" if confidence is not None else "-",
            (decision.get("priority") or {}).get("level", "-"),
            decision.get("tier", "-"),
            view["status"],
        )
    console.print(table)
    return list(views.values())


# ---------------------------------------------------------------------------------------------------------------
# command line


def _one_line(error: Exception, options: StackOptions) -> str:
    """What went wrong at start, for the person who ran the command."""
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return f"{options.host}:{options.port} is already in use (another stack running?): choose --port"
    if isinstance(error, StackError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Switchboard locally against an embedded moto server.")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=4, help="concurrent pollers (Lambda concurrency)")
    parser.add_argument("--agent-workers", type=int, default=4, help="concurrent agent pollers (its concurrency cap)")
    parser.add_argument("--demo", action="store_true", help="submit sample tickets and print their decisions")
    parser.add_argument("--exit", action="store_true", help="with --demo: stop after printing the decisions")
    parser.add_argument(
        "--keyword-router",
        action="store_true",
        help="keyword baseline instead of the model",
    )
    parser.add_argument("--sweep-every", type=float, default=DEFAULT_SWEEP_EVERY_S, metavar="SECONDS")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_DIRECTORY,
                        help=f"where tickets, decisions and queued work are kept across restarts ({DEFAULT_DIRECTORY})")
    parser.add_argument("--reset", action="store_true", help="start clean: forget what --state-dir holds")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure, not one line")
    args = parser.parse_args(argv)

    console = Console()
    logs.install(console, tracebacks=args.debug)
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        console.print(f"[yellow]{signal.Signals(signum).name}: stopping…[/]")
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    options = StackOptions(
        host=args.host,
        port=args.port,
        workers=args.workers,
        agent_workers=args.agent_workers,
        keyword_router=args.keyword_router,
        sweep_every_s=args.sweep_every,
        state_dir=args.state_dir,
        reset=args.reset,
    )
    try:
        with console.status("starting moto, provisioning, restoring the saved state, loading the router…"):
            stack = LocalStack(options).start()
    except Exception as error:
        if args.debug:
            raise
        console.print(f"[bold red]error:[/] {_one_line(error, options)}  (--debug shows the traceback)")
        return 2
    try:
        logs.install(console, tracebacks=args.debug)  # the app's and the router's Powertools loggers exist now
        assert stack.settings is not None
        console.print(
            Panel.fit(
                f"API      [bold]{stack.api_url}[/]\n"
                f"API key  [bold]{stack.api_key}[/]   (header x-api-key)\n"
                f"moto     {stack.moto_endpoint}   (AWS_ENDPOINT_URL for the aws CLI / boto3)\n"
                f"workers  {options.workers} pollers on {stack.settings.routing_queue}, "
                f"{options.agent_workers} on {stack.settings.agent_queue}\n"
                f"policy   {stack.settings.routing_policy.value}: {describe_agent_tier(stack.settings)}\n"
                f"tickets  {stack.settings.ticketing_base_url}   (local Zendesk stand-in; decisions synced back)\n\n"
                f"curl -H 'x-api-key: {stack.api_key}' -H 'content-type: application/json' {stack.api_url}/tickets "
                '-d \'{"ticket_id":"T-1","customer_id":"CUST-CON-0002","subject":"No internet"}\'',
                title="Switchboard local stack",
                border_style="green",
            )
        )
        if args.demo:
            run_demo(stack, console)
            if args.exit:
                return 0
        console.print("[dim]Ctrl-C to stop[/]")
        stopping.wait()
        return 0
    finally:
        stack.stop()
        console.print("[green]stopped[/]")


if __name__ == "__main__":
    raise SystemExit(main())
