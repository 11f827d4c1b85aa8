"""The local stack and the deployed data stack agree: names, keys, indexes, TTL, queue settings, rules and targets.

``provision`` (what ``make run`` and the tests build on moto) and the CDK data stack read the same definitions
(``infra.resources``, ``datalayer.tables``); this compares what each actually produces, resource by resource.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from infra.cdk.plane import stage_settings
from infra.resources import provision
from tests.infra.conftest import Synthesized


def _name_of(template: dict[str, Any], reference: Any) -> str:
    """The physical name behind ``{"Fn::GetAtt": [queue, "Arn"]}`` in the template."""
    [logical_id, _] = reference["Fn::GetAtt"]
    return str(template["Resources"][logical_id]["Properties"]["QueueName"])


def deployed(template: dict[str, Any]) -> dict[str, Any]:
    snapshot: dict[str, Any] = {}
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table":
            snapshot[properties["TableName"]] = {
                "keys": properties["KeySchema"],
                "attributes": sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
                "indexes": sorted((i["IndexName"], json.dumps(i["KeySchema"]), i["Projection"]["ProjectionType"])
                                  for i in properties.get("GlobalSecondaryIndexes", [])),
                "ttl": properties.get("TimeToLiveSpecification", {}).get("AttributeName"),
            }
        elif resource["Type"] == "AWS::SQS::Queue":
            redrive = properties.get("RedrivePolicy", {})
            snapshot[properties["QueueName"]] = {
                "visibility": properties["VisibilityTimeout"],
                "retention": properties["MessageRetentionPeriod"],
                "dlq": _name_of(template, redrive["deadLetterTargetArn"]) if redrive else None,
                "max_receives": redrive.get("maxReceiveCount"),
            }
        elif resource["Type"] == "AWS::Events::Rule":
            snapshot[properties["Name"]] = {
                "bus": properties["EventBusName"],
                "pattern": properties["EventPattern"],
                "targets": [(t["Id"], _name_of(template, t["Arn"]), _name_of(template, t["DeadLetterConfig"]["Arn"]),
                             t["RetryPolicy"]) for t in properties["Targets"]],
            }
        elif resource["Type"] == "AWS::Events::EventBus":
            snapshot["bus"] = properties["Name"]
    return snapshot


def local(session: boto3.session.Session, stage: str) -> dict[str, Any]:
    settings = stage_settings(stage)
    provision(settings, session=session)
    dynamodb, sqs, events = (session.client(s, region_name="us-east-1") for s in ("dynamodb", "sqs", "events"))
    snapshot: dict[str, Any] = {"bus": settings.event_bus}
    for name in dynamodb.list_tables()["TableNames"]:
        table = dynamodb.describe_table(TableName=name)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        snapshot[name] = {
            "keys": table["KeySchema"],
            "attributes": sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            "indexes": sorted((i["IndexName"], json.dumps(i["KeySchema"]), i["Projection"]["ProjectionType"])
                              for i in table.get("GlobalSecondaryIndexes", [])),
            "ttl": ttl.get("AttributeName"),
        }
    for url in sqs.list_queues()["QueueUrls"]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes.get("RedrivePolicy", "{}"))
        snapshot[url.rsplit("/", 1)[-1]] = {
            "visibility": int(attributes["VisibilityTimeout"]),
            "retention": int(attributes["MessageRetentionPeriod"]),
            "dlq": redrive["deadLetterTargetArn"].rsplit(":", 1)[-1] if redrive else None,
            "max_receives": redrive.get("maxReceiveCount"),
        }
    for rule in events.list_rules(EventBusName=settings.event_bus)["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=settings.event_bus)["Targets"]
        snapshot[rule["Name"]] = {
            "bus": settings.event_bus,
            "pattern": json.loads(rule["EventPattern"]),
            "targets": [(t["Id"], t["Arn"].rsplit(":", 1)[-1], t["DeadLetterConfig"]["Arn"].rsplit(":", 1)[-1],
                         t["RetryPolicy"]) for t in targets],
        }
    return snapshot


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_local_stack_builds_what_the_data_stack_deploys(
    stage: str, session: boto3.session.Session, synthesized: dict[str, Synthesized]
) -> None:
    expected = deployed(synthesized[stage].data)
    assert local(session, stage) == expected
    assert len(expected) == 1 + 4 + 7 + 2, "bus, four tables, seven queues, two rules"
