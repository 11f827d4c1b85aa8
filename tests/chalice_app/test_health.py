"""GET /health: no API key, 200 when every dependency answers, 503 naming the ones that do not."""

from __future__ import annotations

import json
from typing import Any

from chalice_app import deps
from tests.support import Aws


def test_healthy_without_an_api_key(client: Any, aws: Aws) -> None:
    deps.health.reset()  # built by deps from the settings, as in production
    response = client.http.get("/health")

    assert response.status_code == 200
    assert json.loads(response.body) == {
        "status": "ok",
        "checks": {"tickets_table": "ok", "event_bus": "ok", "routing_queue": "ok"},
    }


def test_missing_queue_and_bus_make_it_unavailable(client: Any, aws: Aws) -> None:
    sqs, events = aws.clients.sqs, aws.clients.events
    sqs.delete_queue(QueueUrl=aws.routing_queue_url)
    for rule in events.list_rules(EventBusName=aws.settings.event_bus)["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=aws.settings.event_bus)["Targets"]
        events.remove_targets(Rule=rule["Name"], EventBusName=aws.settings.event_bus, Ids=[t["Id"] for t in targets])
        events.delete_rule(Name=rule["Name"], EventBusName=aws.settings.event_bus)
    events.delete_event_bus(Name=aws.settings.event_bus)

    response = client.http.get("/health")

    assert response.status_code == 503
    answer = json.loads(response.body)
    assert answer["status"] == "unavailable"
    assert answer["checks"]["tickets_table"] == "ok"
    assert answer["checks"]["event_bus"].startswith("error: ")
    assert answer["checks"]["routing_queue"].startswith("error: ")
