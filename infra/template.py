"""CloudFormation for Switchboard's data plane, generated from ``infra.resources``, and the patch that joins it
to the SAM template ``chalice package`` writes.

Chalice knows the functions and the API but not the tables, the bus, the rule or the queues, and it has no
setting for ``ReportBatchItemFailures``: without that flag Lambda ignores ``batchItemFailures`` and retries
(and so re-routes) every record of a batch that had one failure. ``patch_sam_template`` therefore

* adds the resources defined in ``infra.resources`` (the same objects ``provision`` creates locally),
* points the worker's SQS event at the queue resource and turns on partial batch responses,
* grants the functions' role exactly the table, index, bus, queue and secret actions the code uses,
* refuses templates that break the pipeline's timing rule (visibility timeout ≥ 6 × worker timeout).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from datalayer.settings import Settings
from datalayer.tables import Table
from infra.resources import (
    ROUTING_POLICY_SID,
    ROUTING_TARGET_ID,
    SYNC_POLICY_SID,
    SYNC_TARGET_ID,
    Queue,
    Rule,
    Stack,
    create_table_request,
    define,
    queue_policy,
)
from workers.limits import (
    AGENT_MAX_CONCURRENCY,
    AGENT_WORKER_TIMEOUT_SECONDS,
    SYNC_MAX_CONCURRENCY,
    SYNC_WORKER_TIMEOUT_SECONDS,
    WORKER_TIMEOUT_SECONDS,
)

EVENT_BUS = "EventBus"
TICKET_RECEIVED_RULE = "TicketReceivedRule"
ROUTING_QUEUE = "RoutingQueue"
ROUTING_DLQ = "RoutingDeadLetterQueue"
ROUTING_QUEUE_POLICY = "RoutingQueuePolicy"
AGENT_QUEUE = "AgentQueue"
AGENT_DLQ = "AgentDeadLetterQueue"
TICKET_ROUTED_RULE = "TicketRoutedRule"
SYNC_QUEUE = "SyncQueue"
SYNC_DLQ = "SyncDeadLetterQueue"
SYNC_QUEUE_POLICY = "SyncQueuePolicy"
DATA_PLANE_POLICY = "SwitchboardDataPlane"

TABLE_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
]


class TemplateError(Exception):
    """The packaged template cannot be deployed safely (the message says what to fix)."""


def table_logical_id(table: Table) -> str:
    """``tickets`` → ``TicketsTable``, ``service_status`` → ``ServiceStatusTable``."""
    return "".join(part.capitalize() for part in table.id.split("_")) + "Table"


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _table(table: Table) -> dict[str, Any]:
    properties = create_table_request(table)
    if table.ttl_attribute:
        properties["TimeToLiveSpecification"] = {"AttributeName": table.ttl_attribute, "Enabled": True}
    properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


def _queue(queue: Queue, dead_letter_logical_id: str | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "QueueName": queue.name,
        "VisibilityTimeout": queue.visibility_timeout_s,
        "MessageRetentionPeriod": queue.retention_s,
    }
    if dead_letter_logical_id:
        properties["RedrivePolicy"] = {
            "deadLetterTargetArn": _arn(dead_letter_logical_id),
            "maxReceiveCount": queue.max_receive_count,
        }
    return {"Type": "AWS::SQS::Queue", "Properties": properties}


def _rule(rule: Rule, target_id: str, queue_logical_id: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Events::Rule",
        # The bus by name plus DependsOn rather than {"Ref": EventBus}: same result in AWS, and moto's
        # CloudFormation (which the parity test deploys this through) cannot resolve that Ref.
        "DependsOn": [EVENT_BUS],
        "Properties": {
            "Name": rule.name,
            "EventBusName": rule.bus,
            "EventPattern": copy.deepcopy(dict(rule.event_pattern)),
            "State": "ENABLED",
            "Targets": [{"Id": target_id, "Arn": _arn(queue_logical_id)}],
        },
    }


def _queue_policy(queue_logical_id: str, rule_logical_id: str, sid: str) -> dict[str, Any]:
    return {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [{"Ref": queue_logical_id}],
            "PolicyDocument": queue_policy(_arn(queue_logical_id), _arn(rule_logical_id), sid),
        },
    }


def data_plane_resources(stack: Stack) -> dict[str, Any]:
    """The CloudFormation resources of ``stack``, keyed by logical id."""
    return {
        **{table_logical_id(table): _table(table) for table in stack.tables},
        EVENT_BUS: {"Type": "AWS::Events::EventBus", "Properties": {"Name": stack.event_bus}},
        ROUTING_DLQ: _queue(stack.routing_dlq, None),
        ROUTING_QUEUE: _queue(stack.routing_queue, ROUTING_DLQ),
        AGENT_DLQ: _queue(stack.agent_dlq, None),
        AGENT_QUEUE: _queue(stack.agent_queue, AGENT_DLQ),
        TICKET_RECEIVED_RULE: _rule(stack.ticket_received_rule, ROUTING_TARGET_ID, ROUTING_QUEUE),
        ROUTING_QUEUE_POLICY: _queue_policy(ROUTING_QUEUE, TICKET_RECEIVED_RULE, ROUTING_POLICY_SID),
        SYNC_DLQ: _queue(stack.sync_dlq, None),
        SYNC_QUEUE: _queue(stack.sync_queue, SYNC_DLQ),
        TICKET_ROUTED_RULE: _rule(stack.ticket_routed_rule, SYNC_TARGET_ID, SYNC_QUEUE),
        SYNC_QUEUE_POLICY: _queue_policy(SYNC_QUEUE, TICKET_ROUTED_RULE, SYNC_POLICY_SID),
    }


def data_plane_policy(stack: Stack, ticketing_secret: str) -> dict[str, Any]:
    """What the API, the sweep and the workers do to tables, bus, queues and secret, and nothing more."""
    table_arns: list[Any] = []
    for logical_id in (table_logical_id(table) for table in stack.tables):
        table_arns += [_arn(logical_id), {"Fn::Sub": f"${{{logical_id}.Arn}}/index/*"}]
    return {
        "PolicyName": DATA_PLANE_POLICY,
        "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": TABLE_ACTIONS, "Resource": table_arns},
                {"Effect": "Allow", "Action": "events:PutEvents", "Resource": _arn(EVENT_BUS)},
                {
                    "Effect": "Allow",
                    "Action": ["sqs:SendMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"],
                    "Resource": _arn(AGENT_QUEUE),
                },
                {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"], "Resource": _arn(SYNC_DLQ)},
                {
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    # Secrets Manager appends six random characters to a secret's name in its ARN.
                    "Resource": {
                        "Fn::Sub": f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}"
                        f":secret:{ticketing_secret}-??????"
                    },
                },
                {
                    "Effect": "Allow",
                    "Action": ["bedrock:InvokeModel"],
                    "Resource": [
                        "arn:aws:bedrock:*::foundation-model/*",
                        {"Fn::Sub": "arn:aws:bedrock:*:${AWS::AccountId}:inference-profile/*"},
                    ],
                },
            ],
        },
    }


def _sqs_event(resources: dict[str, Any], queue_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The function wired to ``queue_name``, and its SQS event properties."""
    suffix = f":{queue_name}"
    for resource in resources.values():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            queue = event.get("Properties", {}).get("Queue")
            if event.get("Type") == "SQS" and isinstance(queue, dict) and queue.get("Fn::Sub", "").endswith(suffix):
                return resource, event["Properties"]
    raise TemplateError(f"no SQS event source for queue {queue_name!r}: are the workers registered in app.py?")


def _wire_worker(
    resources: dict[str, Any], queue: Queue, queue_logical_id: str, timeout_s: int, config_name: str
) -> dict[str, Any]:
    """Point a worker's SQS event at the queue resource, turn on partial batch responses, check its timing."""
    function, event = _sqs_event(resources, queue.name)
    timeout = function["Properties"].get("Timeout")
    if timeout != timeout_s:
        raise TemplateError(
            f"{config_name} lambda_timeout is {timeout}s but workers.limits says {timeout_s}s: "
            f"set lambda_functions.{config_name}.lambda_timeout in .chalice/config.json"
        )
    if queue.visibility_timeout_s < 6 * timeout:
        raise TemplateError(f"{queue.name} visibility timeout is shorter than 6 × the {config_name} timeout")
    event["Queue"] = _arn(queue_logical_id)
    event["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    return event


GATEWAY_RESPONSES: dict[str, Any] = {
    # API Gateway answers a path no route matches with 403 "Missing Authentication Token" before the app runs;
    # clients (and the OpenAPI fuzzer) expect the app's JSON error format and a 404.
    "MISSING_AUTHENTICATION_TOKEN": {
        "StatusCode": 404,
        "ResponseTemplates": {"application/json": '{"error": "not_found", "message": "No such route.", "details": []}'},
    },
}


def patch_sam_template(template: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A copy of Chalice's SAM template with the data plane added (see the module docstring)."""
    template = copy.deepcopy(template)
    stack = define(settings)
    resources = template["Resources"]
    clashes = set(resources) & set(data_plane_resources(stack))
    if clashes:
        raise TemplateError(f"template already defines {sorted(clashes)}")

    _wire_worker(resources, stack.routing_queue, ROUTING_QUEUE, WORKER_TIMEOUT_SECONDS, "route_tickets")
    agent_event = _wire_worker(
        resources, stack.agent_queue, AGENT_QUEUE, AGENT_WORKER_TIMEOUT_SECONDS, "decide_unsure_tickets"
    )
    agent_event["ScalingConfig"] = {"MaximumConcurrency": AGENT_MAX_CONCURRENCY}
    sync_event = _wire_worker(resources, stack.sync_queue, SYNC_QUEUE, SYNC_WORKER_TIMEOUT_SECONDS, "sync_decisions")
    sync_event["ScalingConfig"] = {"MaximumConcurrency": SYNC_MAX_CONCURRENCY}

    for api in (r for r in resources.values() if r.get("Type") == "AWS::Serverless::Api"):
        api["Properties"].setdefault("GatewayResponses", {}).update(GATEWAY_RESPONSES)

    resources.update(data_plane_resources(stack))
    roles = [r for r in resources.values() if r.get("Type") == "AWS::IAM::Role"]
    if not roles:
        raise TemplateError("no IAM role in the template: set autogen_policy or add the data-plane policy by hand")
    for role in roles:
        role["Properties"].setdefault("Policies", []).append(data_plane_policy(stack, settings.ticketing_secret))

    template.setdefault("Outputs", {}).update(
        {
            **{f"{table_logical_id(t)}Name": {"Value": {"Ref": table_logical_id(t)}} for t in stack.tables},
            "EventBusName": {"Value": {"Ref": EVENT_BUS}},
            "RoutingQueueUrl": {"Value": {"Ref": ROUTING_QUEUE}},
            "RoutingDeadLetterQueueUrl": {"Value": {"Ref": ROUTING_DLQ}},
            "AgentQueueUrl": {"Value": {"Ref": AGENT_QUEUE}},
            "AgentDeadLetterQueueUrl": {"Value": {"Ref": AGENT_DLQ}},
            "SyncQueueUrl": {"Value": {"Ref": SYNC_QUEUE}},
            "SyncDeadLetterQueueUrl": {"Value": {"Ref": SYNC_DLQ}},
        }
    )
    return template


def patch_file(path: str, settings: Settings) -> None:
    with open(path, encoding="utf-8") as handle:
        template = json.load(handle)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(patch_sam_template(template, settings), handle, indent=2)
        handle.write("\n")
