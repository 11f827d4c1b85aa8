"""What differs between the stages (dev, staging, prod), read from the CDK context in ``cdk.json``.

Everything that is the same in every stage (timeouts, memory, batch sizes, queue timing) lives in code
(``workers.limits``, ``infra.resources``); what an operator tunes per stage (throttling, concurrency, retention,
rollout speed, the model and its budget, who is paged) lives here, under the context key ``switchboard:stages``.
The stage to build comes from the context key ``stage`` (``cdk synth -c stage=prod``) or ``--stage``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CDK_JSON = ROOT / "cdk.json"
STAGES_KEY = "switchboard:stages"
STAGES = ("dev", "staging", "prod")

CHALICE_PROJECTS = ROOT / "build" / "chalice"
"""Where the generated Chalice projects go: ``cdk-<stage>/`` for the app stack, ``<stage>/`` for chalice deploy."""

AUDIT_LOG_RETENTION_DAYS = 90
"""API access logs (who called what, with which key) and the operators' audit trail (who did what to which
dead-letter queue): kept 90 days in every stage."""
DLQ_ARCHIVE_RETENTION_DAYS = 90
"""Dead letters a purge archived stay in the stage's bucket this long."""


class StageConfigError(Exception):
    """The context names an unknown stage or a stage's configuration is incomplete."""


@dataclass(frozen=True)
class StageConfig:
    name: str
    api_rate_limit: int
    """Requests per second the ticketing system's usage plan allows (steady state)."""
    api_burst_limit: int
    api_daily_quota: int
    api_keys: tuple[str, ...]
    """Names of the API keys valid now; during a rotation two are listed (old and new), then the old one goes."""
    reserved_concurrency: Mapping[str, int]
    """Per Chalice function name; a function not listed shares the account's unreserved pool (the API)."""
    log_retention_days: int
    deployment_preference: str
    """CodeDeploy's traffic shifting for every alias: ``Canary10Percent5Minutes`` = 10 %, then all."""
    agent_provider: str
    agent_model_id: str
    agent_model_regions: tuple[str, ...]
    """Regions a cross-region inference profile routes to: the foundation model is granted in each."""
    agent_daily_budget_usd: float
    alarm_emails: tuple[str, ...]
    ticketing_base_url: str | None = None
    """The ticketing system decisions are synced to (``https://<subdomain>.zendesk.com``); None: not synced."""
    ticketing_groups: Mapping[str, int] = field(default_factory=dict)
    """Team name → the ticketing system's group id."""

    @property
    def foundation_model_id(self) -> str:
        """``us.anthropic.claude-…`` (an inference profile) → ``anthropic.claude-…`` (the model it serves)."""
        prefix, _, rest = self.agent_model_id.partition(".")
        return rest if prefix in ("us", "eu", "apac", "global") else self.agent_model_id

    @property
    def uses_inference_profile(self) -> bool:
        return self.foundation_model_id != self.agent_model_id


def data_stack_name(stage: str) -> str:
    return f"switchboard-{stage}-data"


def app_stack_name(stage: str) -> str:
    return f"switchboard-{stage}-app"


def api_key_output(key_name: str) -> str:
    """The data stack output with API key ``key_name``'s id: ``ticketing-2026-12`` → ``Ticketing202612ApiKeyId``."""
    return "".join(part.capitalize() for part in key_name.replace("-", "_").split("_") if part) + "ApiKeyId"


def load_context(path: Path = CDK_JSON) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8"))["context"])


def stage_config(stage: str, context: Mapping[str, Any] | None = None) -> StageConfig:
    """The configuration of ``stage`` from ``context`` (default: ``cdk.json``'s)."""
    stages = (context if context is not None else load_context()).get(STAGES_KEY, {})
    if stage not in stages:
        raise StageConfigError(f"unknown stage {stage!r}; {STAGES_KEY} in cdk.json has {sorted(stages)}")
    raw = stages[stage]
    try:
        return StageConfig(
            name=stage,
            api_rate_limit=int(raw["apiRateLimit"]),
            api_burst_limit=int(raw["apiBurstLimit"]),
            api_daily_quota=int(raw["apiDailyQuota"]),
            api_keys=tuple(raw["apiKeys"]),
            reserved_concurrency={name: int(value) for name, value in raw["reservedConcurrency"].items()},
            log_retention_days=int(raw["logRetentionDays"]),
            deployment_preference=str(raw["deploymentPreference"]),
            agent_provider=str(raw["agentProvider"]),
            agent_model_id=str(raw["agentModelId"]),
            agent_model_regions=tuple(raw["agentModelRegions"]),
            agent_daily_budget_usd=float(raw["agentDailyBudgetUsd"]),
            alarm_emails=tuple(raw.get("alarmEmails", ())),
            ticketing_base_url=raw.get("ticketingBaseUrl"),
            ticketing_groups={team: int(group) for team, group in raw.get("ticketingGroups", {}).items()},
        )
    except KeyError as missing:
        raise StageConfigError(f"stage {stage!r} in cdk.json has no {missing}") from missing
