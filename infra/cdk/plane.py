"""The data stack as the functions see it: names and ARNs, the environment built from them, and the stack outputs.

Two deployments read a stage's data stack: the CDK app stack (values are CDK tokens, resolved by CloudFormation)
and ``chalice deploy`` for a dev stage (values are the strings in the stack's outputs, read by ``infra.cdk.dev``).
Both build the functions' environment and IAM from the same ``DataPlane``, so neither is ever hand-edited.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields

from datalayer.settings import RESOURCES, Settings
from datalayer.tables import all_tables
from infra.cdk.config import StageConfig
from infra.resources import Stack, define

SECRETS = ("agent_api_key", "ticketing_credentials")
"""Secrets the data stack holds: the model provider's key, and the ticketing system's credentials (JSON: email,
api_token, webhook_signing_secret)."""
LAYER_MODELS_DIR = "/opt/models"
"""Where the layer's ``models/`` folder appears in Lambda (layers are extracted under /opt)."""
SHIPPED_MODEL = "telecom"
QUEUE_ATTRIBUTES = tuple(field.name for field in fields(Stack) if field.type == "Queue")
"""The ``infra.resources.Stack`` queues, by attribute (a queue added there is added here)."""


def stage_settings(stage: str) -> Settings:
    """The stage's settings from its name alone (never this process's environment): the resource names."""
    return Settings.from_environment({"SWITCHBOARD_STAGE": stage})


@dataclass(frozen=True)
class Arn:
    """A named resource: ``name`` is a plain string (fixed per stage), ``arn`` a token or a string."""

    name: str
    arn: str


@dataclass(frozen=True)
class DataPlane:
    stage: str
    partition: str
    region: str
    account: str
    tables: Mapping[str, Arn]
    """By ``datalayer.tables.Table.id``."""
    event_bus: Arn
    queues: Mapping[str, Arn]
    """By ``infra.resources.Stack`` attribute (``routing_queue``, ``routing_dlq``, ``events_dlq``, …)."""
    key_arn: str
    secrets: Mapping[str, str]
    """ARN by id (``SECRETS``)."""
    layer_arn: str

    # -- outputs ----------------------------------------------------------------------------------------------

    def outputs(self) -> dict[str, str]:
        """Output key → value: what ``from_outputs`` reads back (keys are CloudFormation-safe)."""
        values = {
            "Partition": self.partition,
            "Region": self.region,
            "Account": self.account,
            "EventBusArn": self.event_bus.arn,
            "KeyArn": self.key_arn,
            "LayerArn": self.layer_arn,
        }
        values.update({f"Table{_camel(table_id)}Arn": ref.arn for table_id, ref in self.tables.items()})
        values.update({f"Queue{_camel(attribute)}Arn": ref.arn for attribute, ref in self.queues.items()})
        values.update({f"Secret{_camel(secret)}Arn": arn for secret, arn in self.secrets.items()})
        return values

    @classmethod
    def from_outputs(cls, stage: str, outputs: Mapping[str, str]) -> DataPlane:
        """The plane of a deployed data stack; names come from the stage (the stack uses the same)."""
        names = named_resources(stage)
        try:
            return cls(
                stage=stage,
                partition=outputs["Partition"],
                region=outputs["Region"],
                account=outputs["Account"],
                tables={t: Arn(name, outputs[f"Table{_camel(t)}Arn"]) for t, name in names.tables.items()},
                event_bus=Arn(names.event_bus, outputs["EventBusArn"]),
                queues={q: Arn(name, outputs[f"Queue{_camel(q)}Arn"]) for q, name in names.queues.items()},
                key_arn=outputs["KeyArn"],
                secrets={s: outputs[f"Secret{_camel(s)}Arn"] for s in SECRETS},
                layer_arn=outputs["LayerArn"],
            )
        except KeyError as missing:
            raise KeyError(f"the {stage} data stack has no output {missing}: deploy it (make deploy-data)") from None


@dataclass(frozen=True)
class StageNames:
    tables: Mapping[str, str]
    event_bus: str
    queues: Mapping[str, str]


def named_resources(stage: str) -> StageNames:
    """The fixed names of the stage's tables, bus and queues (``infra.resources.define``)."""
    stack = define(stage_settings(stage))
    queues = {attribute: getattr(stack, attribute).name for attribute in QUEUE_ATTRIBUTES}
    return StageNames({table.id: table.name for table in stack.tables}, stack.event_bus, queues)




def _camel(identifier: str) -> str:
    return "".join(part.capitalize() for part in identifier.split("_"))


# -- the functions' environment ---------------------------------------------------------------------------------


def function_environment(plane: DataPlane, config: StageConfig) -> dict[str, str]:
    """Every variable the deployed functions read (``datalayer.settings``), the same for every function.

    Resource names are passed one by one although the stage implies them, so that the functions never derive a
    name the data stack does not have. ``SWITCHBOARD_API_AUTH=gateway`` tells the API that API Gateway checked the
    key (the local server has no gateway and keeps checking its development key).
    """
    settings = stage_settings(plane.stage)
    table_setting = {table.name: table.id for table in all_tables(settings)}
    environment = {"SWITCHBOARD_STAGE": plane.stage}
    for field in RESOURCES:
        name = getattr(settings, field)
        if name in table_setting:
            environment[f"SWITCHBOARD_{field.upper()}"] = plane.tables[table_setting[name]].name
        elif field == "ticketing_secret":
            environment[f"SWITCHBOARD_{field.upper()}"] = plane.secrets["ticketing_credentials"]
        elif name == plane.event_bus.name:
            environment[f"SWITCHBOARD_{field.upper()}"] = plane.event_bus.name
        else:
            environment[f"SWITCHBOARD_{field.upper()}"] = plane.queues[field].name
    environment.update(
        {
            "SWITCHBOARD_MODEL_DIR": f"{LAYER_MODELS_DIR}/{SHIPPED_MODEL}",
            "SWITCHBOARD_ROUTING_POLICY": "cascade",
            "SWITCHBOARD_AGENT_PROVIDER": config.agent_provider,
            "SWITCHBOARD_AGENT_MODEL_ID": config.agent_model_id,
            "SWITCHBOARD_AGENT_DAILY_BUDGET_USD": str(config.agent_daily_budget_usd),
            "SWITCHBOARD_AGENT_API_KEY_SECRET": plane.secrets["agent_api_key"],
            "SWITCHBOARD_API_AUTH": "gateway",
            "SWITCHBOARD_TICKETING_GROUPS": json.dumps(dict(config.ticketing_groups), sort_keys=True),
            "POWERTOOLS_METRICS_NAMESPACE": "Switchboard",
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
        }
    )
    if config.ticketing_base_url:
        environment["SWITCHBOARD_TICKETING_BASE_URL"] = config.ticketing_base_url
    return environment
