"""Least-privilege IAM for each function, generated from what it needs (``infra.cdk.functions``).

One generator for both deployments: the app stack turns the statements into each function's role, and
``infra.cdk.dev`` writes them as Chalice policy files for ``chalice deploy``. The on-call policy of the dead-letter
tool (``on_call_dlq_statements``) comes from the same plane; the data stack creates it. Every action is spelled out
and every resource is named; the only wildcards are where no name exists to write: X-Ray (no resource-level
permissions), the log streams Lambda creates under the function's log group and the archive's object keys.
"""

from __future__ import annotations

from typing import Any

from infra.cdk.config import StageConfig
from infra.cdk.functions import LambdaFunction
from infra.cdk.plane import DataPlane
from infra.resources import Stack

Statement = dict[str, Any]

CONSUME_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
"""What Lambda's SQS event source mapping does with the function's role."""


def statements(function: LambdaFunction, plane: DataPlane, config: StageConfig) -> list[Statement]:
    """The IAM statements of ``function``'s role in ``plane``'s stage."""
    needs = function.needs
    found: list[Statement] = [
        _allow(
            "Logs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [_arn(plane, "logs", f"log-group:/aws/lambda/{function.function_name(plane.stage)}:*")],
        ),
        _allow("Tracing", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
    ]
    for access in needs.tables:
        table_arn = plane.tables[access.table].arn
        queried_indexes = "dynamodb:Query" in access.actions and access.indexes
        on_table = [a for a in access.actions if not (queried_indexes and a == "dynamodb:Query")]
        if on_table:
            found.append(_allow(f"Table{_sid(access.table)}", on_table, [table_arn]))
        if queried_indexes:
            found.append(
                _allow(
                    f"Indexes{_sid(access.table)}",
                    ["dynamodb:Query"],
                    [f"{table_arn}/index/{index}" for index in access.indexes],
                )
            )
    if needs.describes_tables:
        described = [plane.tables[t].arn for t in needs.describes_tables]
        found.append(_allow("Health", ["dynamodb:DescribeTable"], described))
    bus_actions = [a for a, wanted in (("events:PutEvents", needs.publishes_events),
                                       ("events:DescribeEventBus", needs.describes_bus)) if wanted]
    if bus_actions:
        found.append(_allow("Bus", bus_actions, [plane.event_bus.arn]))
    if needs.looks_up_queues:
        found.append(_allow("QueueUrls", ["sqs:GetQueueUrl"], [plane.queues[q].arn for q in needs.looks_up_queues]))
    if needs.sends_to:
        found.append(_allow("Send", ["sqs:SendMessage"], [plane.queues[q].arn for q in needs.sends_to]))
    if needs.consumes:
        actions = [*CONSUME_ACTIONS, *(["sqs:ChangeMessageVisibility"] if needs.changes_visibility else [])]
        found.append(_allow("Consume", actions, [plane.queues[needs.consumes].arn]))
    if needs.reads_secrets:
        secrets = [plane.secrets[s] for s in needs.reads_secrets]
        found.append(_allow("Secrets", ["secretsmanager:GetSecretValue"], secrets))
    if needs.invokes_model:
        found.append(_allow("Model", ["bedrock:InvokeModel"], model_arns(plane, config)))
    key_actions = _key_actions(function)
    if key_actions:
        found.append(_allow("Key", key_actions, [plane.key_arn]))
    return found


def model_arns(plane: DataPlane, config: StageConfig) -> list[str]:
    """The inference profile and the foundation model in every region it routes to (Converse needs both)."""
    model = [f"arn:{plane.partition}:bedrock:{region}::foundation-model/{config.foundation_model_id}"
             for region in (config.agent_model_regions if config.uses_inference_profile else (plane.region,))]
    if config.uses_inference_profile:
        model.insert(0, _arn(plane, "bedrock", f"inference-profile/{config.agent_model_id}"))
    return model


def policy_document(function: LambdaFunction, plane: DataPlane, config: StageConfig) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements(function, plane, config)}


def _key_actions(function: LambdaFunction) -> list[str]:
    """The customer-managed key encrypts tables, queues and secrets: reading any needs Decrypt, writing Encrypt or
    GenerateDataKey (SQS and DynamoDB ask for data keys)."""
    needs = function.needs
    reads = bool(needs.tables or needs.consumes or needs.reads_secrets)
    writes = bool(needs.sends_to or any(set(a.actions) & {"dynamodb:PutItem", "dynamodb:UpdateItem"}
                                        for a in needs.tables))
    return [action for action, wanted in (("kms:Decrypt", reads or writes), ("kms:Encrypt", writes),
                                          ("kms:GenerateDataKey", writes)) if wanted]


def _allow(sid: str, actions: list[str], resources: list[str]) -> Statement:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def _arn(plane: DataPlane, service: str, resource: str) -> str:
    return f"arn:{plane.partition}:{service}:{plane.region}:{plane.account}:{resource}"


def _sid(identifier: str) -> str:
    return "".join(part.capitalize() for part in identifier.split("_"))


# -- on-call: the dead-letter tool (``switchboard dlq``) ----------------------------------------------------------

DLQ_READ_ACTIONS = ("sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage")
"""``list``/``show`` receive and give back (visibility 0); ``redrive``/``purge`` delete what they handed over."""
MOVE_TASK_ACTIONS = ("sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks")
"""A full redrive of a queue's DLQ in AWS: SQS moves the messages itself (granted on the source DLQ)."""


def on_call_dlq_statements(plane: DataPlane, definitions: Stack, archive_bucket_arn: str,
                           audit_log_group_arn: str) -> list[Statement]:
    """Exactly what ``switchboard dlq`` does in AWS: read and drain every DLQ, send back to each DLQ's source queue
    (or put events back on the bus), read the tickets for the failure reasons, archive to the bucket before a purge,
    write and read the audit trail, and use the key all of these are encrypted with."""
    attribute = {getattr(definitions, name).name: name for name in plane.queues}
    dlqs = [plane.queues[attribute[queue.name]].arn for queue in definitions.dead_letter_queues]
    redriven = [queue for queue in definitions.queues if queue.dead_letter_queue]
    moved_from = [plane.queues[attribute[queue.dead_letter_queue]].arn for queue in redriven
                  if queue.dead_letter_queue is not None]
    return [
        _allow("DeadLetters", list(DLQ_READ_ACTIONS), dlqs),
        _allow("MoveTasks", list(MOVE_TASK_ACTIONS), moved_from),
        _allow("SourceQueues", ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"],
               [plane.queues[attribute[queue.name]].arn for queue in redriven]),
        _allow("EventsBackOnTheBus", ["events:PutEvents"], [plane.event_bus.arn]),
        _allow("FailureReasons", ["dynamodb:GetItem"], [plane.tables["tickets"].arn]),
        _allow("ArchiveBeforePurge", ["s3:PutObject"], [f"{archive_bucket_arn}/*"]),
        _allow("AuditTrail", ["logs:CreateLogStream", "logs:PutLogEvents", "logs:FilterLogEvents"],
               [audit_log_group_arn]),
        _allow("Key", ["kms:Decrypt", "kms:GenerateDataKey"], [plane.key_arn]),
    ]
