"""``switchboard dlq …`` (or ``python -m ops dlq …``): the dead-letter queues for on-call.

    switchboard dlq list                                   every DLQ of the stage: depth, oldest, where it goes back
    switchboard dlq show routing [--ticket-id T-1] [--filter timeout] [--older-than 2h] [--text] [--json]
    switchboard dlq redrive routing [--ticket-id …] [--filter …] [--dry-run] [--rate 20] [--limit N]
    switchboard dlq purge events [--yes] [--archive-dir DIR]
    switchboard dlq audit [--since 7d] [--json]

A queue is named by its short name (``routing``, ``agent``, ``sync``, ``events``) or in full. Against the local
stack give its moto URL (``--endpoint-url`` or ``AWS_ENDPOINT_URL``): a loopback endpoint needs no credentials.

What on-call sees of a ticket: its id, the error (masked), counts, times, the worker and the ticket's status now;
no ticket text unless ``--text`` asks for it, and then masked. The error and ids are what decides a redrive; the
text rarely does, and the entity extractor finds account numbers only after a keyword and no names at all, so
masked text is shown only to whoever asks (and ``show`` is audited like every action).

The work is done by plain classes (``ops.dead_letters``, ``ops.drain``, ``ops.redrive``, ``ops.archive``,
``ops.audit``); the commands here wire them from the settings (``Services``) and print.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import ClientError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from datalayer import aws
from datalayer.clock import Clock, utc_now
from datalayer.settings import Settings, dlq_archive_bucket_name
from datalayer.tickets import TicketStore
from ops.archive import FileArchive, S3Archive
from ops.audit import AuditLog, AuditRecord, local_operator
from ops.dead_letter_queues import Dlq, StageQueues, stage_queues
from ops.dead_letters import EVERYTHING, DeadLetter, QueueReader, Selection, TicketReasons, masked
from ops.drain import Drain, DrainReport, TokenBucket
from ops.options import Endpoint, Stage, one_line_errors, settings_for
from ops.redrive import Method, MoveTask, MoveTaskStatus, MoveTaskUnavailableError, ToBus, ToQueue, plan

app = typer.Typer(no_args_is_help=True, help="Dead-letter queues: list, show, redrive, purge; every action audited.")

PREVIEW_LIMIT = 1000
"""At most this many dead letters are read by ``list`` (per queue, for the oldest) and ``redrive --dry-run``."""
ERROR_CHARS = 90
TEXT_CHARS = 160
INTERRUPTED = 130
"""The exit status of a command stopped by Ctrl-C."""


class QueueMissingError(Exception):
    """A queue of the stage does not exist where the commands look."""


# -- what the commands talk to ------------------------------------------------------------------------------------


class Services:
    """The clients, stores and clocks of one command, built from its settings (tests replace the factory)."""

    def __init__(self, settings: Settings, *, clock: Clock = utc_now, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self._urls: dict[str, str] = {}

    @property
    def local(self) -> bool:
        """Against the local stack (a loopback endpoint): no credentials, no move task, archives on disk."""
        return aws.is_local(self.settings)

    @cached_property
    def queues(self) -> StageQueues:
        return stage_queues(self.settings)

    @cached_property
    def sqs(self) -> Any:
        return aws.client("sqs", self.settings)

    @cached_property
    def events(self) -> Any:
        return aws.client("events", self.settings)

    @cached_property
    def s3(self) -> Any:
        return aws.client("s3", self.settings)

    @cached_property
    def logs(self) -> Any:
        return aws.client("logs", self.settings)

    @cached_property
    def tickets(self) -> TicketStore:
        return TicketStore(self.settings)

    @cached_property
    def identity(self) -> dict[str, str]:
        """``Arn`` and ``Account`` of the caller; locally the operating-system user."""
        if self.local:
            return {"Arn": local_operator(), "Account": "local"}
        answer = aws.client("sts", self.settings).get_caller_identity()
        return {"Arn": str(answer["Arn"]), "Account": str(answer["Account"])}

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.logs, self.settings.audit_log_group, create_group=self.local, clock=self.clock)

    def queue_url(self, name: str) -> str:
        if name not in self._urls:
            try:
                self._urls[name] = str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])
            except ClientError as exc:
                if "NonExistentQueue" not in str(exc) and "QueueDoesNotExist" not in str(exc):
                    raise
                where = "the local stack at " + str(self.settings.endpoint_url) if self.local else "AWS"
                raise QueueMissingError(f"queue {name} does not exist in {where}: is stage {self.settings.stage} "
                                        "deployed (or started)?") from None
        return self._urls[name]

    def queue_arn(self, name: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url(name), AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def reader(self, dlq: Dlq) -> QueueReader:
        return QueueReader(self.sqs, self.queue_url(dlq.name), dlq, self.queues)

    def reasons(self, dlq: Dlq) -> TicketReasons:
        return TicketReasons(self.tickets, sync=dlq.source == self.settings.sync_queue)

    def archive_bucket(self) -> str:
        return self.settings.dlq_archive_bucket or dlq_archive_bucket_name(self.settings.stage,
                                                                           self.identity["Account"])


_factory: Callable[[Settings], Services] = Services


def use_services(factory: Callable[[Settings], Services] | None) -> None:
    """Replace how the commands build their services (tests); None restores the default."""
    global _factory
    _factory = factory or Services


def _services(stage: str | None, endpoint_url: str | None) -> Services:
    return _factory(settings_for(stage, endpoint_url))


# -- options ------------------------------------------------------------------------------------------------------

QueueName = Annotated[str, typer.Argument(help="routing, agent, sync, events, or the queue's full name.")]
TicketIds = Annotated[list[str] | None, typer.Option("--ticket-id", help="Only this ticket (repeatable).")]
ErrorText = Annotated[str | None, typer.Option("--filter", help="Only dead letters whose error contains this text.")]
OlderThan = Annotated[str | None, typer.Option(help="Only those failing for longer than this: 90s, 30m, 2h, 3d.")]
NewerThan = Annotated[str | None, typer.Option(help="Only those failing for less than this: 90s, 30m, 2h, 3d.")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON on stdout, for scripts.")]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(text: str | None, option: str) -> timedelta | None:
    """``90s``, ``30m``, ``2h``, ``3d``, ``1w``, or combined (``1h30m``)."""
    if text is None:
        return None
    compact = text.replace(" ", "").lower()
    parts = _DURATION.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise typer.BadParameter(f"{text!r} is not a duration like 90s, 30m, 2h or 3d", param_hint=option)
    return timedelta(seconds=sum(float(number) * _UNIT_S[unit] for number, unit in parts))


def selection_of(ticket_ids: list[str] | None, error_text: str | None, older_than: str | None,
                 newer_than: str | None) -> Selection:
    return Selection(frozenset(ticket_ids or ()), error_text or None, duration(older_than, "--older-than"),
                     duration(newer_than, "--newer-than"))


# -- commands -----------------------------------------------------------------------------------------------------


@app.command("list")
def list_queues(
    ctx: typer.Context,
    scan: Annotated[int, typer.Option(min=1, help="Dead letters read per queue to find the oldest.")] = PREVIEW_LIMIT,
    as_json: AsJson = False,
    stage: Stage = None,
    endpoint_url: Endpoint = None,
) -> None:
    """Every dead-letter queue of the stage: how many messages, how old the oldest, where they go back."""
    with one_line_errors(ctx):
        services = _services(stage, endpoint_url)
        readers = [services.reader(dlq) for dlq in services.queues.dlqs]
        services.audit.open()
        rows = []
        now = services.clock()
        for dlq, reader in zip(services.queues.dlqs, readers, strict=True):
            depth = reader.depth()
            letters = reader.peek(scan, now=now) if depth.visible else []
            ages = [age for letter in letters if (age := letter.age(now)) is not None]
            rows.append({
                "queue": dlq.short_name, "name": dlq.name, "messages": depth.total, "visible": depth.visible,
                "in_flight": depth.in_flight, "oldest_age_s": int(max(ages).total_seconds()) if ages else None,
                "scanned": len(letters), "back_to": dlq.back_to, "worker": _worker_of(services, dlq),
            })
        _audit(services, "list", None, sum(row["messages"] for row in rows))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title=f"dead-letter queues of stage {services.settings.stage}")
    for column in ("dead-letter queue", "messages", "oldest", "goes back to", "worker"):
        table.add_column(column, justify="right" if column in ("messages", "oldest") else "left",
                         no_wrap=column == "dead-letter queue")
    prefix = f"switchboard-{services.settings.stage}-"
    for row in rows:
        oldest = "-" if row["oldest_age_s"] is None else _age(timedelta(seconds=row["oldest_age_s"]))
        if row["scanned"] < row["visible"]:
            oldest = f"≥ {oldest} (of {row['scanned']} read)"
        back_to = "the bus (PutEvents)" if row["back_to"].startswith("bus ") else row["back_to"].removeprefix(prefix)
        table.add_row(row["name"], str(row["messages"]), oldest, back_to, row["worker"])
    Console().print(table)


@app.command()
def show(
    ctx: typer.Context,
    queue: QueueName,
    ticket_id: TicketIds = None,
    error_filter: ErrorText = None,
    older_than: OlderThan = None,
    newer_than: NewerThan = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 50,
    text: Annotated[bool, typer.Option("--text", help="Also the ticket's text, masked.")] = False,
    as_json: AsJson = False,
    stage: Stage = None,
    endpoint_url: Endpoint = None,
) -> None:
    """The dead letters of a queue, decoded: ticket, error, receives, first failure, worker; nothing is moved."""
    with one_line_errors(ctx):
        services = _services(stage, endpoint_url)
        dlq = services.queues.resolve(queue)
        selection = selection_of(ticket_id, error_filter, older_than, newer_than)
        reader = services.reader(dlq)
        services.audit.open()
        depth = reader.depth()
        now = services.clock()
        letters = reader.peek(limit, selection=selection, reasons=services.reasons(dlq), now=now)
        _audit(services, "show", dlq, len(letters), selection, {"text": text})
    if as_json:
        typer.echo(json.dumps([letter_json(letter, dlq, now, text) for letter in letters]))
        return
    console = Console()
    if not letters:
        console.print(f"no dead letters{_filters(selection)} in {dlq.name} ({depth.total} in all)", highlight=False)
        return
    title = f"{len(letters)} of {depth.total} dead letter(s) in {dlq.name}{_from(services, dlq)}{_filters(selection)}"
    console.print(letters_table(letters, title, now, dlq))
    if text:
        console.print("ticket text, masked:", *texts(letters), sep="\n", highlight=False)


@app.command()
def redrive(
    ctx: typer.Context,
    queue: QueueName,
    ticket_id: TicketIds = None,
    error_filter: ErrorText = None,
    older_than: OlderThan = None,
    newer_than: NewerThan = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would move; move nothing.")] = False,
    rate: Annotated[float | None, typer.Option(min=0.01, help="At most this many messages per second.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Move at most this many.")] = None,
    stage: Stage = None,
    endpoint_url: Endpoint = None,
) -> None:
    """Send dead letters back where they failed: the source queue, or the bus for the events DLQ."""
    with one_line_errors(ctx):
        services = _services(stage, endpoint_url)
        dlq = services.queues.resolve(queue)
        selection = selection_of(ticket_id, error_filter, older_than, newer_than)
        services.queue_url(dlq.name)  # a missing queue is the first thing to say
        if not dlq.source_is_bus:
            services.queue_url(dlq.source)
        services.audit.open()
        if dry_run:
            _preview(services, dlq, selection, limit)
            return
        if services.reader(dlq).depth().total == 0:
            _audit(services, "redrive", dlq, 0, selection, {"to": dlq.back_to})
            typer.echo(f"{dlq.name} is empty: nothing to redrive")
            return
        method = plan(dlq, selection, limit=limit, local=services.local)
        details: dict[str, Any] = {"method": method.value, "to": dlq.back_to, "rate": rate, "limit": limit}
        if method is Method.MOVE_TASK:
            try:
                _move_task(services, dlq, rate, details)
                return
            except MoveTaskUnavailableError:
                method = Method.MESSAGE_BY_MESSAGE
                details["method"] = f"{method.value} (no move task here)"
        handover = (ToBus(services.events, dlq.source) if dlq.source_is_bus
                    else ToQueue(services.sqs, services.queue_url(dlq.source)))
        bucket = TokenBucket(rate, clock=services.monotonic, sleep=services.sleep) if rate else None
        drain = Drain(services.reader(dlq), handover, selection=selection, reasons=services.reasons(dlq),
                      bucket=bucket, limit=limit, clock=services.clock)
        report = _run_drain(services, drain, dlq, "redrive", selection, details, "moved")
    console = Console()
    speed = f", {report.handed_over / report.seconds:.1f}/s" if report.seconds > 0 and report.handed_over else ""
    console.print(f"moved {report.handed_over} message(s) from {dlq.name} to {dlq.back_to} "
                  f"({details['method']}{speed})", highlight=False)
    _print_leftovers(console, report, dlq)


@app.command()
def purge(
    ctx: typer.Context,
    queue: QueueName,
    ticket_id: TicketIds = None,
    error_filter: ErrorText = None,
    older_than: OlderThan = None,
    newer_than: NewerThan = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    archive_dir: Annotated[Path | None, typer.Option(help="Archive to files here, even in AWS.")] = None,
    stage: Stage = None,
    endpoint_url: Endpoint = None,
) -> None:
    """Archive dead letters, then delete them: locally to files, in AWS to the stage's S3 bucket."""
    with one_line_errors(ctx):
        services = _services(stage, endpoint_url)
        dlq = services.queues.resolve(queue)
        selection = selection_of(ticket_id, error_filter, older_than, newer_than)
        reader = services.reader(dlq)
        depth = reader.depth()
        if depth.total == 0:
            typer.echo(f"{dlq.name} is empty: nothing to purge")
            return
        started, run_id = services.clock(), uuid.uuid4().hex[:8]
        archive: FileArchive | S3Archive
        if archive_dir is not None or services.local:
            archive = FileArchive(archive_dir or Path(services.settings.dlq_archive_dir), dlq.name, started, run_id,
                                  services.clock)
        else:
            archive = S3Archive(services.s3, services.archive_bucket(), dlq.name, started, run_id, services.clock)
        services.audit.open()
        what = f"about {depth.total} message(s)" if selection.everything else f"the matching ones of {depth.total}"
        if not yes:
            typer.confirm(f"Archive {what} of {dlq.name} to {archive.location}, then delete them?", abort=True)
        drain = Drain(reader, archive, selection=selection, reasons=services.reasons(dlq), clock=services.clock)
        details = {"archive": archive.location}
        report = _run_drain(services, drain, dlq, "purge", selection, details, "archived and deleted")
    console = Console()
    console.print(f"archived and deleted {report.handed_over} message(s) from {dlq.name}; archive: "
                  f"{archive.location}", highlight=False)
    _print_leftovers(console, report, dlq)


@app.command("audit")
def show_audit(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="How far back: 90m, 24h, 7d.")] = "7d",
    limit: Annotated[int, typer.Option(min=1, help="At most this many records, the newest.")] = 50,
    as_json: AsJson = False,
    stage: Stage = None,
    endpoint_url: Endpoint = None,
) -> None:
    """What on-call did to the dead-letter queues: who, when, what, how many."""
    with one_line_errors(ctx):
        services = _services(stage, endpoint_url)
        records = services.audit.read(duration(since, "--since") or timedelta(days=7), limit)
    if as_json:
        typer.echo(json.dumps([json.loads(record.to_json()) for record in records]))
        return
    console = Console()
    console.print(f"{len(records)} audit record(s) in {services.settings.audit_log_group}, oldest first:",
                  highlight=False)
    prefix = f"switchboard-{services.settings.stage}-"
    for record in records:
        queue = (record.queue or "").removeprefix(prefix).removesuffix("-dlq")
        outcome = "" if record.outcome == "completed" else f" ({record.outcome})"
        console.print(f"{record.when[:19].replace('T', ' ')}  {record.who}  {record.action} {queue}".rstrip()
                      + f"  {record.count}{outcome}  {_what(record)}".rstrip(), highlight=False, soft_wrap=True)


def _what(record: AuditRecord) -> str:
    """Filters and the details that say something (``method=move-task to=… rate=5``)."""
    shown = {**record.filters, **record.details}
    return " ".join(f"{key}={value}" for key, value in shown.items() if value not in (None, False, 0, "", [], {}))


# -- redrive and purge ---------------------------------------------------------------------------------------------


def _preview(services: Services, dlq: Dlq, selection: Selection, limit: int | None) -> None:
    now = services.clock()
    letters = services.reader(dlq).peek(limit or PREVIEW_LIMIT, selection=selection, reasons=services.reasons(dlq),
                                        now=now)
    _audit(services, "redrive", dlq, len(letters), selection, {"dry_run": True, "to": dlq.back_to})
    if letters:
        title = f"would move {len(letters)} dead letter(s) from {dlq.name} to {dlq.back_to}{_filters(selection)}"
        Console().print(letters_table(letters, title, now, dlq))
    typer.echo(f"dry run: nothing moved{'' if letters else f' (nothing would: no dead letters{_filters(selection)})'}")


def _move_task(services: Services, dlq: Dlq, rate: float | None, details: dict[str, Any]) -> None:
    """The whole queue through SQS's StartMessageMoveTask, watched until it ends."""
    task = MoveTask(services.sqs, sleep=services.sleep)
    source_arn = services.queue_arn(dlq.name)
    handle = task.start(source_arn, services.queue_arn(dlq.source), rate)
    details["task_handle"] = handle
    status = MoveTaskStatus(handle, "RUNNING", 0, None)
    console = Console(stderr=True)
    try:
        with Progress(TextColumn(f"moving {dlq.name} → {dlq.source} (SQS move task)"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
            bar = progress.add_task("move", total=None)

            def on_progress(current: MoveTaskStatus) -> None:
                nonlocal status
                status = current
                progress.update(bar, completed=current.moved, total=current.to_move)

            status = task.watch(source_arn, on_progress)
    except KeyboardInterrupt:
        _audit(services, "redrive", dlq, status.moved, EVERYTHING, details, outcome="interrupted")
        console.print(f"stopped watching: the move task goes on in SQS (handle {handle}); "
                      f"{status.moved} moved so far", highlight=False)
        raise typer.Exit(INTERRUPTED) from None
    outcome = "completed" if status.status == "COMPLETED" else status.status.lower()
    _audit(services, "redrive", dlq, status.moved, EVERYTHING,
           {**details, "failure_reason": status.failure_reason}, outcome=outcome)
    line = f"moved {status.moved} message(s) from {dlq.name} to {dlq.source} (SQS move task {status.status})"
    if status.failure_reason:
        line += f": {status.failure_reason}"
    Console().print(line, highlight=False)
    if status.status != "COMPLETED":
        raise typer.Exit(1)


def _run_drain(services: Services, drain: Drain, dlq: Dlq, action: str, selection: Selection,
               details: dict[str, Any], verb: str) -> DrainReport:
    """Run with a progress bar; whatever happens, the audit log says how far it got."""
    total = drain.reader.depth().visible
    console = Console(stderr=True)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            bar = progress.add_task(f"{dlq.name}: 0 {verb}", total=total or None)

            def on_progress(report: DrainReport) -> None:
                progress.update(bar, completed=report.examined, total=max(total, report.examined) or None,
                                description=f"{dlq.name}: {report.handed_over} {verb}")

            drain.on_progress = on_progress
            report = drain.run()
    except KeyboardInterrupt:
        report = drain.report
        _audit(services, action, dlq, report.handed_over, selection, _outcome_details(details, report),
               outcome="interrupted")
        console.print(f"interrupted: {report.handed_over} {verb} so far; run the same command again for the rest "
                      "(a message handed over but not yet deleted is handed over again: the workers ignore "
                      "the duplicate)", highlight=False)
        raise typer.Exit(INTERRUPTED) from None
    except Exception as exc:
        report = drain.report
        with suppress(Exception):  # the failure may be the very connection the audit needs; the error line says why
            _audit(services, action, dlq, report.handed_over, selection,
                   {**_outcome_details(details, report), "error": str(exc)[:500]}, outcome="failed")
        raise
    _audit(services, action, dlq, report.handed_over, selection, _outcome_details(details, report))
    return report


def _outcome_details(details: dict[str, Any], report: DrainReport) -> dict[str, Any]:
    return {**details, "examined": report.examined, "left_alone": report.left_alone,
            "refused": len(report.refused), "not_deleted": report.not_deleted}


def _print_leftovers(console: Console, report: DrainReport, dlq: Dlq) -> None:
    if report.left_alone:
        console.print(f"{report.left_alone} not matching the filters left in {dlq.name}", highlight=False)
    if report.not_deleted:
        console.print(f"{report.not_deleted} handed over but not deleted: they stay in {dlq.name}, and a next run "
                      "hands them over again (harmless)", highlight=False)
    for message_id, reason in list(report.refused.items())[:10]:
        console.print(f"left in {dlq.name}: {message_id}: {reason}", highlight=False)
    if report.refused:
        raise typer.Exit(1)


# -- audit ----------------------------------------------------------------------------------------------------------


def _audit(services: Services, action: str, dlq: Dlq | None, count: int, selection: Selection = EVERYTHING,
           details: dict[str, Any] | None = None, outcome: str = "completed") -> None:
    services.audit.write(AuditRecord(
        who=services.identity["Arn"], when=services.clock().isoformat(timespec="seconds"),
        stage=services.settings.stage, action=action, queue=dlq.name if dlq else None, count=count,
        outcome=outcome, filters=selection.describe(), details=details or {},
    ))


# -- printing -------------------------------------------------------------------------------------------------------


def letter_json(letter: DeadLetter, dlq: Dlq, now: datetime, text: bool = False) -> dict[str, Any]:
    """A dead letter for ``--json``: masked error, never the raw body."""
    age = letter.age(now)
    found: dict[str, Any] = {
        "queue": dlq.short_name,
        "message_id": letter.message_id,
        "kind": letter.kind,
        "ticket_id": letter.ticket_id,
        "ticket_status": letter.ticket_status,
        "error": masked(letter.reason),
        "receive_count": letter.receive_count,
        "first_failure": letter.first_failure.isoformat() if letter.first_failure else None,
        "age_s": int(age.total_seconds()) if age is not None else None,
        "worker": letter.worker,
    }
    if text:
        found["text"] = masked(letter.text)
    return found


def letters_table(letters: list[DeadLetter], title: str, now: datetime, dlq: Dlq) -> Table:
    """One row per dead letter; the worker only for the events DLQ (elsewhere the queue has one, in the title)."""
    table = Table(title=title)
    columns = ["ticket", "error (masked)", "receives", "first failure", "age", "ticket now"]
    columns += ["worker"] if dlq.source_is_bus else []
    for column in columns:
        table.add_column(column, justify="right" if column in ("receives", "age") else "left",
                         no_wrap=column in ("ticket", "first failure", "age", "receives"),
                         ratio=3 if column.startswith("error") else 1 if column in ("ticket now", "worker") else None)
    for letter in letters:
        age = letter.age(now)
        row = [
            letter.ticket_id or f"({letter.kind})",
            masked(letter.reason, ERROR_CHARS) or "-",
            str(letter.receive_count),
            f"{letter.first_failure:%m-%d %H:%M} UTC" if letter.first_failure else "-",
            _age(age) if age is not None else "-",
            letter.ticket_status or "-",
        ]
        row += [letter.worker] if dlq.source_is_bus else []
        table.add_row(*row)
    return table


def texts(letters: list[DeadLetter]) -> list[str]:
    """``--text``: each ticket's subject and description, masked, one line each."""
    return [f"{letter.ticket_id}: {(masked(letter.text, TEXT_CHARS) or '').replace(chr(10), ' / ')}"
            for letter in letters if letter.text]


def _worker_of(services: Services, dlq: Dlq) -> str:
    if dlq.source_is_bus:
        return "EventBridge rule targets"
    return services.queues.consumer_of(dlq.source)


def _from(services: Services, dlq: Dlq) -> str:
    return "" if dlq.source_is_bus else f", given up by {services.queues.consumer_of(dlq.source)}"


def _filters(selection: Selection) -> str:
    described = selection.describe()
    return f" (filters: {json.dumps(described)})" if described else ""


def _age(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"
