"""``chalice deploy --stage dev`` against an embedded AWS (a moto server reached through ``AWS_ENDPOINT_URL``).

The stage's data resources exist first, as the data stack would leave them: tables, bus, rule and queues from the
same definitions (``provision``), a key, the secret, the dependency layer, an API key, and a stack named like the
data stack whose outputs carry their ARNs. Then the documented steps run as a person runs them: ``prepare``,
``chalice deploy --stage dev`` in the project it wrote, ``finish``. Moto cannot run the functions (that needs
Docker), so this checks what was deployed: each function with its layer and environment, its own role, the SQS
event sources with partial batch responses, and the API with its key requirement and usage plan.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.cdk.config import api_key_output, data_stack_name, stage_config
from infra.cdk.dev import finish, prepare
from infra.cdk.functions import AGENT_WORKER, FUNCTIONS, ROUTING_WORKER, SYNC_WORKER, WORKERS
from infra.cdk.plane import QUEUE_ATTRIBUTES, SECRETS, Arn, DataPlane, named_resources, stage_settings
from infra.local import EmbeddedAws
from infra.resources import provision
from tests.infra.test_iam import wildcards
from workers.limits import BATCH_SIZE, SYNC_BATCH_SIZE

STAGE = "dev"
REGION = "us-east-1"
CHALICE = Path(sys.executable).with_name("chalice")


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    with EmbeddedAws(module="tests.infra.moto_server", watch_parent=False) as moto:
        yield moto.endpoint


@pytest.fixture(scope="module")
def aws_environment(moto_server: str) -> Iterator[dict[str, str]]:
    variables = {"AWS_ENDPOINT_URL": moto_server, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": REGION}
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "SWITCHBOARD_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        for name, value in variables.items():
            patch.setenv(name, value)
        yield variables


def _data_stack(session: boto3.session.Session) -> dict[str, str]:
    """What ``make deploy-data STAGE=dev`` leaves: the resources, and a stack whose outputs name them."""
    settings = stage_settings(STAGE).derive(region=REGION)
    provision(settings, session=session)
    sqs, dynamodb = session.client("sqs"), session.client("dynamodb")
    names = named_resources(STAGE)
    queues = {attribute: Arn(name, sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
        for attribute, name in names.queues.items()}
    layer_zip = io.BytesIO()
    with zipfile.ZipFile(layer_zip, "w") as archive:
        archive.writestr("python/placeholder.py", "")
    layer = session.client("lambda").publish_layer_version(
        LayerName=f"switchboard-{STAGE}-dependencies", Content={"ZipFile": layer_zip.getvalue()},
        CompatibleRuntimes=["python3.11"])
    key = session.client("kms").create_key(Description="data key")["KeyMetadata"]["Arn"]
    secrets = {secret: session.client("secretsmanager").create_secret(Name=f"{STAGE}-{secret}", KmsKeyId=key,
                                                                      SecretString="not-a-key")["ARN"]
               for secret in SECRETS}
    bus = session.client("events").describe_event_bus(Name=names.event_bus)["Arn"]
    plane = DataPlane(
        stage=STAGE, partition="aws", region=REGION, account="123456789012",
        tables={t: Arn(name, dynamodb.describe_table(TableName=name)["Table"]["TableArn"])
                for t, name in names.tables.items()},
        event_bus=Arn(names.event_bus, bus), queues=queues, key_arn=key, secrets=secrets,
        layer_arn=layer["LayerVersionArn"],
    )
    api_key = session.client("apigateway").create_api_key(name=f"switchboard-{STAGE}-ticketing", enabled=True)["id"]
    outputs = {**plane.outputs(), api_key_output(stage_config(STAGE).api_keys[0]): api_key}
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
    session.client("cloudformation").create_stack(StackName=data_stack_name(STAGE), TemplateBody=json.dumps(template))
    assert set(QUEUE_ATTRIBUTES) == set(queues)
    return outputs


@pytest.fixture(scope="module")
def deployed(aws_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    session = boto3.session.Session(region_name=REGION)
    outputs = _data_stack(session)
    root = tmp_path_factory.mktemp("chalice")
    stack_outputs = {o["OutputKey"]: o["OutputValue"] for o in session.client("cloudformation").describe_stacks(
        StackName=data_stack_name(STAGE))["Stacks"][0]["Outputs"]}
    assert stack_outputs == outputs
    project = prepare(STAGE, stack_outputs, root)
    done = subprocess.run([str(CHALICE), "deploy", "--stage", STAGE], cwd=project, capture_output=True, text=True,
                          env={**os.environ, **aws_environment}, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = finish(STAGE, session, stack_outputs, root)
    return {"session": session, "outputs": outputs, "project": project, "report": report, "output": done.stdout}


def test_the_zip_chalice_uploads_is_small(deployed: dict[str, Any]) -> None:
    [package] = (deployed["project"] / ".chalice" / "deployments").glob("*.zip")
    assert package.stat().st_size < 5 * 1024 * 1024, "our code only: dependencies and models are in the layer"


def test_every_function_has_the_layer_the_environment_and_its_own_role(deployed: dict[str, Any]) -> None:
    lambda_client = deployed["session"].client("lambda")
    roles = set()
    for function in FUNCTIONS:
        configuration = lambda_client.get_function_configuration(FunctionName=function.function_name(STAGE))
        assert [layer["Arn"] for layer in configuration["Layers"]] == [deployed["outputs"]["LayerArn"]]
        variables = configuration["Environment"]["Variables"]
        assert variables["SWITCHBOARD_ROUTING_QUEUE"] == f"switchboard-{STAGE}-routing"
        assert variables["SWITCHBOARD_AGENT_API_KEY_SECRET"] == deployed["outputs"]["SecretAgentApiKeyArn"]
        assert variables["SWITCHBOARD_MODEL_DIR"] == "/opt/models/telecom"
        assert "SWITCHBOARD_API_KEYS" not in variables
        assert configuration["TracingConfig"]["Mode"] == "Active"
        roles.add(configuration["Role"])
    assert len(roles) == len(FUNCTIONS)
    policy = json.loads((deployed["project"] / ".chalice" / f"policy-{STAGE}-{AGENT_WORKER.name}.json").read_text())
    assert any("bedrock:InvokeModel" in statement["Action"] for statement in policy["Statement"])


def test_sqs_event_sources_report_partial_batches(deployed: dict[str, Any]) -> None:
    mappings = deployed["session"].client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert len(mappings) == len(WORKERS)
    for worker in WORKERS:
        [mapping] = [m for m in mappings if m["FunctionArn"].endswith(f":function:{worker.function_name(STAGE)}")]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["EventSourceArn"] == deployed["outputs"][
            f"Queue{''.join(p.capitalize() for p in worker.needs.consumes.split('_'))}Arn"]
        if worker.max_concurrency:
            assert mapping["ScalingConfig"] == {"MaximumConcurrency": worker.max_concurrency}
        batch_sizes = {ROUTING_WORKER: BATCH_SIZE, AGENT_WORKER: 1, SYNC_WORKER: SYNC_BATCH_SIZE}
        assert mapping["BatchSize"] == batch_sizes[worker]


def test_the_api_requires_a_key_bound_to_the_usage_plan(deployed: dict[str, Any]) -> None:
    apigateway = deployed["session"].client("apigateway")
    [api] = [api for api in apigateway.get_rest_apis()["items"] if api["name"] == "switchboard"]
    methods = {(resource["path"], method): apigateway.get_method(restApiId=api["id"], resourceId=resource["id"],
                                                                 httpMethod=method)
               for resource in apigateway.get_resources(restApiId=api["id"])["items"]
               for method in resource.get("resourceMethods", {})}
    assert methods[("/tickets", "POST")]["apiKeyRequired"] is True
    assert methods[("/tickets/{ticket_id}", "GET")]["apiKeyRequired"] is True
    assert methods[("/health", "GET")]["apiKeyRequired"] is False
    plan = apigateway.get_usage_plan(usagePlanId=deployed["report"]["usage_plan"])
    assert plan["apiStages"] == [{"apiId": api["id"], "stage": STAGE}]
    assert plan["throttle"]["rateLimit"] == 100
    keys = apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    assert [key["id"] for key in keys] == [deployed["outputs"][api_key_output(stage_config(STAGE).api_keys[0])]]


def test_finish_is_idempotent(deployed: dict[str, Any]) -> None:
    again = finish(STAGE, deployed["session"], deployed["outputs"], deployed["project"].parent)
    assert again["usage_plan"] == deployed["report"]["usage_plan"]


def test_the_policy_files_chalice_deploys_have_no_wildcard_where_a_name_is_known(deployed: dict[str, Any]) -> None:
    files = sorted((deployed["project"] / ".chalice").glob(f"policy-{STAGE}-*.json"))
    assert len(files) == len(FUNCTIONS)
    for path in files:
        for statement in json.loads(path.read_text())["Statement"]:
            assert not wildcards(statement, "AWS::IAM::Role"), (path.name, statement)
