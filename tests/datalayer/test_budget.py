"""The daily budget: reservations under the cap only, settled to real usage, safe under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from datalayer.budget import DailyBudget
from tests.support import Aws, FakeClock


def test_reservations_fit_under_the_cap_and_settle_to_what_was_used(budget: DailyBudget) -> None:
    first = budget.reserve(0.40, 10_000)
    second = budget.reserve(0.40, 10_000)
    assert first and second
    assert budget.reserve(0.40, 10_000) is None  # 1.20 would pass the 1.00 cap

    budget.settle(first, 0.01, 1_500)
    budget.settle(second, 0.02, 2_500)

    assert budget.spent().usd == 0.03 and budget.spent().tokens == 4_000 and budget.spent().calls == 2
    assert budget.reserve(0.40, 10_000) is not None  # room again once settled


def test_the_token_cap_counts_too(budget: DailyBudget) -> None:
    assert budget.reserve(0.001, 60_000) is not None
    assert budget.reserve(0.001, 60_000) is None


def test_a_call_dearer_than_the_whole_budget_is_refused_at_once(budget: DailyBudget) -> None:
    assert budget.reserve(2.0, 10) is None and budget.spent().calls == 0


def test_each_utc_day_has_its_own_budget(budget: DailyBudget, clock: FakeClock) -> None:
    assert budget.reserve(0.9, 10) is not None
    assert budget.reserve(0.9, 10) is None
    clock.advance(timedelta(days=1).total_seconds())
    assert budget.reserve(0.9, 10) is not None


def test_concurrent_workers_never_overspend(aws: Aws, clock: FakeClock) -> None:
    """Sixteen workers race for a budget that holds ten reservations: exactly ten get one.

    The check and the reservation are one conditional UpdateItem, which DynamoDB applies atomically (and the
    embedded moto too, see ``infra.embedded_aws``), so no interleaving lets an eleventh through.
    """
    settings = aws.settings.derive(agent_daily_budget_usd=1.0)
    workers = [DailyBudget(settings, dynamodb_resource=aws.clients.dynamodb_resource, clock=clock) for _ in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        granted = [r for r in pool.map(lambda b: b.reserve(0.1, 100), workers) if r is not None]

    assert len(granted) == 10
    assert workers[0].spent().usd <= settings.agent_daily_budget_usd
