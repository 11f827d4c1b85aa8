import json
from pathlib import Path

import pytest

from agent.exceptions import TaxonomyError
from agent.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy, load_taxonomy


def test_default_taxonomy_is_the_rubric_four_teams():
    taxonomy = load_taxonomy()
    assert taxonomy.team_names == ["Network Operations", "Billing Support", "Technical Support", "Account Management"]
    assert taxonomy.category_of["Billing Support"] == "Billing Dispute"
    assert taxonomy.team_of["Account Access"] == "Account Management"
    assert taxonomy.thresholds.manual_review == pytest.approx(0.70)


def test_labels_resolve_by_team_or_category():
    taxonomy = load_taxonomy()
    assert taxonomy.resolve_label("Network Outage") == "Network Operations"
    assert taxonomy.resolve_label("Network Operations") == "Network Operations"
    assert taxonomy.resolve_label(" billing  SUPPORT ") == "Billing Support"
    assert taxonomy.resolve_label("account access") == "Account Management"
    with pytest.raises(TaxonomyError, match="neither a team nor a category"):
        taxonomy.resolve_label("Sales")


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "taxonomy.json"
    path.write_text(json.dumps(data))
    return path


def test_another_taxonomy_is_a_file_not_code(tmp_path):
    data = json.loads(DEFAULT_TAXONOMY_PATH.read_text())
    data["name"] = "isp-lite"
    data["teams"] = [
        {"team": "Field Ops", "category": "Field", "severity": "high"},
        {"team": "Money", "category": "Payments", "severity": "low"},
    ]
    taxonomy = load_taxonomy(_write(tmp_path, data))
    assert taxonomy.name == "isp-lite"
    assert taxonomy.team_of["Payments"] == "Money"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["teams"].append(dict(d["teams"][0])), "unique"),
        (lambda d: d["teams"][0].update(severity="apocalyptic"), "unknown severities"),
        (lambda d: d["priority"]["weights"].update(vip=0.9), "sum to 1"),
        (lambda d: d["thresholds"].update(manual_review=1.5), "thresholds.manual_review"),
        (lambda d: d["priority"]["sla_factors"].update(outage=2), "priority.sla_factors.outage"),
        (lambda d: d["priority"]["account_type_factors"].update(business=-0.1), "account_type_factors.business"),
        (lambda d: d["priority"]["sla_factors"].update(weekend=1), "weekend"),
        (lambda d: d.update(teams=d["teams"][:1]), "teams"),
    ],
)
def test_inconsistent_taxonomy_is_rejected_with_the_reason(tmp_path, mutate, message):
    data = json.loads(DEFAULT_TAXONOMY_PATH.read_text())
    mutate(data)
    with pytest.raises(TaxonomyError, match=message):
        load_taxonomy(_write(tmp_path, data))


def test_missing_or_broken_file_is_a_taxonomy_error(tmp_path):
    with pytest.raises(TaxonomyError, match="not found"):
        load_taxonomy(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(TaxonomyError, match="not valid JSON"):
        load_taxonomy(broken)


def test_flat_taxonomy_from_labels_for_foreign_datasets():
    taxonomy = Taxonomy.from_labels(["card_arrival", "top_up_failed", "card_arrival"])
    assert taxonomy.team_names == ["card_arrival", "top_up_failed"]
    assert taxonomy.resolve_label("top_up_failed") == "top_up_failed"


def test_routing_rules_are_data_and_optional(tmp_path):
    assert any("even when a past outage caused it" in rule for rule in load_taxonomy().routing_rules)
    data = json.loads(DEFAULT_TAXONOMY_PATH.read_text())
    del data["routing_rules"]
    assert load_taxonomy(_write(tmp_path, data)).routing_rules == []
