"""The app stack of a stage: the Chalice app (functions and REST API) on top of the stage's data stack.

``chalice.cdk.Chalice`` runs ``chalice package`` on the project ``infra.cdk.chalice_project`` writes (our code,
the stage's environment, layer and per-function roles from the data stack) and includes the SAM template it
produces. What Chalice has no setting for is added to that template here:

* each function gets its fixed name, a ``live`` alias published on every deploy and a CodeDeploy deployment
  (10 % of traffic, then all) that rolls back when its error or dead-letter alarms fire;
* the SQS event sources point at the data stack's queues, report partial batch failures and cap concurrency;
  SAM attaches them to the alias, and the API's integration and permission are pointed at the alias too, so the
  10 % really receive traffic;
* the API gets access logs (the data stack's audit log group), X-Ray, stage throttling, a usage plan with the
  data stack's API keys, and a synthetic canary on ``/health``.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from chalice.cdk import Chalice
from constructs import Construct

from infra.cdk.chalice_project import stage_project, stage_section
from infra.cdk.config import CHALICE_PROJECTS, StageConfig
from infra.cdk.data_stack import DataStack
from infra.cdk.functions import API, FUNCTIONS, LambdaFunction
from infra.cdk.observability import HealthCanary, rollback_alarms
from infra.cdk.permissions import policy_document
from infra.cdk.plane import stage_settings
from infra.resources import define

ALIAS = "live"
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "caller": "$context.identity.caller",
    "user": "$context.identity.userArn", "apiKeyId": "$context.identity.apiKeyId",
    "requestTime": "$context.requestTime", "method": "$context.httpMethod", "path": "$context.resourcePath",
    "status": "$context.status", "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency", "traceId": "$context.xrayTraceId",
})
NOT_FOUND_RESPONSE = {
    # API Gateway answers a path no route matches with 403 "Missing Authentication Token" before the app runs;
    # clients expect the app's JSON error format and a 404.
    "MISSING_AUTHENTICATION_TOKEN": {
        "StatusCode": 404,
        "ResponseTemplates": {"application/json": '{"error": "not_found", "message": "No such route.", "details": []}'},
    },
}


class TemplateError(Exception):
    """What ``chalice package`` produced does not match what the stacks expect (the message says what to fix)."""


class AppStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, data: DataStack,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.node.add_dependency(data)
        self._config, self._data = config, data
        self._definitions = define(stage_settings(config.name))

        roles = {function.name: self._role(function) for function in FUNCTIONS}
        section = stage_section(config, data.plane, {name: {"iam_role_arn": r.role_arn} for name, r in roles.items()})
        section["manage_iam_role"] = False
        section["iam_role_arn"] = roles[API.name].role_arn
        project = stage_project(CHALICE_PROJECTS / f"cdk-{config.name}", self.to_string(), section)
        chalice = Chalice(self, "Chalice", source_dir=str(project))
        template = _packaged_template(chalice)
        for function in FUNCTIONS:
            self._function(function, chalice.get_resource(function.logical_id),
                           template["Resources"][function.logical_id]["Properties"])

        api = chalice.get_resource("RestAPI")
        api_properties = template["Resources"]["RestAPI"]["Properties"]
        api_stage = api_properties["StageName"]
        self._api(api, api_properties["DefinitionBody"])
        chalice.get_resource("APIHandlerInvokePermission").add_property_override(
            "FunctionName", {"Ref": f"{API.logical_id}Alias{ALIAS}"})
        self._usage_plan(config, data, api, api_stage)
        url = cdk.Fn.join("", ["https://", api.ref, ".execute-api.", cdk.Aws.REGION, ".", cdk.Aws.URL_SUFFIX,
                               f"/{api_stage}/"])
        HealthCanary(self, "HealthCanary", stage=config.name, health_url=cdk.Fn.join("", [url, "health"]),
                     topic_arn=data.topic.ref)
        self._on_call_policy(config.name, api, api_stage, api_properties["DefinitionBody"])
        cdk.CfnOutput(self, "ApiUrl", value=url)

    def _role(self, function: LambdaFunction) -> iam.Role:
        return iam.Role(
            self, f"{function.logical_id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{function.function_name(self._config.name)}: exactly what its code touches",
            inline_policies={"access": iam.PolicyDocument.from_json(
                policy_document(function, self._data.plane, self._config))},
        )

    def _function(self, function: LambdaFunction, resource: cdk.CfnResource, packaged: dict[str, Any]) -> None:
        """Name, log retention, alias and gradual deployment; for a queue consumer its event source's settings."""
        stage = self._config.name
        resource.add_property_override("FunctionName", function.function_name(stage))
        log_group = logs.CfnLogGroup(self, f"{function.logical_id}Logs",
                                     log_group_name=f"/aws/lambda/{function.function_name(stage)}",
                                     retention_in_days=self._config.log_retention_days)
        resource.node.add_dependency(log_group)
        resource.add_property_override("AutoPublishAlias", ALIAS)
        # A new version (and a gradual deployment) for any change: a new layer or environment as well as new code.
        resource.add_property_override("AutoPublishAliasAllProperties", True)
        resource.add_property_override("DeploymentPreference", {
            "Type": self._config.deployment_preference,
            "Alarms": rollback_alarms(stage, function, self._definitions),
        })
        if not function.needs.consumes:
            return
        queue = getattr(self._definitions, function.needs.consumes)
        event_id = _sqs_event(function, packaged, queue.name)
        _check_timing(function, packaged, queue.visibility_timeout_s)
        prefix = f"Events.{event_id}.Properties"
        resource.add_property_override(f"{prefix}.Queue", self._data.plane.queues[function.needs.consumes].arn)
        resource.add_property_override(f"{prefix}.FunctionResponseTypes", ["ReportBatchItemFailures"])
        if function.max_concurrency:
            resource.add_property_override(f"{prefix}.ScalingConfig", {"MaximumConcurrency": function.max_concurrency})

    def _api(self, api: cdk.CfnResource, body: dict[str, Any]) -> None:
        """Integrations through the alias, JSON 404s, X-Ray, audit logs to the data stack, stage throttling."""
        api.add_property_override("DefinitionBody", _through_alias(body))
        api.add_property_override("GatewayResponses", NOT_FOUND_RESPONSE)
        api.add_property_override("TracingEnabled", True)
        api.add_property_override("AccessLogSetting", {"DestinationArn": self._data.audit_log_group.attr_arn,
                                                       "Format": ACCESS_LOG_FORMAT})
        api.add_property_override("MethodSettings", [{
            "ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True,
            "ThrottlingRateLimit": self._config.api_rate_limit, "ThrottlingBurstLimit": self._config.api_burst_limit,
        }])

    def _usage_plan(self, config: StageConfig, data: DataStack, api: cdk.CfnResource, api_stage: str) -> None:
        """The ticketing system's plan: its keys (two during a rotation), its rate, burst and daily quota."""
        plan = apigateway.CfnUsagePlan(
            self, "TicketingUsagePlan", usage_plan_name=f"switchboard-{config.name}-ticketing",
            throttle=apigateway.CfnUsagePlan.ThrottleSettingsProperty(rate_limit=config.api_rate_limit,
                                                                       burst_limit=config.api_burst_limit),
            quota=apigateway.CfnUsagePlan.QuotaSettingsProperty(limit=config.api_daily_quota, period="DAY"),
        )
        plan.add_property_override("ApiStages", [{"ApiId": api.ref, "Stage": api_stage}])
        plan.add_override("DependsOn", [f"RestAPI{api_stage}Stage"])
        cdk.Validations.of(plan).acknowledge(cdk.Acknowledgment(
            id="CloudFormation-Validate::E3005", reason="RestAPI<stage>Stage is the stage SAM's transform generates"))
        for key_name, key_id in data.api_key_ids.items():
            apigateway.CfnUsagePlanKey(self, f"{plan.node.id}{_pascal(key_name)}", key_id=key_id, key_type="API_KEY",
                                       usage_plan_id=plan.ref)

    def _on_call_policy(self, stage: str, api: cdk.CfnResource, api_stage: str, body: dict[str, Any]) -> None:
        """Routes under IAM authorization (Chalice's ``IAMAuthorizer``): a managed policy on-call roles attach."""
        routes = iam_routes(body)
        if not routes:
            return
        arn = f"arn:{cdk.Aws.PARTITION}:execute-api:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:{api.ref}/{api_stage}"
        iam.ManagedPolicy(self, "OnCallInvoke", managed_policy_name=f"switchboard-{stage}-on-call", statements=[
            iam.PolicyStatement(actions=["execute-api:Invoke"],
                                resources=[f"{arn}/{method}{path}" for method, path in routes])])


def iam_routes(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(METHOD, path) of every route whose security is SigV4; path parameters become ``*`` (any id)."""
    routes = []
    for path, methods in body.get("paths", {}).items():
        for method, operation in methods.items():
            if any("sigv4" in requirement for requirement in operation.get("security", [])):
                routes.append((method.upper(), re.sub(r"\{[^}]+\}", "*", path)))
    return sorted(routes)


def _packaged_template(chalice: Chalice) -> dict[str, Any]:
    """The SAM template ``chalice package`` wrote (the construct keeps it in its package directory)."""
    return dict(json.loads((Path(chalice._sam_package_dir) / "sam.json").read_text(encoding="utf-8")))


def _sqs_event(function: LambdaFunction, properties: dict[str, Any], queue_name: str) -> str:
    """The id of ``function``'s SQS event; it must subscribe ``queue_name`` (``app.py`` read the stage's names)."""
    for event_id, event in properties.get("Events", {}).items():
        if event.get("Type") == "SQS":
            queue = json.dumps(event["Properties"]["Queue"])
            if not queue.endswith(f':{queue_name}"}}'):
                raise TemplateError(f"{function.name} subscribes {queue}, not {queue_name}: was app.py imported "
                                    "with another stage's settings?")
            return str(event_id)
    raise TemplateError(f"{function.name} has no SQS event source: is its handler registered in app.py?")


def _check_timing(function: LambdaFunction, properties: dict[str, Any], visibility_timeout_s: int) -> None:
    """The queue hides a message for 6 × the function's timeout (AWS's rule), so both must say what limits say."""
    timeout = properties.get("Timeout")
    if timeout != function.timeout_s:
        raise TemplateError(f"{function.name} lambda_timeout is {timeout}s but workers.limits says "
                            f"{function.timeout_s}s: fix .chalice/config.json")
    if visibility_timeout_s < 6 * timeout:
        raise TemplateError(f"{function.name}: its queue's visibility timeout is under 6 × its timeout")


def _through_alias(body: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI body with every Lambda integration invoking the API handler's alias instead of $LATEST."""
    text = json.dumps(copy.deepcopy(body)).replace(f"${{{API.logical_id}.Arn}}", f"${{{API.logical_id}Alias{ALIAS}}}")
    return dict(json.loads(text))


def _pascal(identifier: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", identifier) if part)
