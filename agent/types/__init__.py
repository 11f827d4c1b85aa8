"""Typed data of the routing brain, one module per concern.

Every model here is a pydantic v2 model that round-trips through JSON
(``Model.model_validate_json(m.model_dump_json()) == m``), because the same
objects travel over REST, through SQS messages and into DynamoDB.
"""

from agent.types.classification import Classification
from agent.types.customer import AccountType, CustomerContext, Standing
from agent.types.decision import DecisionTier, RoutingDecision, TeamScore
from agent.types.entities import ExtractedEntities, MoneyAmount
from agent.types.priority import PriorityAssessment, PriorityFactors, PriorityLevel
from agent.types.service import Outage, ServiceHealth, ServiceStatus
from agent.types.ticket import Channel, Ticket
from agent.types.troubleshooting import ArticleRef, TroubleshootingPlan, TroubleshootingStep

__all__ = [
    "AccountType",
    "ArticleRef",
    "Channel",
    "Classification",
    "CustomerContext",
    "DecisionTier",
    "ExtractedEntities",
    "MoneyAmount",
    "Outage",
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
