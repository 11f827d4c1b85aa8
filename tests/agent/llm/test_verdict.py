"""The verdict schema comes from the taxonomy: only its teams and their own categories validate."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.llm.verdict import VERDICT_TOOL_NAME, Verdict, verdict_model
from agent.taxonomy import Taxonomy
from tests.agent.llm.support import verdict_input


def test_a_valid_verdict(taxonomy: Taxonomy) -> None:
    model = verdict_model(taxonomy)
    verdict = model(**verdict_input(second_team="Billing Support"))
    assert isinstance(verdict, Verdict)
    assert (verdict.team, verdict.category, verdict.second_team) == (
        "Network Operations",
        "Network Outage",
        "Billing Support",
    )
    assert model.__name__ == VERDICT_TOOL_NAME


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"team": "Sales"}, "team"),
        ({"category": "Billing Dispute"}, "not the category of Network Operations; use 'Network Outage'"),
        ({"category": "Refunds"}, "category"),
        ({"second_team": "Network Operations"}, "second_team must be another team"),
        ({"second_team": "Sales"}, "second_team"),
        ({"needs_human": True}, "needs_human_reason must say why"),
        ({"needs_human": True, "needs_human_reason": "   "}, "needs_human_reason must say why"),
        ({"reasoning": ""}, "reasoning"),
        ({"reasoning": "x" * 601}, "reasoning"),
        ({"priority": "P0"}, "priority"),
    ],
)
def test_answers_outside_the_taxonomy_do_not_validate(taxonomy: Taxonomy, changes: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        verdict_model(taxonomy)(**verdict_input(**changes))


def test_needs_human_with_a_reason(taxonomy: Taxonomy) -> None:
    verdict = verdict_model(taxonomy)(**verdict_input(needs_human=True, needs_human_reason="Threatens to sue."))
    assert verdict.needs_human


def test_the_schema_offers_the_taxonomy_names_as_enums(taxonomy: Taxonomy) -> None:
    schema = verdict_model(taxonomy).model_json_schema()
    assert schema["properties"]["team"]["enum"] == taxonomy.team_names
    assert schema["properties"]["category"]["enum"] == [taxonomy.category_of[t] for t in taxonomy.team_names]
    assert schema["required"] == ["team", "category", "needs_human", "reasoning"]


def test_a_second_taxonomy_file_changes_the_allowed_answers(taxonomy: Taxonomy, three_teams: Taxonomy) -> None:
    parcels = verdict_model(three_teams)
    assert parcels.model_json_schema()["properties"]["team"]["enum"] == ["Depot Crew", "Refund Desk", "Front Office"]
    assert parcels(team="Refund Desk", category="Refund Request", needs_human=False, reasoning="Money back.")
    with pytest.raises(ValidationError):
        parcels(**verdict_input())  # a telecom answer
    with pytest.raises(ValidationError, match="use 'Lost Parcel'"):
        parcels(team="Depot Crew", category="Refund Request", needs_human=False, reasoning="Lost.")
    assert verdict_model(taxonomy)(**verdict_input())  # the telecom model is unaffected


def test_one_model_class_per_taxonomy(taxonomy: Taxonomy, three_teams: Taxonomy) -> None:
    """strands caches a tool spec per class: a class per ticket would grow that cache for ever."""
    assert verdict_model(taxonomy) is verdict_model(taxonomy.model_copy(deep=True))
    assert verdict_model(taxonomy) is not verdict_model(three_teams)
