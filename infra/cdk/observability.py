"""Alarms, dashboard and the synthetic canary: what on-call sees, defined beside the resources it watches.

The alarms and the dashboard live in the data stack (they outlive any deployment of the functions and watch the
functions by their fixed names, so a dev stage deployed with ``chalice deploy`` is watched too); every alarm
notifies the stage's SNS topic. The canary needs the API's URL, so ``HealthCanary`` lives in the app stack.

Metric names and dimensions the app emits (namespace ``Switchboard``, EMF through Powertools) are listed in
``METRICS``; the app must emit exactly these for the dashboard and the alarms to see anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_synthetics as synthetics
from constructs import Construct

from infra.cdk.config import StageConfig
from infra.cdk.functions import APP_NAME, FUNCTIONS, LambdaFunction
from infra.resources import Stack

NAMESPACE = "Switchboard"
PIPELINE = {"service": "pipeline"}
"""Dimension of the pipeline metrics: emitted by the API and both workers, so one service value for all of them
(a percentile of receipt-to-decision cannot be combined from two metrics)."""
AGENT = {"service": "agent-worker"}
"""Dimension the agent worker's metrics already carry (``workers.agent``)."""
TEAMS = ("Network Operations", "Billing Support", "Technical Support", "Account Management")
PRIORITIES = ("P0", "P1", "P2", "P3")
TIERS = ("fast", "agent", "fallback")

METRICS: dict[str, str] = {
    "TicketsReceived": "Count, {service: pipeline}: a new ticket accepted (POST /tickets, 202, first time)",
    "TicketsDecided": "Count, {service: pipeline}: a final decision stored; also once with each of "
                      "{service, team}, {service, priority}, {service, tier: fast|agent|fallback}",
    "ManualReview": "Count, {service: pipeline}: a final decision that sends the ticket to people",
    "DecisionConfidence": "None (0-1), {service: pipeline}: the final decision's confidence",
    "ReceiptToProvisionalMs": "Milliseconds, {service: pipeline}: receipt to the fast router's stored decision",
    "ReceiptToFinalMs": "Milliseconds, {service: pipeline}: receipt to the final stored decision",
    "AgentThrottled": "Count, {service: agent-worker} (emitted today)",
    "AgentCostUSD": "None, {service: agent-worker} (emitted today)",
    "AgentDecisions": "Count, {service: agent-worker} (emitted today)",
    "AgentFallbacks": "Count, {service: agent-worker, cause} (emitted today)",
}

DECISION_P99_MS = 3000
WORKER_ERROR_RATE_PERCENT = 5
API_5XX_RATE = 0.01
AGENT_THROTTLES_PER_5_MIN = 5
CANARY_NAME_MAX = 21


def alarm_name(stage: str, what: str) -> str:
    """Alarm names are fixed so that the app stack's rollback configuration can name them."""
    return f"{APP_NAME}-{stage}-{what}"


def rollback_alarms(stage: str, function: LambdaFunction, definitions: Stack) -> list[str]:
    """What rolls a new version of ``function`` back: its errors and its dead letters (never agent latency)."""
    names = [alarm_name(stage, f"{function.name}-errors")]
    if function.api:
        names.append(alarm_name(stage, "api-5xx"))
    if function.needs.consumes:
        dead_letter = getattr(definitions, function.needs.consumes).dead_letter_queue
        names.append(alarm_name(stage, f"{dead_letter}-not-empty".removeprefix(f"{APP_NAME}-{stage}-")))
    return names


def api_dimensions(stage: str) -> dict[str, str]:
    """API Gateway names a REST API after the OpenAPI title (the Chalice app name); the stage tells them apart."""
    return {"ApiName": APP_NAME, "Stage": stage}


class Observability(Construct):
    """The stage's alarms (to ``topic_arn``) and its dashboard."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, definitions: Stack,
                 topic_arn: str) -> None:
        super().__init__(scope, construct_id)
        self._stage = config.name
        self._topic_arn = topic_arn
        minute, five = cdk.Duration.minutes(1), cdk.Duration.minutes(5)

        api = api_dimensions(config.name)
        self._alarm("api-5xx", "API answers 5xx to more than 1 % of requests for 5 minutes",
                    _metric("AWS/ApiGateway", "5XXError", api, "Average", minute), API_5XX_RATE, 5)
        for function in FUNCTIONS:
            self._alarm(f"{function.name}-errors", f"{function.name}: more than {WORKER_ERROR_RATE_PERCENT} % of "
                        "invocations fail, 5 minutes in a row", self._error_rate(function), WORKER_ERROR_RATE_PERCENT,
                        5)
        for queue in definitions.dead_letter_queues:
            what = queue.name.removeprefix(f"{APP_NAME}-{config.name}-")
            self._alarm(f"{what}-not-empty", f"A message is in {queue.name}: it needs a person (see README, DLQ)",
                        _metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue.name},
                                "Maximum", minute), 0, 1)
        for rule in definitions.rules:
            what = rule.name.removeprefix(f"{APP_NAME}-{config.name}-")
            self._alarm(f"{what}-failed-invocations", f"EventBridge could not deliver {rule.name}'s events",
                        _metric("AWS/Events", "FailedInvocations", {"EventBusName": rule.bus, "RuleName": rule.name},
                                "Sum", minute), 0, 1)
        self._alarm("decision-p99", f"p99 receipt to final decision above {DECISION_P99_MS} ms for 15 minutes",
                    _metric(NAMESPACE, "ReceiptToFinalMs", PIPELINE, "p99", five), DECISION_P99_MS, 3)
        self._alarm("agent-throttled", "The model provider throttles the agent worker",
                    _metric(NAMESPACE, "AgentThrottled", AGENT, "Sum", five), AGENT_THROTTLES_PER_5_MIN - 1, 1)
        self._alarm("daily-cost", f"Model spend today is over the {config.agent_daily_budget_usd} USD budget",
                    _metric(NAMESPACE, "AgentCostUSD", AGENT, "Sum", cdk.Duration.days(1)),
                    config.agent_daily_budget_usd, 1)
        self._dashboard(config, definitions)

    # -- alarms ------------------------------------------------------------------------------------------------

    def _alarm(self, what: str, description: str, metric: cloudwatch.IMetric, threshold: float,
               periods: int) -> None:
        alarm = cloudwatch.Alarm(
            self, f"{what}-alarm", alarm_name=alarm_name(self._stage, what), alarm_description=description,
            metric=metric, threshold=threshold, evaluation_periods=periods, datapoints_to_alarm=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        cfn_alarm = alarm.node.default_child
        assert isinstance(cfn_alarm, cloudwatch.CfnAlarm)
        cfn_alarm.alarm_actions = [self._topic_arn]
        cfn_alarm.ok_actions = [self._topic_arn]

    def _error_rate(self, function: LambdaFunction) -> cloudwatch.MathExpression:
        dimensions = {"FunctionName": function.function_name(self._stage)}
        minute = cdk.Duration.minutes(1)
        return cloudwatch.MathExpression(
            expression="100 * errors / MAX([errors, invocations])",
            using_metrics={"errors": _metric("AWS/Lambda", "Errors", dimensions, "Sum", minute),
                           "invocations": _metric("AWS/Lambda", "Invocations", dimensions, "Sum", minute)},
            label=f"{function.name} error rate (%)", period=minute,
        )

    # -- dashboard ---------------------------------------------------------------------------------------------

    def _dashboard(self, config: StageConfig, definitions: Stack) -> None:
        five = cdk.Duration.minutes(5)
        stage = config.name

        def pipeline(name: str, statistic: str = "Sum", **dimensions: str) -> cloudwatch.Metric:
            return _metric(NAMESPACE, name, {**PIPELINE, **dimensions}, statistic, five,
                           label=" ".join(dimensions.values()) or f"{name} {statistic}")

        received, decided = pipeline("TicketsReceived"), pipeline("TicketsDecided")
        review = pipeline("ManualReview")
        agent_tier = pipeline("TicketsDecided", tier="agent")
        rows: list[Sequence[cloudwatch.IWidget]] = [
            [
                _graph("Tickets in and decided", [received, decided]),
                _graph("Receipt to provisional decision (ms)",
                       [pipeline("ReceiptToProvisionalMs", "p50"), pipeline("ReceiptToProvisionalMs", "p99")]),
                _graph("Receipt to final decision (ms)",
                       [pipeline("ReceiptToFinalMs", "p50"), pipeline("ReceiptToFinalMs", "p99")],
                       threshold=DECISION_P99_MS),
            ],
            [
                _graph("Confidence of final decisions",
                       [pipeline("DecisionConfidence", p) for p in ("p10", "p25", "p50", "p75", "p90")]),
                _graph("Team mix", [pipeline("TicketsDecided", team=team) for team in TEAMS], stacked=True),
                _graph("Priority mix", [pipeline("TicketsDecided", priority=p) for p in PRIORITIES], stacked=True),
            ],
            [
                _graph("Manual review and agent share (%)", [
                    cloudwatch.MathExpression(expression="100 * review / MAX([review, decided])",
                                              using_metrics={"review": review, "decided": decided},
                                              label="manual review %", period=five),
                    cloudwatch.MathExpression(expression="100 * agent / MAX([agent, decided])",
                                              using_metrics={"agent": agent_tier, "decided": decided},
                                              label="agent share %", period=five),
                ]),
                _graph("Decisions by tier", [pipeline("TicketsDecided", tier=tier) for tier in TIERS], stacked=True),
                _graph("Model cost (USD) and throttling", [
                    _metric(NAMESPACE, "AgentCostUSD", AGENT, "Sum", cdk.Duration.hours(1), label="cost per hour"),
                    _metric(NAMESPACE, "AgentThrottled", AGENT, "Sum", five, label="throttled"),
                ]),
            ],
            [
                _graph("Dead-letter queues (messages)", [
                    _metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": q.name}, "Maximum",
                            cdk.Duration.minutes(1), label=q.name) for q in definitions.dead_letter_queues]),
                _graph("API", [_metric("AWS/ApiGateway", m, api_dimensions(stage), "Sum", five, label=m)
                               for m in ("Count", "4XXError", "5XXError")]),
                _graph("Availability (canary /health, %)", [
                    _metric("CloudWatchSynthetics", "SuccessPercent", {"CanaryName": canary_name(stage)},
                            "Average", cdk.Duration.hours(1), label="success %")]),
            ],
            [_graph(f"{f.name}: errors, throttles",
                    [_metric("AWS/Lambda", m, {"FunctionName": f.function_name(stage)}, "Sum", five, label=m)
                     for m in ("Invocations", "Errors", "Throttles")]) for f in FUNCTIONS],
        ]
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{APP_NAME}-{stage}")
        for row in rows:
            dashboard.add_widgets(*row)


def _metric(namespace: str, name: str, dimensions: dict[str, str], statistic: str, period: cdk.Duration,
            label: str | None = None) -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace=namespace, metric_name=name, dimensions_map=dimensions, statistic=statistic,
                             period=period, label=label)


def _graph(title: str, metrics: Sequence[cloudwatch.IMetric], *, threshold: float | None = None,
           stacked: bool = False) -> cloudwatch.GraphWidget:
    annotations = [cloudwatch.HorizontalAnnotation(value=threshold, label="alarm")] if threshold else None
    return cloudwatch.GraphWidget(title=title, left=list(metrics), width=8, stacked=stacked,
                                  left_annotations=annotations)


# -- the canary (app stack) -----------------------------------------------------------------------------------

CANARY_SCRIPT = '''
import os
import urllib.request


def handler(event, context):
    """GET /health: a 200 with status ok, or the run fails (and counts against availability)."""
    with urllib.request.urlopen(os.environ["HEALTH_URL"], timeout=10) as answer:
        body = answer.read().decode()
        if answer.status != 200 or '"ok"' not in body:
            raise RuntimeError(f"/health answered {answer.status}: {body[:200]}")
    return "ok"
'''


def canary_name(stage: str) -> str:
    """Synthetics allows 21 lowercase characters."""
    name = f"sb-{stage}-health"
    assert len(name) <= CANARY_NAME_MAX, name
    return name


class HealthCanary(Construct):
    """GET /health every minute: the availability figure (SuccessPercent) behind the 99.9 % target, alarmed."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str, health_url: str, topic_arn: str) -> None:
        super().__init__(scope, construct_id)
        name = canary_name(stage)
        bucket = s3.Bucket(self, "Artifacts", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
                           block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                           lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(30))],
                           removal_policy=cdk.RemovalPolicy.RETAIN)
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        inline_policies={"canary": iam.PolicyDocument.from_json(
                            _canary_policy(name, bucket.bucket_arn))})
        canary = synthetics.Canary(
            self, "Canary", canary_name=name, runtime=synthetics.Runtime.SYNTHETICS_PYTHON_SELENIUM_7_0,
            test=synthetics.Test.custom(code=synthetics.Code.from_inline(CANARY_SCRIPT), handler="index.handler"),
            schedule=synthetics.Schedule.rate(cdk.Duration.minutes(1)),
            environment_variables={"HEALTH_URL": health_url},
            artifacts_bucket_location=synthetics.ArtifactsBucketLocation(bucket=bucket), role=role,
            success_retention_period=cdk.Duration.days(7), failure_retention_period=cdk.Duration.days(30),
        )
        alarm = cloudwatch.Alarm(
            self, "Alarm", alarm_name=alarm_name(stage, "health-canary"),
            alarm_description="GET /health failed 3 minutes in a row (synthetic canary)",
            metric=canary.metric_success_percent(period=cdk.Duration.minutes(1)), threshold=100,
            evaluation_periods=3, datapoints_to_alarm=3,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        cfn_alarm = alarm.node.default_child
        assert isinstance(cfn_alarm, cloudwatch.CfnAlarm)
        cfn_alarm.alarm_actions = [topic_arn]


def _canary_policy(name: str, bucket_arn: str) -> dict[str, Any]:
    """What a Synthetics canary needs (AWS's documented canary role), with its names written in."""
    region, account, partition = cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID, cdk.Aws.PARTITION
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Artifacts", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": [f"{bucket_arn}/*"]},
        {"Sid": "ArtifactsBucket", "Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": [bucket_arn]},
        {"Sid": "ListBuckets", "Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": ["*"]},
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [f"arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/cwsyn-{name}-*"]},
        {"Sid": "Metrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": ["*"],
         "Condition": {"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}}},
        {"Sid": "Tracing", "Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": ["*"]},
    ]}
