"""The private comment a final decision leaves on its ticket: what Switchboard decided, why, and what to try first.

It is read by the person who opens the ticket in the ticketing system, next to everything the customer wrote, so
it must not carry more about the customer than the ticket already holds. It is therefore written from the
decision's fields and from an allow-list of reasoning lines, never by copying the reasoning wholesale:

* in it: team, category, confidence and the runner-up; the priority level; who decided (fast router or agent
  tier); the router's lines that come from the ticket's own text (the words that pointed to the team, the other
  issues it raises, how many account or phone numbers it mentions); why a person must check it (the confidence
  thresholds, the agent tier's fallbacks); the troubleshooting steps and their knowledge-base articles.
* not in it: the priority's reasons (they name the customer's VIP status and account type and the outages in
  their region, all from our records), the agent tier's own words (it saw the customer's record and earlier
  tickets), entity values. ``GET /tickets/{id}`` in Switchboard shows the whole decision.

The comment ends with the decision's marker (``workers.ticketing.base.decision_marker``), which is how an adapter
recognises a comment it wrote before.
"""

from __future__ import annotations

from datalayer.types import DecisionTier, RoutingDecision

TICKET_TEXT_LINES = ("Words that pointed there:", "Also raises:", "Found ")
"""Reasoning lines the fast router (``agent.router``) writes from the ticket's text alone; nothing else is copied."""
AGENT_ASKED_FOR_A_PERSON = "The agent tier asked for a person to check this decision."
REVIEW_REASONS_FROM_AGENT = "The agent asks for a person:"
"""How ``agent.cascade`` words the agent's request for a person; its free text stays in Switchboard."""


def decision_note(ticket_id: str, decision: RoutingDecision, marker: str) -> str:
    lines = ["Switchboard routing decision (internal note)", "", *_headline(decision)]
    why = [line for line in decision.reasoning if line.startswith(TICKET_TEXT_LINES)]
    if why:
        lines += ["", "Why:", *(f"- {line}" for line in why)]
    if decision.requires_manual_review:
        lines += ["", "Needs a person:", *(f"- {reason}" for reason in _review_reasons(decision))]
    lines += _troubleshooting(decision)
    lines += ["", f"Full decision: GET /tickets/{ticket_id} in Switchboard.", marker]
    return "\n".join(lines)


def _headline(decision: RoutingDecision) -> list[str]:
    team = f"Team: {decision.team} ({decision.category}), confidence {decision.confidence:.0%}"
    runner_up = next((alt for alt in decision.alternatives if alt.team != decision.team), None)
    if runner_up is not None:
        team += f"; next best {runner_up.team} at {runner_up.confidence:.0%}"
    if decision.tier is DecisionTier.AGENT and decision.agent is not None:
        decided_by = f"the agent tier ({decision.agent.model_id})"
    else:
        decided_by = f"the fast router ({decision.model_version})"
    return [team, f"Priority: {decision.priority.level}", f"Decided by: {decided_by}"]


def _review_reasons(decision: RoutingDecision) -> list[str]:
    reasons = [
        AGENT_ASKED_FOR_A_PERSON if reason.startswith(REVIEW_REASONS_FROM_AGENT) else reason
        for reason in decision.review_reasons
    ]
    return reasons or ["Marked for manual review."]


def _troubleshooting(decision: RoutingDecision) -> list[str]:
    plan = decision.troubleshooting
    lines: list[str] = []
    if plan.steps:
        lines += ["", "Troubleshooting, in order:"]
        lines += [
            f"{step.rank}. {step.action} Expected: {step.expected_outcome} [{step.article_id}]" for step in plan.steps
        ]
    if plan.articles:
        lines += ["", "Articles: " + "; ".join(f"{a.article_id} {a.title}" for a in plan.articles)]
    if plan.manual_investigation_required:
        lines += ["", f"No procedure fits: investigate by hand. {plan.note}".rstrip()]
    return lines
