"""Every Lambda function of the app and what it may touch: the one list the stacks, IAM and alarms are built from.

Chalice decides the functions from ``app.py`` (handlers, schedules, queue subscriptions) and ``.chalice/config.json``
(memory, timeouts); this catalogue adds what Chalice cannot know: which tables, indexes, queues and secrets each
function uses (its least-privilege role is generated from that), which queue feeds it (partial batch responses,
maximum concurrency, its dead-letter alarm) and how it is named in each stage.

Adding a worker (as the ticketing sync was) is one entry here, its queue and rule in ``infra.resources`` and its
handler in ``app.py``; the role, alarms, dashboard rows, alias and gradual deployment follow.
"""

from __future__ import annotations

from dataclasses import dataclass

from datalayer.tables import BY_CUSTOMER, BY_STATUS, BY_TEAM
from workers.limits import (
    AGENT_MAX_CONCURRENCY,
    AGENT_WORKER_TIMEOUT_SECONDS,
    SYNC_MAX_CONCURRENCY,
    SYNC_WORKER_TIMEOUT_SECONDS,
    WORKER_TIMEOUT_SECONDS,
)

APP_NAME = "switchboard"
"""``app_name`` in ``.chalice/config.json``; Chalice names functions ``<app>-<stage>-<function>``."""


@dataclass(frozen=True)
class TableAccess:
    table: str
    """``datalayer.tables.Table.id`` (``tickets``, ``customers``, ``service_status``, ``agent_control``)."""
    actions: tuple[str, ...]
    indexes: tuple[str, ...] = ()
    """Indexes the function queries (``Query`` is granted on each of them by name)."""


@dataclass(frozen=True)
class Needs:
    """What a function's code does to AWS: every grant of its role comes from here."""

    tables: tuple[TableAccess, ...] = ()
    publishes_events: bool = False
    describes_bus: bool = False
    """``GET /health`` probes the bus, the table and the routing queue."""
    describes_tables: tuple[str, ...] = ()
    looks_up_queues: tuple[str, ...] = ()
    """``infra.resources.Stack`` attributes of queues whose URL the code asks for (GetQueueUrl)."""
    sends_to: tuple[str, ...] = ()
    consumes: str | None = None
    """The queue its event source mapping reads (``routing_queue``); the mapping uses the function's role."""
    changes_visibility: bool = False
    invokes_model: bool = False
    reads_secrets: tuple[str, ...] = ()
    """``infra.cdk.plane.SECRETS`` ids whose values the code reads at run time."""


@dataclass(frozen=True)
class LambdaFunction:
    name: str
    """Chalice's name (``route_tickets``): the key under ``lambda_functions`` in ``.chalice/config.json``."""
    logical_id: str
    """The resource id in the template ``chalice package`` writes (``RouteTickets``)."""
    needs: Needs
    max_concurrency: int | None = None
    """The SQS event source's maximum concurrency: how many invocations may run at once, whatever the backlog."""
    timeout_s: int | None = None
    """A queue consumer's Lambda timeout (``workers.limits``): its queue hides messages for six times as long, and
    ``.chalice/config.json`` must say the same (the app stack refuses a template where it does not)."""
    api: bool = False

    def function_name(self, stage: str) -> str:
        """The physical name Chalice gives it (the API handler has no suffix); the stacks use the same."""
        return f"{APP_NAME}-{stage}" if self.api else f"{APP_NAME}-{stage}-{self.name}"


_READ_WRITE = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")

API = LambdaFunction(
    name="api_handler",
    logical_id="APIHandler",
    api=True,
    needs=Needs(
        tables=(TableAccess("tickets", (*_READ_WRITE, "dynamodb:Query"), (BY_CUSTOMER.name, BY_TEAM.name)),),
        publishes_events=True,
        describes_bus=True,
        describes_tables=("tickets",),
        looks_up_queues=("routing_queue",),
        reads_secrets=("ticketing_credentials",),
    ),
)
ROUTING_WORKER = LambdaFunction(
    name="route_tickets",
    logical_id="RouteTickets",
    timeout_s=WORKER_TIMEOUT_SECONDS,
    needs=Needs(
        tables=(
            TableAccess("tickets", ("dynamodb:GetItem", "dynamodb:UpdateItem")),
            TableAccess("customers", ("dynamodb:GetItem",)),
            TableAccess("service_status", ("dynamodb:Query",)),
        ),
        publishes_events=True,
        consumes="routing_queue",
        looks_up_queues=("agent_queue",),
        sends_to=("agent_queue",),
    ),
)
AGENT_WORKER = LambdaFunction(
    name="decide_unsure_tickets",
    logical_id="DecideUnsureTickets",
    max_concurrency=AGENT_MAX_CONCURRENCY,
    timeout_s=AGENT_WORKER_TIMEOUT_SECONDS,
    needs=Needs(
        tables=(
            TableAccess("tickets", ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"), (BY_CUSTOMER.name,)),
            TableAccess("customers", ("dynamodb:GetItem",)),
            TableAccess("service_status", ("dynamodb:Query",)),
            TableAccess("agent_control", ("dynamodb:GetItem", "dynamodb:UpdateItem")),
        ),
        publishes_events=True,
        consumes="agent_queue",
        looks_up_queues=("agent_queue",),
        changes_visibility=True,
        invokes_model=True,
        reads_secrets=("agent_api_key",),
    ),
)
SYNC_WORKER = LambdaFunction(
    name="sync_decisions",
    logical_id="SyncDecisions",
    max_concurrency=SYNC_MAX_CONCURRENCY,
    timeout_s=SYNC_WORKER_TIMEOUT_SECONDS,
    needs=Needs(
        tables=(TableAccess("tickets", ("dynamodb:GetItem", "dynamodb:UpdateItem")),),
        consumes="sync_queue",
        looks_up_queues=("sync_dlq",),
        sends_to=("sync_dlq",),
        reads_secrets=("ticketing_credentials",),
    ),
)
SWEEP = LambdaFunction(
    name="sweep_stuck_tickets",
    logical_id="SweepStuckTickets",
    needs=Needs(
        tables=(
            TableAccess("tickets", ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"), (BY_STATUS.name,)),
        ),
        publishes_events=True,
    ),
)

FUNCTIONS: tuple[LambdaFunction, ...] = (API, ROUTING_WORKER, AGENT_WORKER, SYNC_WORKER, SWEEP)
WORKERS: tuple[LambdaFunction, ...] = tuple(f for f in FUNCTIONS if f.needs.consumes)
"""The SQS consumers: partial batch responses, an error-rate alarm, their queue's dead-letter alarm."""
