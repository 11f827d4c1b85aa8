"""The agent's seven tools: thin strands ``@tool`` wrappers over the functions and stores the fast path uses.

The model gets the same answers a worker would compute: the fast router's classifier, the entity extractor, the
priority rules, the taxonomy, and the customers, service-status and tickets stores of the data layer. Nothing is
reimplemented here, and nothing is global: ``RoutingTools`` takes its collaborators as constructor arguments
(Protocols, so tests and other stores fit) and builds the tools once per process.

Team and category parameters are Literals generated from the taxonomy, so the tool specs the model sees carry
the taxonomy's names as enums and strands refuses any other name before a tool runs. The tools that need the
ticket at hand (priority, history) and the ticket's ``Masker`` read them from strands' per-invocation state
(``invocation_state[TICKET_SCOPE]``, set by ``RoutingAgent.decide``), so one set of tools serves every ticket
and nothing leaks from one ticket to the next.

This module does not use ``from __future__ import annotations``: strands reads the tools' annotations when they
are decorated, and the Literals exist only at run time.
"""

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from strands import tool
from strands.types.tools import AgentTool, ToolContext

from agent.classification import Classification
from agent.entities import extract_entities as extract
from agent.exceptions import TaxonomyError
from agent.llm.context import AgentContext
from agent.llm.masking import Masker
from agent.priority import assess_priority
from agent.taxonomy import Taxonomy
from datalayer.types import AccountType, CustomerContext, PastTicket, ServiceStatus

TICKET_SCOPE = "switchboard_ticket"
"""The ``invocation_state`` key under which ``RoutingAgent.decide`` hands the tools the ticket at hand."""


@dataclass(frozen=True)
class TicketScope:
    """What the tools know about the ticket being decided: its context and its masker."""

    context: AgentContext
    masker: Masker


class Classifier(Protocol):
    """The part of the fast router's classifier the ``classify_issue`` tool uses."""

    taxonomy: Taxonomy

    def classify(self, texts: list[str]) -> list[Classification]: ...


class Customers(Protocol):
    """The part of ``datalayer.customers.CustomerStore`` the tools use."""

    def get(self, customer_id: str) -> CustomerContext | None: ...


class ServiceStatusSource(Protocol):
    """The part of ``datalayer.service_status.ServiceStatusStore`` the tools use."""

    def status_for(self, customer: CustomerContext | None) -> ServiceStatus: ...


class TicketHistory(Protocol):
    """The part of ``datalayer.tickets.TicketStore`` the tools use."""

    def history(self, customer_id: str, limit: int, *, exclude: str | None = None) -> list[PastTicket]: ...


class RoutingTools:
    """Builds the seven tools over the given collaborators; ``tools`` is what ``RoutingAgent`` takes."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        classifier: Classifier,
        customers: Customers,
        service_status: ServiceStatusSource,
        tickets: TicketHistory,
        *,
        history_limit: int,
    ) -> None:
        if classifier.taxonomy.team_names != taxonomy.team_names:
            raise TaxonomyError(
                f"the classifier was trained under taxonomy {classifier.taxonomy.name!r} with other teams "
                f"({classifier.taxonomy.team_names}) than {taxonomy.name!r} ({taxonomy.team_names})"
            )
        self.taxonomy = taxonomy
        self._classifier = classifier
        self._customers = customers
        self._service_status = service_status
        self._tickets = tickets
        self._history_limit = history_limit
        self.tools: list[AgentTool] = self._build()

    def _build(self) -> list[AgentTool]:
        taxonomy = self.taxonomy
        team_name: Any = Literal[tuple(taxonomy.team_names)]
        team_or_category: Any = Literal[tuple([*taxonomy.team_names, *taxonomy.team_of])]

        @tool
        def classify_issue(
            text: Annotated[str, "The text to classify, such as the ticket's subject and description."],
        ) -> dict[str, Any]:
            """The fast router's calibrated probability of each team for a text, best first; out_of_scope is true
            when the text gives it no evidence at all."""
            return _classification(self._classifier.classify([text])[0], taxonomy)

        @tool(context=True)
        def extract_entities(text: Annotated[str, "The text to read."], tool_context: ToolContext) -> dict[str, Any]:
            """The identifiers in a text: account numbers, service IDs, error codes, phone numbers, e-mail and street
            addresses, money amounts and URLs (personal data comes back as placeholders)."""
            return _scope(tool_context).masker.entities(extract(text)).model_dump(mode="json")

        @tool
        def check_vip_status(
            customer_id: Annotated[str, "The customer id given in the first message."],
        ) -> dict[str, Any]:
            """The customer's record: VIP, account type (an enterprise account has an SLA), payment standing, plan
            and service region; customer null when there is no record."""
            customer = self._customers.get(customer_id)
            if customer is None:
                return {"customer": None}
            return {
                "customer": customer.model_dump(mode="json"),
                "enterprise_sla": customer.account_type is AccountType.ENTERPRISE,
            }

        @tool
        def check_service_status(
            customer_id: Annotated[str, "The customer id given in the first message."],
        ) -> dict[str, Any]:
            """The outages active now where the customer is served (their region's and nationwide ones) and the
            resulting health: healthy, degraded or outage."""
            customer = self._customers.get(customer_id)
            status = self._service_status.status_for(customer)
            return {"customer_found": customer is not None, **status.model_dump(mode="json")}

        @tool(context=True)
        def calculate_priority(
            team: Annotated[team_name, "The team the ticket would go to."], tool_context: ToolContext
        ) -> dict[str, Any]:
            """The priority (P0 most urgent to P3) this ticket gets if routed to the team, with the rules that set it:
            severity of the team's work, VIP and enterprise SLA, outages, the ticket's age."""
            scope = _scope(tool_context)
            context = scope.context
            priority = assess_priority(context.ticket, team, taxonomy, context.customer, context.service)
            answer = priority.model_dump(mode="json")
            answer["decided_by"] = scope.masker.text(priority.decided_by)
            answer["reasons"] = [scope.masker.text(reason) for reason in priority.reasons]
            return answer

        @tool
        def route_to_team(
            name: Annotated[team_or_category, "A team name or a category name of the taxonomy."],
        ) -> dict[str, Any]:
            """A team of the taxonomy looked up by its name or its category's: team, category, what it handles and
            its baseline severity."""
            spec = taxonomy.spec(taxonomy.resolve_label(name))
            return {"team": spec.team, "category": spec.category, "description": spec.description,
                    "severity": spec.severity}  # fmt: skip

        @tool(context=True)
        def get_historical_context(
            customer_id: Annotated[str, "The customer id given in the first message."], tool_context: ToolContext
        ) -> dict[str, Any]:
            """The customer's latest earlier tickets, newest first: when, status, the team that took them and the
            subject."""
            scope = _scope(tool_context)
            history = self._tickets.history(customer_id, self._history_limit, exclude=scope.context.ticket.ticket_id)
            return {
                "tickets": [
                    {**past.model_dump(mode="json"), "subject": scope.masker.text(past.subject)} for past in history
                ]
            }

        return [
            classify_issue,
            extract_entities,
            check_vip_status,
            check_service_status,
            calculate_priority,
            route_to_team,
            get_historical_context,
        ]


def _classification(classification: Classification, taxonomy: Taxonomy) -> dict[str, Any]:
    teams = [
        {"team": taxonomy.team_of.get(category, category), "category": category, "probability": round(p, 4)}
        for category, p in classification.ranked
    ]
    return {
        "teams": teams,
        "out_of_scope": classification.out_of_scope,
        "out_of_scope_reason": classification.out_of_scope_reason,
    }


def _scope(tool_context: ToolContext) -> TicketScope:
    scope = tool_context.invocation_state.get(TICKET_SCOPE)
    if not isinstance(scope, TicketScope):
        raise RuntimeError(f"no ticket in invocation_state[{TICKET_SCOPE!r}]: run the tools through RoutingAgent")
    return scope
