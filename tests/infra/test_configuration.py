"""Configuration agrees with itself: Chalice's config with the worker limits, the stages with cdk.json, no keys."""

from __future__ import annotations

import json

import pytest

from infra.cdk.app_stack import iam_routes
from infra.cdk.config import ROOT, STAGES, StageConfigError, stage_config
from infra.cdk.dev import DevDeployError, prepare
from workers.limits import (
    AGENT_WORKER_MEMORY_MB,
    AGENT_WORKER_TIMEOUT_SECONDS,
    API_MEMORY_MB,
    WORKER_MEMORY_MB,
    WORKER_TIMEOUT_SECONDS,
)

CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())


def test_chalice_config_agrees_with_the_worker_limits() -> None:
    functions = CONFIG["lambda_functions"]
    assert CONFIG["app_name"] == "switchboard"
    assert functions["route_tickets"] == {"lambda_timeout": WORKER_TIMEOUT_SECONDS,
                                          "lambda_memory_size": WORKER_MEMORY_MB}
    assert functions["decide_unsure_tickets"] == {"lambda_timeout": AGENT_WORKER_TIMEOUT_SECONDS,
                                                  "lambda_memory_size": AGENT_WORKER_MEMORY_MB}
    assert CONFIG["lambda_memory_size"] == API_MEMORY_MB
    assert CONFIG["xray"] is True


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_is_configured_in_chalice_and_cdk_and_holds_no_key(stage: str) -> None:
    section = CONFIG["stages"][stage]
    assert section["environment_variables"] == {"SWITCHBOARD_STAGE": stage}
    assert "lambda_timeout" not in section, "a stage-wide timeout would override the workers'"
    assert "SWITCHBOARD_API_KEYS" not in json.dumps(CONFIG)
    config = stage_config(stage)
    assert config.api_rate_limit == 100
    assert 1 <= len(config.api_keys) <= 2, "one key, two during a rotation"
    assert config.reserved_concurrency["decide_unsure_tickets"] >= 10, "at least the event source's maximum"


def test_an_unknown_stage_is_refused() -> None:
    with pytest.raises(StageConfigError, match="unknown stage"):
        stage_config("qa")


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_only_dev_stages_deploy_with_chalice(stage: str) -> None:
    with pytest.raises(DevDeployError, match="through CDK only"):
        prepare(stage, {})


def test_routes_under_iam_authorization_become_the_on_call_policys_resources() -> None:
    body = {"paths": {
        "/tickets": {"post": {"security": [{"api_key": []}]}},
        "/admin/redrive/{queue}": {"post": {"security": [{"sigv4": []}]}},
        "/admin/outages": {"get": {"security": [{"sigv4": []}]}},
        "/health": {"get": {}},
    }}
    assert iam_routes(body) == [("GET", "/admin/outages"), ("POST", "/admin/redrive/*")]
