"""The app stack after CloudFormation's SAM transform (run here with aws-sam-translator, as CloudFormation would).

What the 10 % canary share and the rollback depend on only exists after the transform: the aliases, the versions,
the event source mappings, the schedule's target, the API's permission, CodeDeploy's deployment groups and the
API stage the usage plan waits for. This checks them there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from infra.cdk.app_stack import ALIAS
from infra.cdk.config import STAGES, stage_config
from infra.cdk.functions import FUNCTIONS
from infra.cdk.observability import alarm_name
from tests.infra.conftest import CFN_LINT_ERROR, Synthesized


class NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only when a function lists policies by name; ours do not."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(params=STAGES)
def transformed(request: pytest.FixtureRequest, synthesized: dict[str, Synthesized],
                monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    stage = request.param
    return stage, transform(synthesized[stage].app, {}, NoManagedPolicies())["Resources"]


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {key: value for key, value in resources.items() if value["Type"] == kind}


def test_every_trigger_invokes_the_alias(transformed: tuple[str, dict[str, Any]]) -> None:
    _, resources = transformed
    aliases = {f"{f.logical_id}Alias{ALIAS}" for f in FUNCTIONS}
    assert aliases <= set(_of_type(resources, "AWS::Lambda::Alias"))
    for mapping in _of_type(resources, "AWS::Lambda::EventSourceMapping").values():
        assert mapping["Properties"]["FunctionName"]["Ref"] in aliases
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    for permission in _of_type(resources, "AWS::Lambda::Permission").values():
        assert permission["Properties"]["FunctionName"]["Ref"] in aliases
    [schedule] = _of_type(resources, "AWS::Events::Rule").values()
    assert schedule["Properties"]["Targets"][0]["Arn"]["Ref"] in aliases


def test_codedeploy_shifts_traffic_and_rolls_back_on_the_alarms(transformed: tuple[str, dict[str, Any]]) -> None:
    stage, resources = transformed
    groups = _of_type(resources, "AWS::CodeDeploy::DeploymentGroup")
    assert len(groups) == len(FUNCTIONS)
    for function in FUNCTIONS:
        group = groups[f"{function.logical_id}DeploymentGroup"]["Properties"]
        alarms = [alarm["Name"] for alarm in group["AlarmConfiguration"]["Alarms"]]
        assert group["AlarmConfiguration"]["Enabled"] is True
        assert alarm_name(stage, f"{function.name}-errors") in alarms
        assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
        config = group["DeploymentConfigName"]
        assert stage_config(stage).deployment_preference in str(config)


def test_the_usage_plan_waits_for_the_stage_sam_creates(transformed: tuple[str, dict[str, Any]]) -> None:
    stage, resources = transformed
    [plan] = _of_type(resources, "AWS::ApiGateway::UsagePlan").values()
    assert plan["DependsOn"] == [f"RestAPI{stage}Stage"]
    assert resources[f"RestAPI{stage}Stage"]["Type"] == "AWS::ApiGateway::Stage"
    assert resources[f"RestAPI{stage}Stage"]["Properties"]["TracingEnabled"] is True


def test_the_expanded_template_lints_without_errors(transformed: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    stage, resources = transformed
    path = tmp_path / f"switchboard-{stage}-app.expanded.json"
    path.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}))
    done = subprocess.run([sys.executable, "-m", "cfnlint", str(path)], capture_output=True, text=True, timeout=300,
                          check=False)
    assert not done.returncode & CFN_LINT_ERROR, done.stdout + done.stderr
