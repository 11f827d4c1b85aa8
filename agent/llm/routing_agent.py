"""The runner: one strands ``Agent`` per ticket decides team and category, or one ``AgentError`` says why not.

``RoutingAgent(model, tools, taxonomy, settings).decide(context)`` builds a fresh ``Agent`` for every ticket (a
couple of milliseconds), so no message, tool result or state of one ticket can reach the next, and a worker may
decide tickets on several threads with one ``RoutingAgent``. The agent is configured to do nothing behind our
back:

* structured output through ``structured_output_model=`` (strands offers the taxonomy's verdict model as a tool;
  an answer that fails validation goes back to the model as that tool's error and is answered again);
* ``limits=`` caps the turns (``agent_max_turns``, every model call: tool round trips and answers to invalid output
  alike) and the tokens (``agent_max_total_tokens``), because strands does not cap retries of invalid output;
* ``retry_strategy=None`` (strands would retry throttling six times, sleeping up to four minutes) and a provider
  client with no retries of its own: the worker retries, with its own policy;
* ``NullConversationManager``: a context overflow is an error, not a silent trimming and retry;
* ``callback_handler=None``: strands' default handler prints the model's text to stdout, i.e. to the logs.

Every failure of a run raises one of ``agent.llm.errors`` with what the run spent so far; nothing is retried or
swallowed here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from strands import Agent
from strands.agent.conversation_manager import NullConversationManager
from strands.hooks import AfterModelCallEvent
from strands.models import Model
from strands.types.agent import Limits
from strands.types.exceptions import (
    ContextWindowOverflowException,
    EventLoopException,
    MaxTokensReachedException,
    ModelThrottledException,
    StructuredOutputException,
)
from strands.types.tools import AgentTool

from agent.llm.answer import AgentAnswer, TokenUsage
from agent.llm.context import AgentContext
from agent.llm.errors import (
    AgentError,
    AgentOutputError,
    AgentProviderError,
    AgentThrottledError,
    FailureCause,
)
from agent.llm.logs import model_traffic, quiet_model_libraries
from agent.llm.masking import Masker
from agent.llm.pricing import cost_usd
from agent.llm.prompt import first_message, system_prompt
from agent.llm.providers import provider_error
from agent.llm.tools import TICKET_SCOPE, TicketScope
from agent.llm.verdict import VERDICT_TOOL_NAME, Verdict, verdict_model
from agent.taxonomy import Taxonomy
from datalayer.settings import Settings

_LIMIT_CAUSES = {
    "limit_turns": FailureCause.TURN_LIMIT,
    "limit_total_tokens": FailureCause.TOKEN_LIMIT,
    "limit_output_tokens": FailureCause.TOKEN_LIMIT,
}


class RoutingAgent:
    """Decides one ticket at a time with ``model`` and ``tools`` (see ``agent.llm.tools.RoutingTools``)."""

    def __init__(self, model: Model, tools: Sequence[AgentTool], taxonomy: Taxonomy, settings: Settings) -> None:
        self.model = model
        self.tools = list(tools)
        self.taxonomy = taxonomy
        self.settings = settings
        self.verdict_model = verdict_model(taxonomy)
        self.system_prompt = system_prompt(taxonomy)
        self.limits = Limits(turns=settings.agent_max_turns, total_tokens=settings.agent_max_total_tokens)
        quiet_model_libraries()

    @property
    def model_id(self) -> str:
        return str(self.model.get_config().get("model_id", ""))

    def decide(self, context: AgentContext) -> AgentAnswer:
        """The verdict for ``context``'s ticket; raises ``AgentOutputError``, ``AgentThrottledError``,
        ``AgentTimeoutError`` or ``AgentProviderError`` (see ``agent.llm.errors``)."""
        masker = Masker(enabled=self.settings.agent_mask_pii)
        prompt = first_message(context, masker)
        calls = _ModelCalls()
        agent = self._fresh_agent(calls)
        start = time.perf_counter()
        try:
            with model_traffic():
                result = agent(
                    prompt, invocation_state={TICKET_SCOPE: TicketScope(context, masker)}, limits=self.limits
                )
        except Exception as error:
            failure = _failure(error)
            failure.usage = _usage(agent, calls.count)
            raise failure from error
        latency_ms = (time.perf_counter() - start) * 1000
        usage = _usage(agent, calls.count)
        verdict = result.structured_output
        if not isinstance(verdict, Verdict):
            raise AgentOutputError(
                f"no valid verdict after {usage.model_calls} model calls (stop reason {result.stop_reason})",
                cause=_LIMIT_CAUSES.get(result.stop_reason, FailureCause.INVALID_OUTPUT),
                usage=usage,
            )
        tools = result.metrics.tool_metrics
        return AgentAnswer(
            verdict=verdict,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            model_calls=usage.model_calls,
            model_id=self.model_id,
            latency_ms=latency_ms,
            cost_usd=cost_usd(usage.input_tokens, usage.output_tokens, self.settings),
            tool_calls={name: metrics.call_count for name, metrics in tools.items() if name != VERDICT_TOOL_NAME},
        )

    def _fresh_agent(self, calls: _ModelCalls) -> Agent:
        """A new strands agent for one ticket, configured to do nothing behind our back (see the module docstring)."""
        return Agent(
            model=self.model,
            tools=self.tools,
            system_prompt=self.system_prompt,
            structured_output_model=self.verdict_model,
            callback_handler=None,
            conversation_manager=NullConversationManager(),
            retry_strategy=None,
            hooks=[calls.after_model_call],
            name="switchboard-routing",
        )


class _ModelCalls:
    """Counts the model calls of one run, failed ones included (a hook on strands' AfterModelCallEvent)."""

    def __init__(self) -> None:
        self.count = 0

    def after_model_call(self, event: AfterModelCallEvent) -> None:
        self.count += 1


def _usage(agent: Agent, model_calls: int) -> TokenUsage:
    usage = agent.event_loop_metrics.accumulated_usage  # a fresh agent: this ticket's tokens only
    return TokenUsage(
        input_tokens=int(usage.get("inputTokens", 0)),
        output_tokens=int(usage.get("outputTokens", 0)),
        model_calls=model_calls,
    )


def _failure(error: BaseException) -> AgentError:
    """The agent error ``error`` means: strands' own exceptions first, then the provider's, along the chain."""
    for link in _chain(error):
        if isinstance(link, AgentError):
            return link
        if isinstance(link, ModelThrottledException):
            return AgentThrottledError(f"throttled: {type(link.__cause__ or link).__name__}", cause=_throttled(link))
        if isinstance(link, MaxTokensReachedException):
            return AgentOutputError("an answer was cut off at agent_max_tokens", cause=FailureCause.TRUNCATED)
        if isinstance(link, ContextWindowOverflowException):
            return AgentOutputError("the ticket does not fit the model's context", cause=FailureCause.CONTEXT_OVERFLOW)
        if isinstance(link, StructuredOutputException):
            return AgentOutputError("the model gave no valid verdict", cause=FailureCause.INVALID_OUTPUT)
        translated = provider_error(link)
        if translated is not None:
            return translated
    return AgentProviderError(f"unexpected {type(error).__name__} while deciding", cause=FailureCause.UNEXPECTED)


def _throttled(error: ModelThrottledException) -> FailureCause:
    """Throttling as strands reports it; the provider's own error (chained) may say it is a quota."""
    translated = provider_error(error.__cause__) if error.__cause__ is not None else None
    return translated.cause if isinstance(translated, AgentThrottledError) else FailureCause.THROTTLED


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the exceptions it was raised from (strands wraps some in ``EventLoopException``)."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        wrapped = link.original_exception if isinstance(link, EventLoopException) else None
        link = wrapped or link.__cause__ or link.__context__
