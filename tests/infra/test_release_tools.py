"""The pipeline's gate (alarms quiet for a bake time) and smoke/load test, on moto and a fake API."""

from __future__ import annotations

import json
from typing import Any

import boto3
import httpx

from infra.cdk.gate import firing, watch
from infra.cdk.smoke import run


def _alarm(cloudwatch: Any, name: str, state: str) -> None:
    cloudwatch.put_metric_alarm(AlarmName=name, MetricName="Errors", Namespace="AWS/Lambda", Statistic="Sum",
                                Period=60, EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold")
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


def test_the_gate_sees_only_its_stages_alarms_in_alarm(session: boto3.session.Session) -> None:
    cloudwatch = session.client("cloudwatch", region_name="us-east-1")
    _alarm(cloudwatch, "switchboard-dev-route_tickets-errors", "OK")
    _alarm(cloudwatch, "switchboard-prod-api-5xx", "ALARM")
    assert firing(cloudwatch, "dev") == []
    _alarm(cloudwatch, "switchboard-dev-routing-dlq-not-empty", "ALARM")
    assert firing(cloudwatch, "dev") == ["switchboard-dev-routing-dlq-not-empty"]


def test_the_gate_waits_out_the_bake_time_and_stops_at_the_first_alarm(session: boto3.session.Session) -> None:
    cloudwatch = session.client("cloudwatch", region_name="us-east-1")
    now = [0.0]
    checks: list[float] = []

    def sleep(seconds: float) -> None:
        checks.append(now[0])
        now[0] += seconds
        if now[0] >= 120:
            _alarm(cloudwatch, "switchboard-staging-decision-p99", "ALARM")

    assert watch(cloudwatch, "staging", 1, every_s=30, clock=lambda: now[0], sleep=sleep) == []
    assert checks == [0, 30] and now[0] == 60, "checked every 30 s for the minute"
    found = watch(cloudwatch, "staging", 10, every_s=30, clock=lambda: now[0], sleep=sleep)
    assert found == ["switchboard-staging-decision-p99"]
    assert now[0] < 600


class FakeApi:
    """The API's contract as the smoke test uses it; ``lose`` tickets are accepted but never decided."""

    def __init__(self, health: int = 200, lose: frozenset[str] = frozenset()) -> None:
        self.health, self.lose, self.polls = health, lose, {}  # type: ignore[var-annotated]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["x-api-key"] == "k"
        if request.url.path == "/dev/health":
            return httpx.Response(self.health, json={"status": "ok"})
        if request.method == "POST":
            ticket_id = json.loads(request.content)["ticket_id"]
            self.polls[ticket_id] = 0
            return httpx.Response(202, json={"ticket_id": ticket_id, "status": "received"})
        ticket_id = request.url.path.rsplit("/", 1)[-1]
        self.polls[ticket_id] += 1
        decided = self.polls[ticket_id] > 1 and not any(ticket_id.endswith(f"-{n}") for n in self.lose)
        return httpx.Response(200, json={"ticket_id": ticket_id, "status": "routed" if decided else "received"})


def _client(api: FakeApi) -> httpx.Client:
    return httpx.Client(base_url="https://api.example/dev/", headers={"x-api-key": "k"},
                        transport=httpx.MockTransport(api))


def test_smoke_and_load_pass_when_every_ticket_is_decided() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    report = run(_client(FakeApi()), 5, 10.0, 60, clock=lambda: now[0], sleep=sleep)
    assert report.ok and report.decided == 5 and len(report.latencies_s) == 5
    assert "5/5 decided" in report.summary()


def test_smoke_fails_on_an_unhealthy_api_or_a_lost_ticket() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    assert not run(_client(FakeApi(health=503)), 1, 10.0, 60, clock=lambda: now[0], sleep=sleep).ok
    lost = run(_client(FakeApi(lose=frozenset({"2"}))), 3, 10.0, 30, clock=lambda: now[0], sleep=sleep)
    assert not lost.ok and lost.decided == 2 and "no decision in 30 s" in lost.failures[0]
