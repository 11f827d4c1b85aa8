"""What the synthesized templates promise, in every stage (``aws_cdk.assertions`` on ``make synth``'s output)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from datalayer.tables import all_tables
from infra.cdk.app_stack import ALIAS
from infra.cdk.config import AUDIT_LOG_RETENTION_DAYS, DLQ_ARCHIVE_RETENTION_DAYS, STAGES, stage_config
from infra.cdk.functions import API, FUNCTIONS, WORKERS
from infra.cdk.observability import alarm_name, canary_name
from infra.cdk.plane import stage_settings
from infra.resources import ARCHIVE_RETENTION_DAYS, define
from tests.infra.conftest import Synthesized
from workers.limits import (
    AGENT_MAX_CONCURRENCY,
    AGENT_WORKER_MEMORY_MB,
    AGENT_WORKER_TIMEOUT_SECONDS,
    API_MEMORY_MB,
    BATCH_SIZE,
    MAX_RECEIVE_COUNT,
    SYNC_WORKER_MEMORY_MB,
    WORKER_MEMORY_MB,
    WORKER_TIMEOUT_SECONDS,
)

RETAIN_EXCEPT_ON_CREATE = {"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}
STATEFUL_TYPES = ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SecretsManager::Secret", "AWS::KMS::Key",
                  "AWS::Events::Archive", "AWS::ApiGateway::ApiKey", "AWS::S3::Bucket", "AWS::Logs::LogGroup")
MEMORY = {
    "route_tickets": WORKER_MEMORY_MB,
    "decide_unsure_tickets": AGENT_WORKER_MEMORY_MB,
    "sync_decisions": SYNC_WORKER_MEMORY_MB,
}
"""The rest get the app's default, the API's memory."""


@pytest.fixture(params=STAGES)
def stage(request: pytest.FixtureRequest, synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized[request.param]


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == kind}


# -- data stack ----------------------------------------------------------------------------------------------------


def test_tables_are_on_demand_recoverable_encrypted_and_laid_out_once(stage: Synthesized) -> None:
    template = Template.from_json(stage.data)
    key = _single_logical_id(stage.data, "AWS::KMS::Key")
    for table in all_tables(stage_settings(stage.stage)):
        expected: dict[str, Any] = {
            "TableName": table.name,
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS",
                                 "KMSMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}},
        }
        if table.ttl_attribute:
            expected["TimeToLiveSpecification"] = {"AttributeName": table.ttl_attribute, "Enabled": True}
        if table.indexes:
            expected["GlobalSecondaryIndexes"] = [
                Match.object_like({"IndexName": index.name}) for index in table.indexes]
        template.has_resource("AWS::DynamoDB::Table", {"Properties": Match.object_like(expected),
                                                        **RETAIN_EXCEPT_ON_CREATE})


def test_everything_with_state_is_retained_but_a_failed_first_create_can_be_retried(stage: Synthesized) -> None:
    for kind in STATEFUL_TYPES:
        resources = _resources(stage.data, kind)
        assert resources, kind
        for logical_id, resource in resources.items():
            assert resource.get("DeletionPolicy") == "RetainExceptOnCreate", (kind, logical_id)


def test_queues_have_their_timing_redrive_and_the_key(stage: Synthesized) -> None:
    queues = {queue["Properties"]["QueueName"]: queue["Properties"]
              for queue in _resources(stage.data, "AWS::SQS::Queue").values()}
    definitions = define(stage_settings(stage.stage))
    assert set(queues) == {queue.name for queue in definitions.queues}
    for queue in definitions.queues:
        properties = queues[queue.name]
        assert properties["VisibilityTimeout"] == queue.visibility_timeout_s
        assert properties["MessageRetentionPeriod"] == queue.retention_s
        assert "KmsMasterKeyId" in properties
        if queue.dead_letter_queue:
            assert properties["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVE_COUNT
    assert queues[definitions.routing_queue.name]["VisibilityTimeout"] >= 6 * WORKER_TIMEOUT_SECONDS
    assert queues[definitions.agent_queue.name]["VisibilityTimeout"] >= 6 * AGENT_WORKER_TIMEOUT_SECONDS


def test_bus_is_archived_and_every_rule_target_has_a_dead_letter_queue_and_retries(stage: Synthesized) -> None:
    template = Template.from_json(stage.data)
    template.has_resource_properties("AWS::Events::Archive", {"RetentionDays": ARCHIVE_RETENTION_DAYS})
    rules = _resources(stage.data, "AWS::Events::Rule")
    assert len(rules) == len(define(stage_settings(stage.stage)).rules)
    for rule in rules.values():
        for target in rule["Properties"]["Targets"]:
            assert "Arn" in target["DeadLetterConfig"]
            assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_secrets_and_topic_use_the_key_and_audit_logs_are_kept_90_days(stage: Synthesized) -> None:
    template = Template.from_json(stage.data)
    template.has_resource_properties("AWS::SecretsManager::Secret", {"KmsKeyId": Match.any_value()})
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": AUDIT_LOG_RETENTION_DAYS,
                                                             "KmsKeyId": Match.any_value()})
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_the_dlq_archive_is_encrypted_private_tls_only_expiring_and_retained(stage: Synthesized) -> None:
    key = _single_logical_id(stage.data, "AWS::KMS::Key")
    [(bucket_id, bucket)] = _resources(stage.data, "AWS::S3::Bucket").items()
    properties = bucket["Properties"]
    assert properties["BucketName"] == {"Fn::Join": ["", [f"switchboard-{stage.stage}-dlq-archive-",
                                                          {"Ref": "AWS::AccountId"}]]}, "dlq_archive_bucket_name"
    [rule] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                     "KMSMasterKeyID": {"Fn::GetAtt": [key, "Arn"]}}
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(properties["PublicAccessBlockConfiguration"]) == 4
    [lifecycle] = properties["LifecycleConfiguration"]["Rules"]
    assert lifecycle["ExpirationInDays"] == DLQ_ARCHIVE_RETENTION_DAYS and lifecycle["Status"] == "Enabled"
    assert {bucket[name] for name in ("DeletionPolicy", "UpdateReplacePolicy")} == {"RetainExceptOnCreate", "Retain"}
    [policy] = _resources(stage.data, "AWS::S3::BucketPolicy").values()
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    assert (statement["Effect"], statement["Action"], statement["Condition"]) == (
        "Deny", "s3:*", {"Bool": {"aws:SecureTransport": "false"}})


def test_the_operators_audit_log_group_is_named_for_the_tool_kept_90_days_and_encrypted(stage: Synthesized) -> None:
    key = _single_logical_id(stage.data, "AWS::KMS::Key")
    Template.from_json(stage.data).has_resource("AWS::Logs::LogGroup", {
        "Properties": {"LogGroupName": stage_settings(stage.stage).audit_log_group,
                       "RetentionInDays": AUDIT_LOG_RETENTION_DAYS, "KmsKeyId": {"Fn::GetAtt": [key, "Arn"]}},
        **RETAIN_EXCEPT_ON_CREATE})


def test_the_on_call_dlq_policy_grants_exactly_what_the_tool_does(stage: Synthesized) -> None:
    [policy] = _resources(stage.data, "AWS::IAM::ManagedPolicy").values()
    properties = policy["Properties"]
    assert properties["ManagedPolicyName"] == f"switchboard-{stage.stage}-on-call-dlq"
    granted = {statement["Sid"]: (statement["Action"], sorted(json.dumps(r) for r in statement["Resource"]))
               for statement in properties["PolicyDocument"]["Statement"]}

    def arns(*logical_ids: str) -> list[str]:
        return sorted(json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}) for logical_id in logical_ids)

    dlqs, sources = ("RoutingDlqQueue", "AgentDlqQueue", "SyncDlqQueue"), ("RoutingQueue", "AgentQueue", "SyncQueue")
    bucket_objects = {"Fn::Join": ["", [{"Fn::GetAtt": ["DlqArchiveBucket", "Arn"]}, "/*"]]}
    assert granted == {
        "DeadLetters": (["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ReceiveMessage",
                         "sqs:ChangeMessageVisibility", "sqs:DeleteMessage"], arns("EventsDlqQueue", *dlqs)),
        "MoveTasks": (["sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks"], arns(*dlqs)),
        "SourceQueues": (["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"], arns(*sources)),
        "EventsBackOnTheBus": (["events:PutEvents"], arns("EventBus")),
        "FailureReasons": (["dynamodb:GetItem"], arns("TicketsTable")),
        "ArchiveBeforePurge": (["s3:PutObject"], [json.dumps(bucket_objects)]),
        "AuditTrail": (["logs:CreateLogStream", "logs:PutLogEvents", "logs:FilterLogEvents"],
                       arns("OperatorAuditLogs")),
        "Key": (["kms:Decrypt", "kms:GenerateDataKey"], arns(_single_logical_id(stage.data, "AWS::KMS::Key"))),
    }
    outputs = stage.data["Outputs"]
    assert outputs["OnCallDlqPolicyArn"]["Value"] == {"Ref": "OnCallDlqPolicy"}
    assert outputs["DlqArchiveBucketName"]["Value"] == {"Ref": "DlqArchiveBucket"}
    assert outputs["OperatorAuditLogGroupName"]["Value"] == {"Ref": "OperatorAuditLogs"}


def test_the_layer_is_a_cdk_asset(stage: Synthesized) -> None:
    Template.from_json(stage.data).has_resource_properties("AWS::Lambda::LayerVersion", {
        "CompatibleRuntimes": ["python3.11"],
        "Content": {"S3Bucket": Match.any_value(), "S3Key": Match.string_like_regexp(r"\.zip$")},
    })


def test_every_alarm_the_issue_names_exists_and_notifies_the_topic(stage: Synthesized) -> None:
    alarms = {alarm["Properties"]["AlarmName"]: alarm["Properties"]
              for alarm in _resources(stage.data, "AWS::CloudWatch::Alarm").values()}
    wanted = ["api-5xx", "decision-p99", "agent-throttled", "daily-cost", "ticket-received-failed-invocations",
              *(f"{f.name}-errors" for f in FUNCTIONS),
              *(f"{q.name.removeprefix(f'switchboard-{stage.stage}-')}-not-empty"
                for q in define(stage_settings(stage.stage)).dead_letter_queues)]
    topic = _single_logical_id(stage.data, "AWS::SNS::Topic")
    for what in wanted:
        alarm = alarms[alarm_name(stage.stage, what)]
        assert alarm["AlarmActions"] == [{"Ref": topic}], what
    assert alarms[alarm_name(stage.stage, "decision-p99")]["Threshold"] == 3000
    assert alarms[alarm_name(stage.stage, "route_tickets-errors")]["Threshold"] == 5
    assert alarms[alarm_name(stage.stage, "route_tickets-errors")]["EvaluationPeriods"] == 5
    assert alarms[alarm_name(stage.stage, "daily-cost")]["Threshold"] == (
        stage_config(stage.stage).agent_daily_budget_usd)


def test_the_dashboard_shows_the_pipeline(stage: Synthesized) -> None:
    [dashboard] = _resources(stage.data, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in ("TicketsReceived", "TicketsDecided", "ReceiptToProvisionalMs", "ReceiptToFinalMs",
                   "DecisionConfidence", "ManualReview", "AgentCostUSD", "ApproximateNumberOfMessagesVisible",
                   "SuccessPercent", "team", "priority", "tier"):
        assert metric in body, metric


# -- app stack -----------------------------------------------------------------------------------------------------


def test_functions_have_their_name_memory_timeout_concurrency_tracing_and_layer(stage: Synthesized) -> None:
    config = stage_config(stage.stage)
    functions = _resources(stage.app, "AWS::Serverless::Function")
    assert set(functions) == {f.logical_id for f in FUNCTIONS}
    roles = set()
    for function in FUNCTIONS:
        properties = functions[function.logical_id]["Properties"]
        assert properties["FunctionName"] == function.function_name(stage.stage)
        assert properties["MemorySize"] == MEMORY.get(function.name, API_MEMORY_MB)
        assert properties["Tracing"] == "Active"
        [layer] = properties["Layers"]
        assert "Fn::ImportValue" in layer, "the data stack's layer"
        assert properties.get("ReservedConcurrentExecutions") == config.reserved_concurrency.get(function.name)
        assert properties["Environment"]["Variables"]["SWITCHBOARD_STAGE"] == stage.stage
        roles.add(json.dumps(properties["Role"]))
    assert len(roles) == len(FUNCTIONS), "one role per function"
    assert functions["RouteTickets"]["Properties"]["Timeout"] == WORKER_TIMEOUT_SECONDS
    assert functions["DecideUnsureTickets"]["Properties"]["Timeout"] == AGENT_WORKER_TIMEOUT_SECONDS


def test_every_sqs_event_source_reports_partial_batches_and_the_agent_is_capped(stage: Synthesized) -> None:
    functions = _resources(stage.app, "AWS::Serverless::Function")
    for worker in WORKERS:
        [event] = functions[worker.logical_id]["Properties"]["Events"].values()
        assert event["Type"] == "SQS"
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert "Fn::ImportValue" in event["Properties"]["Queue"]
    routing = next(iter(functions["RouteTickets"]["Properties"]["Events"].values()))["Properties"]
    agent = next(iter(functions["DecideUnsureTickets"]["Properties"]["Events"].values()))["Properties"]
    assert routing["BatchSize"] == BATCH_SIZE
    assert agent["ScalingConfig"] == {"MaximumConcurrency": AGENT_MAX_CONCURRENCY}
    assert agent["BatchSize"] == 1


def test_every_function_shifts_traffic_gradually_and_rolls_back_on_errors_and_dead_letters(stage: Synthesized) -> None:
    config = stage_config(stage.stage)
    functions = _resources(stage.app, "AWS::Serverless::Function")
    for function in FUNCTIONS:
        properties = functions[function.logical_id]["Properties"]
        assert properties["AutoPublishAlias"] == ALIAS
        assert properties["AutoPublishAliasAllProperties"] is True, "a new layer is rolled out gradually too"
        preference = properties["DeploymentPreference"]
        assert preference["Type"] == config.deployment_preference
        assert preference["Type"].startswith("Canary10Percent")
        assert alarm_name(stage.stage, f"{function.name}-errors") in preference["Alarms"]
        assert alarm_name(stage.stage, "decision-p99") not in preference["Alarms"], "never on agent latency"
        if function.needs.consumes:
            assert any(name.endswith("-dlq-not-empty") for name in preference["Alarms"])
        alarms = _resources(stage.data, "AWS::CloudWatch::Alarm").values()
        defined = {alarm["Properties"]["AlarmName"] for alarm in alarms}
        assert set(preference["Alarms"]) <= defined, "every rollback alarm exists in the data stack"


def test_the_api_invokes_the_alias_so_the_canary_share_sees_traffic(stage: Synthesized) -> None:
    api = stage.app["Resources"]["RestAPI"]["Properties"]
    body = json.dumps(api["DefinitionBody"])
    assert f"${{{API.logical_id}Alias{ALIAS}}}" in body and f"${{{API.logical_id}.Arn}}" not in body
    permission = stage.app["Resources"]["APIHandlerInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": f"{API.logical_id}Alias{ALIAS}"}


def test_ticket_routes_need_an_api_key_in_a_throttled_usage_plan(stage: Synthesized) -> None:
    config = stage_config(stage.stage)
    api = stage.app["Resources"]["RestAPI"]["Properties"]
    paths = api["DefinitionBody"]["paths"]
    for method in ("get", "post"):
        assert {"api_key": []} in paths["/tickets"][method]["security"]
    assert {"api_key": []} in paths["/tickets/{ticket_id}"]["get"]["security"]
    assert "security" not in paths["/health"]["get"]
    template = Template.from_json(stage.app)
    template.has_resource_properties("AWS::ApiGateway::UsagePlan", {
        "Throttle": {"RateLimit": 100, "BurstLimit": config.api_burst_limit},
        "Quota": {"Limit": config.api_daily_quota, "Period": "DAY"},
        "ApiStages": [{"ApiId": {"Ref": "RestAPI"}, "Stage": stage.stage}],
    })
    template.resource_count_is("AWS::ApiGateway::UsagePlanKey", len(config.api_keys))
    assert api["TracingEnabled"] is True
    assert "DestinationArn" in api["AccessLogSetting"]
    assert api["MethodSettings"][0]["ThrottlingRateLimit"] == config.api_rate_limit


def test_function_logs_have_a_retention_and_the_canary_probes_health_every_minute(stage: Synthesized) -> None:
    config = stage_config(stage.stage)
    template = Template.from_json(stage.app)
    for function in FUNCTIONS:
        template.has_resource_properties("AWS::Logs::LogGroup", {
            "LogGroupName": f"/aws/lambda/{function.function_name(stage.stage)}",
            "RetentionInDays": config.log_retention_days})
    template.has_resource_properties("AWS::Synthetics::Canary", {
        "Name": canary_name(stage.stage), "Schedule": {"Expression": "rate(1 minute)"},
        "RunConfig": Match.object_like({"EnvironmentVariables": {"HEALTH_URL": Match.any_value()}}),
    })


def _single_logical_id(template: dict[str, Any], kind: str) -> str:
    [logical_id] = _resources(template, kind)
    return logical_id
