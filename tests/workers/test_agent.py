"""The agent worker's guarantees against the real stores (in-process moto), with faults injected into the agent.

Each row of the failure table in ``workers.agent``'s docstring has a test; so do one model call per ticket under
concurrent deliveries, and one TicketRouted per ticket.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import pytest

from agent.cascade import AgentDecisions
from agent.llm.answer import AgentAnswer, TokenUsage
from agent.llm.errors import (
    AgentOutputError,
    AgentProviderError,
    AgentThrottledError,
    AgentTimeoutError,
    FailureCause,
)
from agent.llm.verdict import verdict_model
from agent.taxonomy import load_taxonomy
from datalayer.budget import DailyBudget
from datalayer.circuit import ProviderCircuit
from datalayer.customers import CustomerStore
from datalayer.events import AgentRequest
from datalayer.records import TicketStatus
from datalayer.service_status import ServiceStatusStore
from datalayer.settings import Settings
from datalayer.tickets import TicketStore
from datalayer.types import AgentUsage, DecisionTier, FallbackCause, RoutingDecision, Ticket
from tests.factories import make_decision
from tests.support import Aws, FakeClock, ticket_payload
from tests.workers.fakes import FakePublisher, MetricRecorder, sqs_record
from workers.agent import AgentWorker, Outcome, batch_response
from workers.limits import AGENT_RETRY_DELAY_SECONDS, AGENT_WORKER_TIMEOUT_SECONDS, MAX_RECEIVE_COUNT

TAXONOMY = load_taxonomy()
Verdict = verdict_model(TAXONOMY)


def answer(team: str, *, needs_human_reason: str = "", second_team: str | None = None) -> AgentAnswer:
    """What the runner returns: a verdict valid under the taxonomy, with its tokens and cost."""
    verdict = Verdict(
        team=team,
        category=TAXONOMY.spec(team).category,
        second_team=second_team,
        needs_human=bool(needs_human_reason),
        needs_human_reason=needs_human_reason,
        reasoning="The customer asks for a refund of a double charge.",
    )
    return AgentAnswer(
        verdict,
        input_tokens=1_200,
        output_tokens=150,
        model_calls=1,
        model_id="test-model",
        latency_ms=850.0,
        cost_usd=0.00195,
    )


class ScriptedAgent:
    """Answers or raises as scripted, one step per call; the last step repeats."""

    def __init__(self, *steps: AgentAnswer | Exception) -> None:
        self.steps = list(steps) or [answer("Billing Support")]
        self.calls: list[str] = []
        self.entered = threading.Event()
        self.proceed: threading.Event | None = None

    def decide(self, context: Any) -> AgentAnswer:
        self.calls.append(context.ticket.ticket_id)
        self.entered.set()
        if self.proceed is not None:
            assert self.proceed.wait(10)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        return step


class Recorder(MetricRecorder):
    """Metrics, and what the worker asked of the queue and the clock."""

    def __init__(self) -> None:
        super().__init__()
        self.requeued: list[tuple[str, int]] = []
        self.sleeps: list[float] = []


@pytest.fixture
def agent_settings(aws: Aws) -> Settings:
    return aws.settings.derive(agent_provider="bedrock", agent_circuit_failures=2, agent_daily_budget_usd=5.0)


@dataclass
class Harness:
    worker: AgentWorker
    agent: ScriptedAgent | None
    store: TicketStore
    publisher: FakePublisher
    recorder: Recorder
    budget: DailyBudget

    def defer(self, ticket_id: str = "T-1", team: str = "Network Operations") -> RoutingDecision:
        """What the routing worker leaves behind: the ticket, awaiting the agent with its provisional decision."""
        self.store.create_if_absent(Ticket.model_validate(ticket_payload(ticket_id)))
        provisional = make_decision(ticket_id, team=team, category="Network Outage", confidence=0.55)
        provisional = provisional.model_copy(update={"deferred_reason": "confidence 0.55 is below 0.80"})
        assert self.store.record_provisional(ticket_id, provisional)
        return provisional

    def deliver(self, ticket_id: str = "T-1", receive_count: int = 1, message_id: str | None = None) -> Any:
        body = AgentRequest(
            ticket_id=ticket_id,
            deferred_reason="unsure",
            correlation_id=f"corr-{ticket_id}",
            received_at="2026-11-25T15:00:00.000000+00:00",
        ).model_dump_json()
        record = sqs_record(body, message_id=message_id, receive_count=receive_count)
        [result] = self.worker.process_batch([record])
        return result

    def final(self, ticket_id: str = "T-1") -> tuple[str, RoutingDecision]:
        record = self.store.get(ticket_id)
        assert record is not None and record.decision is not None
        return record.status, RoutingDecision.model_validate(record.decision)


def build(aws: Aws, settings: Settings, clock: FakeClock, agent: ScriptedAgent | None) -> Harness:
    resource = aws.clients.dynamodb_resource
    store = TicketStore(settings, dynamodb_resource=resource, clock=clock)
    recorder, publisher = Recorder(), FakePublisher()
    budget = DailyBudget(settings, dynamodb_resource=resource, clock=clock)
    worker = AgentWorker(
        agent,
        AgentDecisions(TAXONOMY),
        store,
        CustomerStore(settings, dynamodb_resource=resource),
        ServiceStatusStore(settings, dynamodb_resource=resource, clock=clock),
        publisher,
        budget,
        ProviderCircuit(settings, dynamodb_resource=resource, clock=clock),
        settings,
        requeue=lambda record, delay: recorder.requeued.append((record["messageId"], delay)),
        metrics=recorder,
        sleep=recorder.sleeps.append,
    )
    return Harness(worker, agent, store, publisher, recorder, budget)


@pytest.fixture
def harness(aws: Aws, agent_settings: Settings, clock: FakeClock) -> Harness:
    return build(aws, agent_settings, clock, ScriptedAgent())


def test_the_agent_decides_and_its_decision_is_final_and_announced_once(harness: Harness) -> None:
    harness.defer()

    result = harness.deliver()

    assert result.outcome is Outcome.DECIDED
    status, decision = harness.final()
    assert status == TicketStatus.ROUTED and decision.team == "Billing Support" and decision.tier is DecisionTier.AGENT
    assert decision.agent is not None and decision.agent.input_tokens == 1_200 and decision.agent.cost_usd == 0.00195
    assert decision.agent.model_id == "test-model" and decision.agent.fallback is None
    assert decision.deferred_reason == "confidence 0.55 is below 0.80"
    assert harness.publisher.events == [("T-1", "Billing Support", "routed")]
    assert harness.publisher.correlation_ids == ["corr-T-1"]  # the request's id, carried on to the event
    assert harness.budget.spent().usd == pytest.approx(0.00195) and harness.budget.spent().tokens == 1_350
    assert "AgentDecisions" in harness.recorder.names()
    pipeline = [(n, d) for n, _, d in harness.recorder.metrics if d.get("service") == "pipeline"]
    assert ("TicketsDecided", {"service": "pipeline", "tier": "agent"}) in pipeline
    assert ("ReceiptToFinalMs", {"service": "pipeline"}) in pipeline  # the request says when the ticket came in


def test_the_agent_asking_for_a_human_sends_its_decision_to_review(aws: Aws, agent_settings: Settings, clock) -> None:
    asks = ScriptedAgent(answer("Account Management", needs_human_reason="possible fraud"))
    harness = build(aws, agent_settings, clock, asks)
    harness.defer()

    assert harness.deliver().outcome is Outcome.DECIDED
    status, decision = harness.final()
    assert status == TicketStatus.NEEDS_REVIEW and decision.team == "Account Management"


def assert_fell_back(harness: Harness, cause: FallbackCause) -> RoutingDecision:
    status, decision = harness.final()
    assert status == TicketStatus.NEEDS_REVIEW
    assert decision.team == "Network Operations" and decision.tier is DecisionTier.LOCAL  # the fast decision stands
    assert decision.requires_manual_review and f"({cause.value}:" in decision.review_reasons[-1]
    assert decision.agent is not None and decision.agent.fallback is cause
    assert harness.publisher.events == [("T-1", "Network Operations", "needs_review")]
    assert ("AgentFallbacks", 1, {"cause": cause.value}) in harness.recorder.metrics
    return decision


def test_output_that_fails_validation_finalises_the_fast_decision(aws, agent_settings, clock) -> None:
    harness = build(
        aws,
        agent_settings,
        clock,
        ScriptedAgent(
            AgentOutputError(
                "no valid verdict in 4 calls", cause=FailureCause.TURN_LIMIT, usage=TokenUsage(3_000, 400, 4)
            )
        ),
    )
    harness.defer()

    assert harness.deliver().outcome is Outcome.FELL_BACK
    assert_fell_back(harness, FallbackCause.INVALID_OUTPUT)
    assert harness.agent is not None and len(harness.agent.calls) == 1  # capped inside the agent, not retried here
    assert harness.budget.spent().tokens == 3_400  # what the failed run spent is on the budget


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (AgentThrottledError("ThrottlingException", cause=FailureCause.THROTTLED), FallbackCause.THROTTLED),
        (AgentTimeoutError("read timeout", cause=FailureCause.READ_TIMEOUT), FallbackCause.TIMEOUT),
    ],
)
def test_throttling_and_timeouts_back_off_then_give_the_message_back(aws, agent_settings, clock, error, cause):
    harness = build(aws, agent_settings, clock, ScriptedAgent(error, error, error, answer("Billing Support")))
    harness.defer()

    first = harness.deliver(message_id="m-1")

    assert first.outcome is Outcome.RETRY_LATER and batch_response([first])["batchItemFailures"]
    assert harness.agent is not None and len(harness.agent.calls) == 3 and harness.recorder.sleeps == [1, 2]
    assert harness.recorder.requeued == [("m-1", AGENT_RETRY_DELAY_SECONDS)]
    assert harness.store.get("T-1").status == TicketStatus.AWAITING_AGENT  # type: ignore[union-attr]
    assert harness.budget.spent().usd == 0  # the reservation was returned

    second = harness.deliver(message_id="m-1", receive_count=2)  # the claim was released: no wait for the lease
    assert second.outcome is Outcome.DECIDED and harness.final()[1].team == "Billing Support"


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (AgentThrottledError("429", cause=FailureCause.THROTTLED), FallbackCause.THROTTLED),
        (AgentTimeoutError("timeout", cause=FailureCause.CONNECT_TIMEOUT), FallbackCause.TIMEOUT),
    ],
)
def test_on_its_last_receive_a_throttled_ticket_is_finalised(aws, agent_settings, clock, error, cause) -> None:
    harness = build(aws, agent_settings, clock, ScriptedAgent(error))
    harness.defer()

    assert harness.deliver(receive_count=MAX_RECEIVE_COUNT).outcome is Outcome.FELL_BACK
    assert_fell_back(harness, cause)
    assert harness.recorder.requeued == []


def test_persistent_provider_errors_open_the_circuit_for_every_worker(aws, agent_settings, clock) -> None:
    failing = ScriptedAgent(AgentProviderError("InternalServerException", cause=FailureCause.SERVER_ERROR))
    harness = build(aws, agent_settings, clock, failing)
    harness.defer()

    assert harness.deliver(message_id="m-1").outcome is Outcome.RETRY_LATER  # one error: back to the queue
    assert harness.deliver(message_id="m-1", receive_count=2).outcome is Outcome.FELL_BACK  # the circuit opened
    assert_fell_back(harness, FallbackCause.PROVIDER_ERROR)

    other_worker = build(aws, agent_settings, clock, ScriptedAgent())  # shares the circuit through the table
    other_worker.defer("T-2")
    assert other_worker.deliver("T-2").outcome is Outcome.FELL_BACK
    assert other_worker.final("T-2")[1].agent.fallback is FallbackCause.CIRCUIT_OPEN  # type: ignore[union-attr]
    assert other_worker.agent is not None and other_worker.agent.calls == []  # finalised at once


def test_a_spent_budget_finalises_at_once_and_says_the_cascade_runs_local_only(aws, agent_settings, clock) -> None:
    broke = agent_settings.derive(agent_daily_budget_usd=0.01)  # less than one call's worst case
    harness = build(aws, broke, clock, ScriptedAgent())
    harness.defer()

    assert harness.deliver().outcome is Outcome.FELL_BACK
    assert_fell_back(harness, FallbackCause.BUDGET_EXHAUSTED)
    assert harness.agent is not None and harness.agent.calls == []
    assert "CascadeLocalOnly" in harness.recorder.names()


def test_without_a_provider_the_cascade_runs_local_only(aws, agent_settings, clock) -> None:
    harness = build(aws, agent_settings.derive(agent_provider="none"), clock, None)
    harness.defer()

    assert harness.deliver().outcome is Outcome.FELL_BACK
    assert_fell_back(harness, FallbackCause.NO_PROVIDER)


def test_two_concurrent_deliveries_and_a_late_third_make_one_call_one_decision_one_event(harness: Harness) -> None:
    harness.defer()
    assert harness.agent is not None
    harness.agent.proceed = threading.Event()
    first: list[Any] = []
    a = threading.Thread(target=lambda: first.append(harness.deliver(message_id="m-a")))
    a.start()
    assert harness.agent.entered.wait(10)  # delivery A is asking the agent

    b = harness.deliver(message_id="m-b")  # delivery B arrives meanwhile
    harness.agent.proceed.set()
    a.join(10)
    late = harness.deliver(message_id="m-c", receive_count=2)

    assert (
        b.outcome is Outcome.RETRY_LATER and first[0].outcome is Outcome.DECIDED and late.outcome is Outcome.DUPLICATE
    )
    assert harness.agent.calls == ["T-1"]
    assert harness.publisher.events == [("T-1", "Billing Support", "routed")]
    assert harness.deliver(message_id="m-b", receive_count=2).outcome is Outcome.DUPLICATE  # B, when it comes back


def test_a_crash_between_the_final_write_and_the_event_is_repaired_once(harness: Harness, clock: FakeClock) -> None:
    harness.defer()
    harness.publisher.failures = 1  # EventBridge refuses the announcement once

    assert harness.deliver(message_id="m-1").outcome is Outcome.FAILED
    assert harness.store.get("T-1").status == TicketStatus.ROUTED  # type: ignore[union-attr]
    clock.advance(AGENT_WORKER_TIMEOUT_SECONDS + 1)
    assert harness.deliver(message_id="m-1", receive_count=2).outcome is Outcome.EVENT_REPAIRED
    assert harness.deliver(message_id="m-1", receive_count=3).outcome is Outcome.DUPLICATE
    assert harness.agent is not None and harness.agent.calls == ["T-1"]
    assert harness.publisher.events == [("T-1", "Billing Support", "routed")]


def test_a_poison_message_fails_and_on_its_last_receive_the_ticket_is_not_left_waiting(harness: Harness) -> None:
    harness.defer()
    poison = json.dumps({"ticket_id": "T-1", "deferred_reason": 42})
    first = harness.worker.process_batch([sqs_record(poison)])[0]
    assert first.outcome is Outcome.FAILED and harness.store.get("T-1").status == TicketStatus.AWAITING_AGENT  # type: ignore[union-attr]

    last = harness.worker.process_batch([sqs_record(poison, receive_count=MAX_RECEIVE_COUNT)])[0]

    assert last.outcome is Outcome.FAILED
    status, decision = harness.final()
    assert status == TicketStatus.NEEDS_REVIEW and decision.agent is not None
    assert decision.agent.fallback is FallbackCause.WORKER_ERROR


def test_a_request_for_a_ticket_not_yet_stored_is_retried(harness: Harness) -> None:
    assert harness.deliver("T-UNKNOWN").outcome is Outcome.FAILED


def test_the_usage_type_round_trips() -> None:
    usage = AgentUsage(provider="openai", model_id="m", fallback=FallbackCause.TIMEOUT)
    assert AgentUsage.model_validate_json(usage.model_dump_json()) == usage


def test_in_aws_the_agent_worker_reads_the_provider_key_from_secrets_manager(aws: Aws, agent_settings: Settings):
    from datalayer.secrets import SecretReader
    from workers.agent import build_default_worker

    SecretReader(aws.settings).put("agent-key", {"api_key": "sk-from-secrets-manager"})
    settings = agent_settings.derive(
        agent_provider="openai", agent_base_url="http://127.0.0.1:9/v1", agent_api_key_secret="agent-key"
    )

    worker = build_default_worker(settings)

    assert worker.agent is not None
    assert worker.agent.model.client_args["api_key"] == "sk-from-secrets-manager"  # type: ignore[attr-defined]
