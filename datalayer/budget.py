"""The agent tier's daily spending cap, shared by every worker through one DynamoDB item per UTC day.

A worker reserves the most one model call can cost (``reserve``) before calling, in one conditional update that
succeeds only while the reservation still fits under the day's caps, and settles the difference with the real
usage afterwards (``settle``). Because the check and the reservation are one atomic write, concurrent workers can
never together spend past the cap: at worst by what one call exceeds its own reservation. Amounts are kept in
micro-dollars so that the sums stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from datalayer import aws
from datalayer.clock import Clock, utc_now
from datalayer.dynamo import dynamodb_errors, is_condition_failure
from datalayer.settings import Settings
from datalayer.tables import EXPIRES_AT, control_table

MICROS = 1_000_000
KEEP_DAYS = 35
"""Budget items stay for a month of cost reports, then DynamoDB may delete them."""


@dataclass(frozen=True)
class Reservation:
    day: str
    usd_micros: int
    tokens: int


@dataclass(frozen=True)
class Spend:
    """What a day has used (settled calls plus reservations still open)."""

    usd: float
    tokens: int
    calls: int


class DailyBudget:
    def __init__(self, settings: Settings, dynamodb_resource: Any = None, clock: Clock = utc_now) -> None:
        self._settings = settings
        self._resource = dynamodb_resource
        self._clock = clock

    @cached_property
    def _table(self) -> Any:
        resource = self._resource if self._resource is not None else aws.dynamodb_resource(self._settings)
        return resource.Table(control_table(self._settings).name)

    def reserve(self, usd: float, tokens: int) -> Reservation | None:
        """Reserve one call's worst case; None when it would not fit in today's budget (dollars or tokens)."""
        usd_micros = round(usd * MICROS)
        limit_micros = round(self._settings.agent_daily_budget_usd * MICROS)
        limit_tokens = self._settings.agent_daily_budget_tokens
        if usd_micros > limit_micros or tokens > limit_tokens:
            return None
        today = self._clock()
        day = f"{today:%Y-%m-%d}"
        expires = int((today + timedelta(days=KEEP_DAYS)).timestamp())
        with dynamodb_errors("update_item"):
            try:
                self._table.update_item(
                    Key={"key": f"budget#{day}"},
                    UpdateExpression="ADD usd_micros :usd, tokens :tokens, calls :one SET #expires = :expires",
                    ConditionExpression="attribute_not_exists(usd_micros) OR "
                    "(usd_micros <= :usd_room AND tokens <= :token_room)",
                    ExpressionAttributeNames={"#expires": EXPIRES_AT},
                    ExpressionAttributeValues={
                        ":usd": usd_micros,
                        ":tokens": tokens,
                        ":one": 1,
                        ":expires": expires,
                        ":usd_room": limit_micros - usd_micros,
                        ":token_room": limit_tokens - tokens,
                    },
                )
            except ClientError as exc:
                if is_condition_failure(exc):
                    return None
                raise
        return Reservation(day, usd_micros, tokens)

    def settle(self, reservation: Reservation, usd: float, tokens: int) -> None:
        """Replace the reservation by what the call really used (zero when it failed before spending)."""
        with dynamodb_errors("update_item"):
            self._table.update_item(
                Key={"key": f"budget#{reservation.day}"},
                UpdateExpression="ADD usd_micros :usd, tokens :tokens",
                ExpressionAttributeValues={
                    ":usd": round(usd * MICROS) - reservation.usd_micros,
                    ":tokens": tokens - reservation.tokens,
                },
            )

    def spent(self, day: str | None = None) -> Spend:
        day = day or f"{self._clock():%Y-%m-%d}"
        with dynamodb_errors("get_item"):
            item = self._table.get_item(Key={"key": f"budget#{day}"}, ConsistentRead=True).get("Item") or {}
        return Spend(
            usd=int(item.get("usd_micros", 0)) / MICROS,
            tokens=int(item.get("tokens", 0)),
            calls=int(item.get("calls", 0)),
        )
