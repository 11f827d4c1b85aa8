"""The service-status source: outages per service and region, declared and ended by operators.

Every routing decision reads the outages active in the customer's region and the nationwide ones (two queries
on the table's partition key, ``datalayer.tables.status_table``); the routing brain raises priority for them
and says so. An outage keeps its row after it ends (incident history) until its TTL, ``retention_days`` later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from boto3.dynamodb.conditions import Key

from datalayer import aws
from datalayer.clock import Clock, utc_now
from datalayer.dynamo import dynamodb_errors, from_item, to_item
from datalayer.errors import StoreError
from datalayer.settings import Settings
from datalayer.tables import EXPIRES_AT, status_table
from datalayer.types import EVERYWHERE, CustomerContext, Outage, ServiceStatus


class OutageNotFoundError(StoreError):
    """No outage with this id in this region."""


class ServiceStatusStore:
    retention_days = 90

    def __init__(self, settings: Settings, dynamodb_resource: Any = None, clock: Clock = utc_now) -> None:
        self._settings = settings
        self._resource = dynamodb_resource
        self._clock = clock

    @cached_property
    def _table(self) -> Any:
        resource = self._resource if self._resource is not None else aws.dynamodb_resource(self._settings)
        return resource.Table(status_table(self._settings).name)

    # -- operators -------------------------------------------------------------------------------------------

    def declare(self, outage: Outage) -> Outage:
        """Record an outage (``started_at`` defaults to now); declaring the same id again updates it."""
        if outage.started_at is None:
            outage = outage.model_copy(update={"started_at": self._clock()})
        self._put(outage)
        return outage

    def end(self, region: str, outage_id: str, ended_at: datetime | None = None) -> Outage:
        """Mark an outage over (default: now). ``OutageNotFoundError`` if there is no such outage."""
        current = self._get(region, outage_id)
        if current is None:
            raise OutageNotFoundError(f"no outage {outage_id!r} in region {region!r}")
        ended = current.model_copy(update={"ended_at": ended_at or self._clock()})
        Outage.model_validate(ended.model_dump())  # the end may not precede the start
        self._put(ended)
        return ended

    def outages(self, region: str) -> list[Outage]:
        """Every recorded outage of ``region`` (ended ones too), oldest first."""
        return sorted(self._query(region), key=Outage.chronological_key)

    def all_outages(self) -> list[Outage]:
        """Every recorded outage of every region (a scan: for operators, never on the routing path)."""
        items: list[dict[str, Any]] = []
        scan: dict[str, Any] = {}
        while True:
            with dynamodb_errors("scan"):
                answer = self._table.scan(**scan)
            items.extend(answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                break
            scan["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return sorted(map(_outage, items), key=Outage.chronological_key)

    # -- routing ---------------------------------------------------------------------------------------------

    def status_for(self, customer: CustomerContext | None, now: datetime | None = None) -> ServiceStatus:
        """The outages active now where ``customer`` is served: nationwide ones, and their region's."""
        now = now or self._clock()
        regions = [EVERYWHERE]
        if customer is not None and customer.region and customer.region != EVERYWHERE:
            regions.append(customer.region)
        return ServiceStatus.of(o for region in regions for o in self._query(region) if o.active_at(now))

    # -- items -----------------------------------------------------------------------------------------------

    def _put(self, outage: Outage) -> None:
        item = to_item(outage)
        if outage.ended_at is not None:
            item[EXPIRES_AT] = int((outage.ended_at + timedelta(days=self.retention_days)).timestamp())
        with dynamodb_errors("put_item"):
            self._table.put_item(Item=item)

    def _get(self, region: str, outage_id: str) -> Outage | None:
        with dynamodb_errors("get_item"):
            item = self._table.get_item(Key={"region": region, "outage_id": outage_id}).get("Item")
        return _outage(item) if item else None

    def _query(self, region: str) -> list[Outage]:
        query: dict[str, Any] = {"KeyConditionExpression": Key("region").eq(region)}
        items: list[dict[str, Any]] = []
        while True:
            with dynamodb_errors("query"):
                answer = self._table.query(**query)
            items.extend(answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return [_outage(item) for item in items]
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _outage(item: dict[str, Any]) -> Outage:
    return Outage.model_validate({k: v for k, v in from_item(item).items() if k != EXPIRES_AT})

