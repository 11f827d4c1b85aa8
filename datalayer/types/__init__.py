"""The typed contract every layer shares: tickets, customers, service status and routing decisions.

One module per concern. The API validates tickets with these models, the stores persist them, the workers
carry them through queues and the routing brain fills in the decision, so they live in the data layer, which
imports nothing else of ours.

Every model here is a pydantic v2 model that round-trips through JSON
(``Model.model_validate_json(m.model_dump_json()) == m``), because the same
objects travel over REST, through SQS messages and into DynamoDB.
"""

from datalayer.types.customer import AccountType, CustomerContext, Standing
from datalayer.types.decision import AgentUsage, DecisionTier, FallbackCause, RoutingDecision, TeamScore
from datalayer.types.entities import ExtractedEntities, MoneyAmount
from datalayer.types.history import PastTicket
from datalayer.types.priority import PriorityAssessment, PriorityFactors, PriorityLevel
from datalayer.types.service import EVERYWHERE, Outage, ServiceHealth, ServiceStatus
from datalayer.types.ticket import Channel, Ticket
from datalayer.types.troubleshooting import ArticleRef, TroubleshootingPlan, TroubleshootingStep

__all__ = [
    "EVERYWHERE",
    "AccountType",
    "AgentUsage",
    "ArticleRef",
    "Channel",
    "CustomerContext",
    "DecisionTier",
    "ExtractedEntities",
    "FallbackCause",
    "MoneyAmount",
    "Outage",
    "PastTicket",
    "PriorityAssessment",
    "PriorityFactors",
    "PriorityLevel",
    "RoutingDecision",
    "ServiceHealth",
    "ServiceStatus",
    "Standing",
    "TeamScore",
    "Ticket",
    "TroubleshootingPlan",
    "TroubleshootingStep",
]
