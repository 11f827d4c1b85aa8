"""The provider circuit: opens after consecutive failures, lets one probe through, closes on success."""

from __future__ import annotations

from datalayer.circuit import CircuitState, ProviderCircuit
from tests.support import Aws, FakeClock


def test_opens_after_consecutive_failures_and_stays_open_for_its_time(circuit: ProviderCircuit, clock: FakeClock):
    assert circuit.allow() and circuit.state() is CircuitState.CLOSED
    assert circuit.record_failure() is CircuitState.CLOSED
    assert circuit.record_failure() is CircuitState.CLOSED
    assert circuit.record_failure() is CircuitState.OPEN

    assert circuit.state() is CircuitState.OPEN and not circuit.allow()
    clock.advance(50)
    assert not circuit.allow()


def test_a_success_resets_the_count(circuit: ProviderCircuit) -> None:
    circuit.record_failure()
    circuit.record_failure()
    circuit.record_success()
    assert circuit.record_failure() is CircuitState.CLOSED


def test_after_the_open_time_one_probe_decides(aws: Aws, circuit: ProviderCircuit, clock: FakeClock) -> None:
    for _ in range(3):
        circuit.record_failure()
    clock.advance(61)
    other_worker = ProviderCircuit(circuit._settings, dynamodb_resource=aws.clients.dynamodb_resource, clock=clock)

    assert circuit.state() is CircuitState.HALF_OPEN
    assert circuit.allow() is True  # the probe
    assert other_worker.allow() is False  # everyone else still finalises at once

    circuit.record_failure()  # the probe failed: open again
    assert circuit.state() is CircuitState.OPEN
    clock.advance(61)
    assert other_worker.allow() is True
    other_worker.record_success()
    assert circuit.state() is CircuitState.CLOSED and circuit.allow()


def test_circuits_are_per_provider(aws: Aws, circuit: ProviderCircuit, clock: FakeClock) -> None:
    for _ in range(3):
        circuit.record_failure()
    openai = ProviderCircuit(
        circuit._settings.derive(agent_provider="openai"), dynamodb_resource=aws.clients.dynamodb_resource, clock=clock
    )
    assert openai.allow() and not circuit.allow()
