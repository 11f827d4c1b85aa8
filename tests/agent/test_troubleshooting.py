"""Troubleshooting: the shipped knowledge base, keyword ranking, fallbacks and knowledge-base validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.exceptions import RouterError
from agent.taxonomy import load_taxonomy
from agent.troubleshooting import (
    Article,
    ArticleStep,
    KnowledgeBase,
    KnowledgeBaseError,
    load_knowledge_base,
    plan_troubleshooting,
    rank_articles,
)
from datalayer.types import TroubleshootingPlan

CATEGORIES = sorted(load_taxonomy().team_of)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge_base()


def article(article_id: str, keywords: tuple[str, ...], general: bool = False, n: int = 2) -> Article:
    return Article(
        article_id=article_id,
        title=f"Title of {article_id}",
        category="Test",
        keywords=keywords,
        general=general,
        steps=tuple(ArticleStep(action=f"{article_id} step {i}", expected_outcome=f"outcome {i}") for i in range(n)),
    )


def first_ids(category: str, text: str) -> list[str]:
    return [a.article_id for a in plan_troubleshooting(category, text).articles]


# --- the shipped knowledge base ---------------------------------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_taxonomy_category_has_articles_and_one_general_checklist(kb: KnowledgeBase, category: str):
    articles = kb.for_category(category)
    assert len(articles) >= 3
    assert sum(a.general for a in articles) == 1


def test_knowledge_base_only_uses_taxonomy_categories(kb: KnowledgeBase):
    assert set(kb.categories) == set(CATEGORIES)


def test_knowledge_base_is_loaded_once(kb: KnowledgeBase):
    assert load_knowledge_base() is kb


def test_cached_knowledge_base_cannot_be_mutated(kb: KnowledgeBase):
    with pytest.raises(ValidationError):
        kb.version = "tampered"


@pytest.mark.parametrize(
    ("category", "text", "best"),
    [
        ("Billing Dispute", "I was quoted a $49 promo price but my bill shows $79.", "KB-BIL-002"),
        ("Billing Dispute", "I am charged a rental fee for my own modem.", "KB-BIL-004"),
        ("Billing Dispute", "Autopay took the payment twice, I was double charged.", "KB-BIL-005"),
        ("Network Outage", "The entire neighborhood has no internet, is there an outage?", "KB-NET-002"),
        ("Network Outage", "Connection keeps dropping every evening, in and out.", "KB-NET-003"),
        ("Network Outage", "Paying for 300 Mbps, speed test shows 12 Mbps. Throttling?", "KB-NET-004"),
        ("Technical Problem", "The DVR lost my recordings and the remote won't pair.", "KB-TEC-005"),
        ("Technical Problem", "The technician never showed up for my install appointment.", "KB-TEC-004"),
        ("Account Access", "Someone hacked my account and made unauthorized changes.", "KB-ACC-003"),
        ("Account Access", "I forgot my password and now I'm locked out.", "KB-ACC-002"),
    ],
)
def test_most_relevant_article_ranks_first(category: str, text: str, best: str):
    assert first_ids(category, text)[0] == best


def test_steps_are_ranked_one_to_n_and_reference_listed_articles():
    plan = plan_troubleshooting("Network Outage", "Whole area outage, neighbours are down too, no internet.")
    assert [s.rank for s in plan.steps] == [1, 2, 3, 4, 5]
    assert {s.article_id for s in plan.steps} <= {a.article_id for a in plan.articles}
    assert plan.steps[0].article_id == plan.articles[0].article_id
    assert all(s.action and s.expected_outcome for s in plan.steps)
    assert not plan.manual_investigation_required


def test_max_steps_limits_the_plan(kb: KnowledgeBase):
    plan = plan_troubleshooting("Account Access", "I forgot my password.", max_steps=2)
    source = next(a for a in kb.articles if a.article_id == plan.steps[0].article_id)
    assert [(s.rank, s.action) for s in plan.steps] == [(1, source.steps[0].action), (2, source.steps[1].action)]


def test_max_steps_below_one_is_rejected():
    with pytest.raises(ValueError, match="max_steps"):
        plan_troubleshooting("Billing Dispute", "bill", max_steps=0)


def test_unknown_category_requires_manual_investigation():
    plan = plan_troubleshooting("card_arrival", "Where is my new card?")
    assert plan.manual_investigation_required
    assert plan.steps == [] and plan.articles == []
    assert "card_arrival" in plan.note


@pytest.mark.parametrize("text", ["", "asdf qwerty zxcv"])
def test_no_match_shows_general_checklist_but_asks_for_a_human(kb: KnowledgeBase, text: str):
    plan = plan_troubleshooting("Technical Problem", text)
    general = next(a for a in kb.for_category("Technical Problem") if a.general)
    assert plan.manual_investigation_required
    assert [a.article_id for a in plan.articles] == [general.article_id]
    assert [s.action for s in plan.steps] == [s.action for s in general.steps][:5]
    assert "Manual investigation required" in plan.note


def test_category_name_is_matched_case_insensitively():
    assert first_ids("  billing dispute ", "promo price not honoured")[0] == "KB-BIL-002"


def test_plan_round_trips_through_json():
    plan = plan_troubleshooting("Billing Dispute", "My promotion expired and the price went up.")
    assert TroubleshootingPlan.model_validate_json(plan.model_dump_json()) == plan


# --- keyword matching rules (on a knowledge base of our own) ------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "text", "found"),
    [
        ("fee", "Two FEES on my bill", True),
        ("fee", "I left feedback", False),
        ("app", "I am not happy with the apple", False),
        ("app", "The App crashes", True),
        ("app", "my whatsapp broke", False),
        ("fee", "coffee", False),
        ("wi-fi", "wifi is weak", True),
        ("wi-fi", "Wi\u2011Fi is weak", True),  # non-breaking hyphen pasted from a phone
        ("log in", "cannot login", True),
        ("throttl*", "they are throttling me", True),
        ("can't connect", "I can\u2019t connect", True),
        ("911", "employee 1911275", False),
    ],
)
def test_keywords_match_case_insensitively_on_word_boundaries(keyword: str, text: str, found: bool):
    assert bool(rank_articles([article("KB-TST-001", (keyword,))], text)) is found


def test_overlapping_keywords_count_once_and_phrases_count_per_word():
    area = article("KB-TST-001", ("neighbor*", "neighborhood"))
    down = article("KB-TST-002", ("no internet",))
    ranked = rank_articles([area, down], "My neighborhood has no internet")
    assert [(m.article.article_id, m.score) for m in ranked] == [("KB-TST-002", 2), ("KB-TST-001", 1)]


def test_ties_go_to_the_specific_article_before_the_general_one():
    general = article("KB-TST-001", ("outage",), general=True)
    specific = article("KB-TST-002", ("storm",))
    assert [m.article.article_id for m in rank_articles([general, specific], "outage after the storm")] == [
        "KB-TST-002",
        "KB-TST-001",
    ]


def test_steps_continue_into_the_next_article_in_rank_order():
    kb = KnowledgeBase(articles=(article("KB-TST-001", ("modem",), n=2), article("KB-TST-002", ("router",), n=3)))
    plan = plan_troubleshooting("Test", "router and modem", kb=kb, max_steps=4)
    assert [(s.rank, s.article_id) for s in plan.steps] == [
        (1, "KB-TST-001"),
        (2, "KB-TST-001"),
        (3, "KB-TST-002"),
        (4, "KB-TST-002"),
    ]


def test_category_without_general_article_and_no_match_gives_no_steps():
    kb = KnowledgeBase(articles=(article("KB-TST-001", ("modem",)),))
    plan = plan_troubleshooting("Test", "unrelated words", kb=kb)
    assert plan.manual_investigation_required and plan.steps == []


# --- malformed knowledge-base files -----------------------------------------------------------------------------


def doc(**overrides: object) -> dict:
    """A valid article as the JSON file holds it, with some fields replaced."""
    return json.loads(article("KB-TST-001", ("modem",)).model_dump_json()) | overrides


def write(tmp_path: Path, content: str | dict) -> Path:
    path = tmp_path / "kb.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ({"articles": []}, "invalid at articles"),
        ({"articles": [doc(steps=[])]}, "invalid at articles.0.steps"),
        ({"articles": [doc(article_id="modem-1")]}, "invalid at articles.0.article_id"),
        ({"articles": [doc(keywords=["  "])]}, "keywords must not be blank"),
        ({"articles": [doc(), doc()]}, "duplicate article ids ['KB-TST-001']"),
        ({"articles": [doc(general=True), doc(article_id="KB-TST-002", general=True)]}, "more than one general"),
        ({"articles": [doc(owner="me")]}, "invalid at articles.0.owner"),
    ],
)
def test_malformed_knowledge_base_raises_a_clear_router_error(tmp_path: Path, content: str | dict, message: str):
    path = write(tmp_path, content)
    with pytest.raises(KnowledgeBaseError) as caught:
        load_knowledge_base(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, RouterError)


def test_missing_knowledge_base_file_is_reported(tmp_path: Path):
    with pytest.raises(KnowledgeBaseError, match="not found"):
        load_knowledge_base(tmp_path / "absent.json")


def test_a_fixed_file_is_picked_up_after_a_failed_load(tmp_path: Path):
    path = write(tmp_path, "{broken")
    with pytest.raises(KnowledgeBaseError):
        load_knowledge_base(path)
    write(tmp_path, {"articles": [doc()]})
    assert [a.article_id for a in load_knowledge_base(path).articles] == ["KB-TST-001"]
