"""The function zip and the layer as synthesized: within Lambda's limits, and working together on their own.

The zip is the one ``chalice package`` built for the app stack (``chalice deploy`` builds the same from the same
project); the layer is the data stack's asset. Every handler is imported in a clean interpreter that sees only the
zip, the layer and what the Lambda runtime itself provides, and the routing worker loads its model from the layer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.cdk.chalice_project import MAX_ZIP_BYTES
from infra.cdk.functions import FUNCTIONS
from infra.cdk.layer import LAMBDA_PROVIDED, unzipped_size
from tests.infra.conftest import Synthesized

LAMBDA_UNZIPPED_LIMIT = 250 * 1000 * 1000

IMPORT_EVERY_HANDLER = """
import importlib, json, sys
template = json.load(open(sys.argv[1]))
for name, resource in template["Resources"].items():
    if resource["Type"] == "AWS::Serverless::Function":
        module, _, attribute = resource["Properties"]["Handler"].rpartition(".")
        getattr(importlib.import_module(module), attribute)
        print("imported", name)
import numpy, onnxruntime, tokenizers, pydantic_core  # the layer's native wheels are Lambda's platform's and load
from workers.routing import build_default_worker
build_default_worker()  # the router and its model from the layer's models/
from agent.router import Router
from datalayer.types import Ticket
texts = ["My bill doubled and the internet drops every hour", "cannot log in", "hello", "router reboots", "moving"]
for number, text in enumerate(texts):  # the unsure ones run the sentence encoder, which is in the layer too
    Router.load().route(Ticket(ticket_id=f"T-{number}", customer_id="C-1", description=text))
print("router loaded")
from workers.agent import build_default_worker as build_agent_worker
build_agent_worker()
print("agent worker built")
"""


@pytest.fixture(scope="module")
def dev(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["dev"]


def _function_zip(stage: Synthesized) -> Path:
    key = stage.app["Resources"]["RouteTickets"]["Properties"]["CodeUri"]["Key"]
    return stage.outdir / f"asset.{key}"


def _layer_dir(stage: Synthesized) -> Path:
    [layer] = [r for r in stage.data["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion"]
    return stage.outdir / f"asset.{layer['Properties']['Content']['S3Key'].removesuffix('.zip')}"


def test_the_zip_chalice_uploads_holds_our_code_only_and_fits_a_direct_upload(dev: Synthesized) -> None:
    archive = _function_zip(dev)
    assert archive.stat().st_size < MAX_ZIP_BYTES
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {"app.py", "agent", "chalice_app", "datalayer", "workers"} <= tops
    assert not any(name.startswith(("agent/models/", "infra/", "tests/")) for name in names)
    assert not any(name.startswith("ops/") for name in names), "operator commands are never shipped"
    assert not tops & {"numpy", "onnxruntime", "pydantic"}, "dependencies belong to the layer"


def test_function_and_layer_fit_lambdas_unzipped_limit(dev: Synthesized) -> None:
    layer = _layer_dir(dev)
    assert (layer / "models" / "telecom" / "model.json").is_file()
    assert (layer / "python" / "numpy").is_dir()
    with zipfile.ZipFile(_function_zip(dev)) as opened:
        function = sum(info.file_size for info in opened.infolist())
    assert function + unzipped_size(layer) < LAMBDA_UNZIPPED_LIMIT


def test_every_handler_imports_and_the_router_loads_from_zip_and_layer_alone(dev: Synthesized, tmp_path: Path) -> None:
    code = tmp_path / "task"
    with zipfile.ZipFile(_function_zip(dev)) as opened:
        opened.extractall(code)
    layer = _layer_dir(dev)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    site_packages = Path(next(p for p in sys.path if p.endswith("site-packages")))
    for name in LAMBDA_PROVIDED:
        source = site_packages / name if (site_packages / name).exists() else site_packages / f"{name}.py"
        (runtime / source.name).symlink_to(source)
    # -I -S: no site-packages and no PYTHON* variables; /var/task, /opt/python and the runtime, as in Lambda.
    path = [str(code), str(layer / "python"), str(runtime)]
    bootstrap = f"import sys; sys.path[:0] = {path!r}; exec({IMPORT_EVERY_HANDLER!r})"
    template = dev.outdir / "switchboard-dev-app.template.json"
    environment = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", "SWITCHBOARD_STAGE": "dev",
                   "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "SWITCHBOARD_MODEL_DIR": str(layer / "models" / "telecom")}
    done = subprocess.run([sys.executable, "-I", "-S", "-c", bootstrap, str(template)], cwd=code, env=environment,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("imported") == len(FUNCTIONS)
    assert "router loaded" in done.stdout and "agent worker built" in done.stdout
