"""``python -m infra.cdk.smoke --stage STAGE [--count N --rate R]``: tickets through a deployed stage, end to end.

The pipeline's smoke test (one ticket) and load test (``--count 300 --rate 10``): ``GET /health`` must answer 200,
then each ticket is submitted with the ticketing system's API key and polled until it has a final decision. It fails
when a ticket is refused, lost or undecided within ``--timeout``, and prints receipt-to-decision percentiles.
The API's URL and key come from the stage's stacks (app stack output ``ApiUrl``; the newest API key of the data
stack, whose value API Gateway keeps); ``--url``/``--api-key`` override them.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx

from infra.cdk.config import api_key_output, app_stack_name, data_stack_name, stage_config

PENDING = frozenset({"received", "awaiting_agent"})
TICKET = {"customer_id": "CUST-SMOKE", "channel": "web", "subject": "Internet down",
          "description": "Smoke test: no internet since this morning, the modem light is red."}


@dataclass
class Report:
    submitted: int = 0
    decided: int = 0
    failures: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and self.decided == self.submitted

    def summary(self) -> str:
        if len(self.latencies_s) >= 2:
            cuts = statistics.quantiles(self.latencies_s, n=100)
            timing = f", submit to decision p50 {cuts[49]:.2f} s, p99 {cuts[98]:.2f} s"
        else:
            timing = ""
        return f"{self.decided}/{self.submitted} decided{timing}; failures: {self.failures or 'none'}"


def run(client: httpx.Client, count: int, rate: float, timeout_s: float,
        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Report:
    report = Report()
    health = client.get("health")
    if health.status_code != 200:
        report.failures.append(f"/health answered {health.status_code}: {health.text[:200]}")
        return report
    run_id = uuid.uuid4().hex[:8]
    submitted_at: dict[str, float] = {}
    for number in range(count):
        ticket_id = f"SMOKE-{run_id}-{number}"
        answer = client.post("tickets", json={"ticket_id": ticket_id, **TICKET})
        report.submitted += 1
        if answer.status_code != 202:
            report.failures.append(f"{ticket_id}: POST answered {answer.status_code}")
        else:
            submitted_at[ticket_id] = clock()
        sleep(1 / rate)
    deadline = clock() + timeout_s
    while submitted_at and clock() < deadline:
        for ticket_id in sorted(submitted_at):
            view = client.get(f"tickets/{ticket_id}")
            if view.status_code == 200 and view.json()["status"] not in PENDING:
                report.latencies_s.append(clock() - submitted_at.pop(ticket_id))
                report.decided += 1
        if submitted_at:
            sleep(1.0)
    report.failures += [f"{ticket_id}: no decision in {timeout_s:g} s" for ticket_id in sorted(submitted_at)]
    return report


def stage_endpoint(session: boto3.session.Session, stage: str) -> tuple[str, str]:
    """The stage's API URL and the value of its newest API key."""
    cloudformation = session.client("cloudformation")

    def outputs(stack: str) -> dict[str, str]:
        [found] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}

    key_id = outputs(data_stack_name(stage))[api_key_output(stage_config(stage).api_keys[-1])]
    value = session.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"]
    return outputs(app_stack_name(stage))["ApiUrl"], str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--count", type=int, default=1, help="tickets (default 1: a smoke test)")
    parser.add_argument("--rate", type=float, default=5.0, help="tickets per second")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the last decision")
    parser.add_argument("--url", help="the API's base URL (default: the app stack's ApiUrl output)")
    parser.add_argument("--api-key", help="default: the data stack's newest API key")
    args = parser.parse_args(argv)
    url, key = (args.url, args.api_key) if args.url and args.api_key else stage_endpoint(boto3.session.Session(),
                                                                                          args.stage)
    headers: dict[str, Any] = {"x-api-key": key}
    with httpx.Client(base_url=url.rstrip("/") + "/", headers=headers, timeout=10) as client:
        report = run(client, args.count, args.rate, args.timeout)
    print(f"{args.stage}: {report.summary()}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
