"""No wildcard in any IAM statement of any stage, except where AWS leaves no name to write.

Every policy document in both templates of every stage is walked: roles' inline policies, managed policies, queue,
topic, bucket and key policies. An ``Allow`` may not use ``*`` in an action, and ``*`` in a resource only where the
name does not exist before run time (log streams, canary log groups, artifact object keys, API path parameters) or
where the action has no resource-level permissions (X-Ray, PutMetricData, ListAllMyBuckets); a key policy's
``Resource: "*"`` means the key itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from infra.cdk.config import STAGES
from tests.infra.conftest import Synthesized

DOCUMENT_PROPERTIES = {
    "AWS::IAM::Role": ("Policies",),
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
}
NO_RESOURCE_LEVEL = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:PutMetricData",
                               "s3:ListAllMyBuckets"})
NAMES_CHOSEN_AT_RUN_TIME = (
    re.compile(r"log-group:/aws/lambda/[^*]+:\*$"),  # the log streams Lambda creates in a function's group
    re.compile(r"log-group:/aws/lambda/cwsyn-[a-z0-9-]+-\*$"),  # Synthetics suffixes the canary's function name
    re.compile(r"^\$\{[^}]+\}/\*$"),  # object keys in a named bucket (canary artifacts)
    re.compile(r"execute-api:.*/[A-Z]+/.*\*"),  # path parameters of a named route ({ticket_id})
)


def statements(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(logical id, resource type, statement) for every policy statement in ``template``."""
    for logical_id, resource in template["Resources"].items():
        for name in DOCUMENT_PROPERTIES.get(resource["Type"], ()):
            value = resource.get("Properties", {}).get(name)
            documents = [policy["PolicyDocument"] for policy in value] if name == "Policies" and value else [value]
            for document in filter(None, documents):
                for statement in document["Statement"]:
                    yield logical_id, resource["Type"], statement


def render(value: Any) -> str:
    """A resource as text, with intrinsic functions as ``${…}`` placeholders (their values are names, not ``*``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    if isinstance(value, dict) and "Fn::Sub" in value:
        return str(value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"${{{logical_id}.{attribute}}}"
    if isinstance(value, dict) and "Ref" in value:
        return f"${{{value['Ref']}}}"
    if isinstance(value, dict) and "Fn::ImportValue" in value:
        return f"${{import:{render(value['Fn::ImportValue'])}}}"
    raise AssertionError(f"unexpected resource expression {json.dumps(value)}")


def wildcards(statement: dict[str, Any], resource_type: str) -> list[str]:
    """What is wrong with ``statement``; empty when nothing."""
    if statement["Effect"] != "Allow":
        return []
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    problems = [f"wildcard action {action}" for action in actions if "*" in action]
    resources = statement.get("Resource", [])
    for resource in [resources] if not isinstance(resources, list) else resources:
        text = render(resource)
        if "*" not in text:
            continue
        if text == "*" and (resource_type == "AWS::KMS::Key" or set(actions) <= NO_RESOURCE_LEVEL):
            continue
        if text != "*" and any(pattern.search(text) for pattern in NAMES_CHOSEN_AT_RUN_TIME):
            continue
        problems.append(f"wildcard resource {text} for {actions}")
    return problems


@pytest.mark.parametrize("stage", STAGES)
def test_no_statement_of_any_stack_uses_a_wildcard_where_a_name_is_known(
    stage: str, synthesized: dict[str, Synthesized]
) -> None:
    found = 0
    for which, template in synthesized[stage].templates.items():
        for logical_id, resource_type, statement in statements(template):
            found += 1
            assert not wildcards(statement, resource_type), (which, logical_id, statement)
    assert found > 20, "the walk found the statements"


def test_the_walk_catches_what_it_must() -> None:
    role = "AWS::IAM::Role"
    assert wildcards({"Effect": "Allow", "Action": ["kms:GenerateDataKey*"], "Resource": ["arn:k"]}, role)
    assert wildcards({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}, role)
    assert wildcards({"Effect": "Allow", "Action": "dynamodb:Query",
                      "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["T", "Arn"]}, "/index/*"]]}}, role)
    assert wildcards({"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "arn:aws:sqs:r:1:*"}, role)
    assert not wildcards({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}, "AWS::S3::BucketPolicy")
    assert not wildcards({"Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": ["*"]}, role)
    log_streams = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":logs:r:1:log-group:/aws/lambda/f:*"]]}
    assert not wildcards({"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": [log_streams]}, role)
