"""The service-status source: outages declared by operators, read per customer at routing time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from datalayer.service_status import OutageNotFoundError, ServiceStatusStore
from datalayer.tables import EXPIRES_AT
from datalayer.types import EVERYWHERE, CustomerContext, Outage, ServiceHealth
from tests.support import Aws, FakeClock

SPRINGFIELD = CustomerContext(customer_id="C-1", region="Springfield")


def active_ids(store: ServiceStatusStore, customer: CustomerContext | None) -> list[str]:
    return [outage.outage_id for outage in store.status_for(customer).active_outages]


def test_a_customer_sees_the_outages_of_their_region_and_the_nationwide_ones(service_status: ServiceStatusStore):
    service_status.declare(Outage(outage_id="OUT-HERE", region="Springfield", customers_affected=1200))
    service_status.declare(Outage(outage_id="OUT-THERE", region="Chicago"))
    service_status.declare(Outage(outage_id="OUT-ALL", region=EVERYWHERE, service="tv"))

    status = service_status.status_for(SPRINGFIELD)

    assert status.health is ServiceHealth.OUTAGE
    assert sorted(o.outage_id for o in status.active_outages) == ["OUT-ALL", "OUT-HERE"]
    assert active_ids(service_status, None) == ["OUT-ALL"]
    assert active_ids(service_status, CustomerContext(customer_id="C-2")) == ["OUT-ALL"]


def test_an_ended_outage_no_longer_counts_and_expires_later(
    aws: Aws, service_status: ServiceStatusStore, clock: FakeClock
):
    declared = service_status.declare(Outage(outage_id="OUT-1", region="Springfield"))
    assert declared.started_at is not None  # defaults to now
    assert active_ids(service_status, SPRINGFIELD) == ["OUT-1"]

    ended = service_status.end("Springfield", "OUT-1")

    assert ended.ended_at is not None and active_ids(service_status, SPRINGFIELD) == []
    assert service_status.status_for(SPRINGFIELD).health is ServiceHealth.HEALTHY
    item = aws.clients.dynamodb_resource.Table(aws.settings.status_table).get_item(
        Key={"region": "Springfield", "outage_id": "OUT-1"}
    )["Item"]
    assert int(item[EXPIRES_AT]) == int((ended.ended_at + timedelta(days=90)).timestamp())
    assert [o.outage_id for o in service_status.outages("Springfield")] == ["OUT-1"]  # history stays


def test_an_outage_scheduled_for_later_is_not_active_yet(service_status: ServiceStatusStore, clock: FakeClock):
    service_status.declare(
        Outage(outage_id="OUT-PLANNED", region="Springfield", started_at=clock.now + timedelta(hours=2))
    )
    assert active_ids(service_status, SPRINGFIELD) == []
    clock.advance(3 * 3600)
    assert active_ids(service_status, SPRINGFIELD) == ["OUT-PLANNED"]


def test_a_degraded_service_is_reported_as_degraded(service_status: ServiceStatusStore):
    service_status.declare(Outage(outage_id="OUT-SLOW", region="Springfield", impact=ServiceHealth.DEGRADED))
    assert service_status.status_for(SPRINGFIELD).health is ServiceHealth.DEGRADED


def test_declaring_again_updates_and_all_outages_lists_every_region(service_status: ServiceStatusStore):
    service_status.declare(Outage(outage_id="OUT-1", region="Springfield", customers_affected=10))
    service_status.declare(Outage(outage_id="OUT-1", region="Springfield", customers_affected=500))
    service_status.declare(Outage(outage_id="OUT-2", region="Chicago"))

    everything = service_status.all_outages()

    assert sorted((o.outage_id, o.region) for o in everything) == [("OUT-1", "Springfield"), ("OUT-2", "Chicago")]
    assert next(o for o in everything if o.outage_id == "OUT-1").customers_affected == 500


def test_ending_an_unknown_outage_or_before_it_started_is_refused(service_status: ServiceStatusStore, clock: FakeClock):
    with pytest.raises(OutageNotFoundError, match="OUT-NONE"):
        service_status.end("Springfield", "OUT-NONE")
    declared = service_status.declare(Outage(outage_id="OUT-1", region="Springfield"))
    assert declared.started_at is not None
    with pytest.raises(ValidationError, match="ended_at is before started_at"):
        service_status.end("Springfield", "OUT-1", declared.started_at - timedelta(minutes=1))
