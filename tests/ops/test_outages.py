"""``python -m ops outage``: what an operator types, and what routing then sees."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from datalayer.service_status import ServiceStatusStore
from datalayer.types import CustomerContext
from ops.cli import app
from tests.support import Aws

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["outage", *args])
    return result.exit_code, result.output


def test_declare_list_and_end_an_outage(aws: Aws) -> None:
    status = ServiceStatusStore(aws.settings)
    la = CustomerContext(customer_id="C-1", region="Los Angeles")

    code, output = run(
        "declare", "OUT-42", "--region", "Los Angeles", "--customers", "1200", "--description", "fiber cut"
    )
    assert code == 0 and "declared OUT-42: outage of internet in Los Angeles" in output
    assert [o.outage_id for o in status.status_for(la).active_outages] == ["OUT-42"]

    code, output = run("list", "--json")
    [listed] = json.loads(output)
    assert code == 0 and listed["outage_id"] == "OUT-42" and listed["customers_affected"] == 1200
    assert listed["ended_at"] is None

    code, output = run("end", "OUT-42", "--region", "Los Angeles")
    assert code == 0 and "ended OUT-42 in Los Angeles" in output
    assert status.status_for(la).active_outages == []
    code, output = run("list", "--region", "Los Angeles")
    assert code == 0 and "OUT-42" in output and "active" not in output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("declare", "bad id!"), 2, "outage_id"),
        (("declare", "OUT-1", "--impact", "healthy"), 2, "impact is outage or degraded"),
        (("end", "OUT-NONE", "--region", "Chicago"), 1, "no outage 'OUT-NONE' in region 'Chicago'"),
    ],
)
def test_mistakes_get_one_line_and_a_status(aws: Aws, args: tuple[str, ...], code: int, message: str) -> None:
    exit_code, output = run(*args)
    assert exit_code == code and message in output and "Traceback" not in output


def test_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ops", "outage", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and "declare" in done.stdout and "end" in done.stdout
