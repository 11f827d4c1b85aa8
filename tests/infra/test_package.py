"""The deployment package works on its own: every handler imports in a clean interpreter from the zip alone.

Slow (``chalice package`` downloads the Lambda wheels: about 15 s with a warm pip cache, 70 s cold), so it
runs only with SWITCHBOARD_SLOW_TESTS=1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.package import MAX_UNZIPPED_BYTES, package

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("SWITCHBOARD_SLOW_TESTS"), reason="set SWITCHBOARD_SLOW_TESTS=1"),
]

LAMBDA_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")
"""What the python3.11 Lambda runtime has without the zip shipping it."""

IMPORT_EVERY_HANDLER = """
import importlib, json, sys
template = json.load(open(sys.argv[1]))
for name, resource in template["Resources"].items():
    if resource["Type"] == "AWS::Serverless::Function":
        module, _, attribute = resource["Properties"]["Handler"].rpartition(".")
        getattr(importlib.import_module(module), attribute)
        print("imported", name, resource["Properties"]["Handler"])
import numpy, onnxruntime, tokenizers, pydantic_core  # the native wheels are the Lambda platform's and load
from workers.routing import build_default_worker
build_default_worker()  # loads the router and its model artifact from the zip
print("router loaded")
from workers.agent import build_default_worker as build_agent_worker
assert build_agent_worker().agent is not None  # provider bedrock (env): strands' Bedrock model from the zip
print("agent loaded")
from datalayer.settings import get_settings
from workers.sync import build_default_worker as build_sync_worker
settings = get_settings().derive(ticketing_base_url="https://acme.zendesk.com")
assert type(build_sync_worker(settings).system).__name__ == "ZendeskTicketing"  # httpx from the zip
print("ticketing adapter loaded")
"""


def test_zip_imports_every_handler_in_a_clean_interpreter(tmp_path: Path) -> None:
    template_path = package(tmp_path / "out", "dev")
    template = json.loads(template_path.read_text())
    worker = template["Resources"]["RouteTickets"]["Properties"]["Events"]["RouteTicketsSqsEventSource"]
    assert worker["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    code = tmp_path / "lambda"
    with zipfile.ZipFile(template_path.with_name("deployment.zip")) as archive:
        archive.extractall(code)
    assert (code / "agent" / "models").is_dir()
    assert (code / "datalayer" / "tables.py").is_file()
    assert not any((code / name).exists() for name in ("sympy", "huggingface_hub", "hf_xet", "mpmath", "isympy.py"))
    unzipped = sum(path.stat().st_size for path in code.rglob("*") if path.is_file())
    assert unzipped <= MAX_UNZIPPED_BYTES
    assert not (code / "workers" / "redrive.py").exists() and not (code / "infra").exists()

    runtime = tmp_path / "runtime"
    runtime.mkdir()
    site_packages = Path(next(p for p in sys.path if p.endswith("site-packages")))
    for name in LAMBDA_PROVIDED:
        (runtime / name).symlink_to(site_packages / name)

    # -I -S: no site-packages, no PYTHON* variables; only the zip's contents and what Lambda itself provides.
    bootstrap = f"import sys; sys.path[:0] = [{str(code)!r}, {str(runtime)!r}]; exec({IMPORT_EVERY_HANDLER!r})"
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", "SWITCHBOARD_STAGE": "dev",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "SWITCHBOARD_AGENT_PROVIDER": "bedrock"}
    done = subprocess.run([sys.executable, "-I", "-S", "-c", bootstrap, str(template_path)], cwd=code, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "router loaded" in done.stdout and "agent loaded" in done.stdout
    assert "ticketing adapter loaded" in done.stdout
