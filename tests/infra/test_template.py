"""The CloudFormation side: generated from the same definitions as provision(), and patched into Chalice's SAM."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from datalayer.settings import Settings
from infra.package import stage_environment
from infra.resources import define, provision
from infra.template import (
    AGENT_QUEUE,
    ROUTING_QUEUE,
    SYNC_DLQ,
    SYNC_QUEUE,
    TemplateError,
    data_plane_resources,
    patch_sam_template,
)
from workers.limits import (
    AGENT_MAX_CONCURRENCY,
    AGENT_WORKER_MEMORY_MB,
    AGENT_WORKER_TIMEOUT_SECONDS,
    API_MEMORY_MB,
    SYNC_MAX_CONCURRENCY,
    SYNC_WORKER_MEMORY_MB,
    SYNC_WORKER_TIMEOUT_SECONDS,
    WORKER_MEMORY_MB,
    WORKER_TIMEOUT_SECONDS,
)

ROOT = Path(__file__).resolve().parents[2]


def _sqs_function(handler: str, queue: str, timeout: int, batch_size: int) -> dict[str, Any]:
    queue_arn = f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{queue}"
    name = "".join(part.capitalize() for part in handler.rsplit(".", 1)[-1].split("_"))
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Handler": handler,
            "Timeout": timeout,
            "Events": {
                f"{name}SqsEventSource": {
                    "Type": "SQS",
                    "Properties": {"Queue": {"Fn::Sub": queue_arn}, "BatchSize": batch_size},
                }
            },
        },
    }


def chalice_like_template(timeout: int = WORKER_TIMEOUT_SECONDS) -> dict[str, Any]:
    """The parts of ``chalice package`` output the patch touches (shape copied from chalice 1.34)."""
    queue_arn = "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:switchboard-dev-routing"
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "DefaultRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {"Policies": [{"PolicyName": "DefaultRolePolicy"}]},
            },
            "APIHandler": {"Type": "AWS::Serverless::Function", "Properties": {"Timeout": 15}},
            "RestAPI": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "api"}},
            "RouteTickets": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Handler": "workers.routing.route_tickets",
                    "Timeout": timeout,
                    "Events": {
                        "RouteTicketsSqsEventSource": {
                            "Type": "SQS",
                            "Properties": {
                                "Queue": {"Fn::Sub": queue_arn},
                                "BatchSize": 10,
                                "MaximumBatchingWindowInSeconds": 1,
                            },
                        }
                    },
                },
            },
            "DecideUnsureTickets": _sqs_function(
                "workers.agent.decide_unsure_tickets", "switchboard-dev-agent", AGENT_WORKER_TIMEOUT_SECONDS, 1
            ),
            "SyncDecisions": _sqs_function(
                "workers.sync.sync_decisions", "switchboard-dev-sync", SYNC_WORKER_TIMEOUT_SECONDS, 1
            ),
        },
    }


def test_patch_turns_on_partial_batch_responses_and_wires_the_queue() -> None:
    patched = patch_sam_template(chalice_like_template(), Settings())
    event = patched["Resources"]["RouteTickets"]["Properties"]["Events"]["RouteTicketsSqsEventSource"]["Properties"]
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Queue"] == {"Fn::GetAtt": [ROUTING_QUEUE, "Arn"]}
    assert set(data_plane_resources(define(Settings()))) <= set(patched["Resources"])
    agent = patched["Resources"]["DecideUnsureTickets"]["Properties"]["Events"]["DecideUnsureTicketsSqsEventSource"]
    assert agent["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert agent["Properties"]["Queue"] == {"Fn::GetAtt": [AGENT_QUEUE, "Arn"]}
    assert agent["Properties"]["ScalingConfig"] == {"MaximumConcurrency": AGENT_MAX_CONCURRENCY}
    sync = patched["Resources"]["SyncDecisions"]["Properties"]["Events"]["SyncDecisionsSqsEventSource"]["Properties"]
    assert sync["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sync["Queue"] == {"Fn::GetAtt": [SYNC_QUEUE, "Arn"]}
    assert sync["ScalingConfig"] == {"MaximumConcurrency": SYNC_MAX_CONCURRENCY}
    policies = patched["Resources"]["DefaultRole"]["Properties"]["Policies"]
    assert [p["PolicyName"] for p in policies] == ["DefaultRolePolicy", "SwitchboardDataPlane"]
    statements = policies[1]["PolicyDocument"]["Statement"]
    dead_letters = {"Fn::GetAtt": [SYNC_DLQ, "Arn"]}
    assert {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"], "Resource": dead_letters} in statements
    [secret] = [s for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]
    assert secret["Resource"]["Fn::Sub"].endswith(":secret:switchboard-dev-ticketing-credentials-??????")
    unknown_route = patched["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]["MISSING_AUTHENTICATION_TOKEN"]
    assert unknown_route["StatusCode"] == 404
    assert json.loads(unknown_route["ResponseTemplates"]["application/json"])["error"] == "not_found"


def test_patch_does_not_modify_its_input() -> None:
    template = chalice_like_template()
    original = copy.deepcopy(template)
    patch_sam_template(template, Settings())
    assert template == original


def test_patch_refuses_a_worker_timeout_that_disagrees_with_the_queue() -> None:
    with pytest.raises(TemplateError, match="lambda_timeout"):
        patch_sam_template(chalice_like_template(timeout=900), Settings())


def test_patch_refuses_a_template_without_the_worker() -> None:
    template = chalice_like_template()
    del template["Resources"]["RouteTickets"]
    with pytest.raises(TemplateError, match="no SQS event source"):
        patch_sam_template(template, Settings())


def test_tickets_table_template_keeps_ttl_and_data() -> None:
    table = data_plane_resources(define(Settings()))["TicketsTable"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def _snapshot(session: boto3.session.Session, settings: Settings) -> dict[str, Any]:
    """What exists, with account- and region-specific parts removed so two deployments compare equal."""
    dynamodb, sqs, events = (session.client(s) for s in ("dynamodb", "sqs", "events"))
    snapshot: dict[str, Any] = {}
    stack = define(settings)
    for name in (table.name for table in stack.tables):
        table = dynamodb.describe_table(TableName=name)["Table"]
        snapshot[name] = {
            "keys": table["KeySchema"],
            "attributes": sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            "indexes": sorted(
                (i["IndexName"], json.dumps(i["KeySchema"]), i["Projection"]["ProjectionType"])
                for i in table.get("GlobalSecondaryIndexes", [])
            ),
        }
    for name in (queue.name for queue in stack.queues):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes.get("RedrivePolicy", "{}"))
        snapshot[name] = {
            "visibility": attributes["VisibilityTimeout"],
            "retention": attributes["MessageRetentionPeriod"],
            "dlq": redrive.get("deadLetterTargetArn", "").rsplit(":", 1)[-1],
            "max_receives": redrive.get("maxReceiveCount"),
        }
    rules = events.list_rules(EventBusName=settings.event_bus)["Rules"]
    assert len(rules) == len(stack.rules)
    for rule in rules:
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=settings.event_bus)["Targets"]
        snapshot[rule["Name"]] = {
            "pattern": json.loads(rule["EventPattern"]),
            "targets": [(t["Id"], t["Arn"].rsplit(":", 1)[-1]) for t in targets],
        }
    return snapshot


def test_cloudformation_and_provision_build_the_same_resources(session: boto3.session.Session) -> None:
    """Deploy the generated CloudFormation (moto's) in one region and provision() in another: no drift."""
    settings = Settings()
    provision(settings, session=session)
    local = _snapshot(session, settings)

    west = boto3.session.Session(region_name="us-west-2")
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": data_plane_resources(define(settings))}
    for policy in ("RoutingQueuePolicy", "SyncQueuePolicy"):  # moto's CloudFormation has no AWS::SQS::QueuePolicy
        del template["Resources"][policy]
    west.client("cloudformation").create_stack(StackName="switchboard-dev", TemplateBody=json.dumps(template))
    assert _snapshot(west, settings) == local


def test_chalice_config_agrees_with_the_worker_limits_and_settings() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["app_name"] == "switchboard"
    assert config["lambda_functions"]["route_tickets"]["lambda_timeout"] == WORKER_TIMEOUT_SECONDS
    assert config["lambda_functions"]["decide_unsure_tickets"]["lambda_timeout"] == AGENT_WORKER_TIMEOUT_SECONDS
    assert config["lambda_functions"]["route_tickets"]["lambda_memory_size"] == WORKER_MEMORY_MB
    assert config["lambda_functions"]["decide_unsure_tickets"]["lambda_memory_size"] == AGENT_WORKER_MEMORY_MB
    assert config["lambda_functions"]["sync_decisions"]["lambda_timeout"] == SYNC_WORKER_TIMEOUT_SECONDS
    assert config["lambda_functions"]["sync_decisions"]["lambda_memory_size"] == SYNC_WORKER_MEMORY_MB
    assert config["lambda_memory_size"] == API_MEMORY_MB
    for stage in ("dev", "prod"):
        stage_config = config["stages"][stage]
        assert "lambda_timeout" not in stage_config, "a stage-wide timeout would override the worker's"
        assert "lambda_timeout" not in stage_config.get("lambda_functions", {}).get("route_tickets", {})

        configured = Settings.from_environment(stage_environment(stage, ROOT))
        assert configured.stage == stage
        assert configured.tickets_table == f"switchboard-{stage}-tickets"
        for field in ("customers_table", "event_bus", "routing_queue", "routing_dlq", "sync_queue", "sync_dlq"):
            assert getattr(configured, field).startswith(f"switchboard-{stage}-"), field
