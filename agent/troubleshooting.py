"""Ranked first-line troubleshooting steps from a small, curated knowledge base.

The knowledge base (``agent/data/knowledge_base.json``) is a couple of dozen articles written by support leads,
each an ordered procedure for one kind of problem in one category. Articles are ranked by keyword overlap with the
ticket text rather than by embeddings: with so few hand-written articles, a match that an agent can check by eye
("it picked the promotion article because the ticket says 'promo' and 'quoted'") is worth more than recall, and it
needs no model, runs in microseconds and is the same on every run.

A plan never claims more than it knows: a category without articles (a taxonomy trained on other data) or a ticket
that matches nothing is marked ``manual_investigation_required`` with a note saying why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.exceptions import KnowledgeBaseError
from agent.jsonfile import read_model
from agent.text import ascii_punctuation
from datalayer.types.troubleshooting import ArticleRef, TroubleshootingPlan, TroubleshootingStep

DEFAULT_KB_PATH = Path(__file__).parent / "data" / "knowledge_base.json"

MAX_RELATED_ARTICLES = 3
"""Matched articles listed in a plan even when their steps did not fit, so the agent can open them."""


class ArticleStep(BaseModel):
    """One action of a procedure and what the agent should see if it worked."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    action: str = Field(min_length=1)
    expected_outcome: str = Field(min_length=1)


class Article(BaseModel):
    """An ordered procedure for one kind of problem.

    Keywords are matched case-insensitively on word boundaries; spaces and hyphens inside a keyword match
    each other or nothing ("wi-fi" finds "wifi", "log in" finds "login"), a plain keyword also finds its plural
    ('fee' finds 'fees'), and a trailing ``*`` finds any ending ('throttl*' finds 'throttled', 'throttling').
    ``general`` marks the category's first-line checklist, shown when no article matches the ticket.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    article_id: str = Field(pattern=r"^KB-[A-Z]{2,5}-\d{3}$")
    title: str = Field(min_length=1)
    category: str = Field(min_length=1)
    keywords: tuple[str, ...] = Field(min_length=1)
    steps: tuple[ArticleStep, ...] = Field(min_length=1)
    general: bool = False

    @field_validator("keywords")
    @classmethod
    def _clean_keywords(cls, keywords: tuple[str, ...]) -> tuple[str, ...]:
        """Lower-case and de-duplicate once here, so that matching never has to."""
        cleaned = tuple(dict.fromkeys(k.strip().lower() for k in keywords))
        if any(not k.rstrip("*").strip() for k in cleaned):
            raise ValueError("keywords must not be blank")
        return cleaned

    @property
    def ref(self) -> ArticleRef:
        return ArticleRef(article_id=self.article_id, title=self.title)


class KnowledgeBase(BaseModel):
    """All articles; ids are unique and each category has at most one general article."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = "1"
    description: str = ""
    articles: tuple[Article, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> KnowledgeBase:
        ids = [a.article_id for a in self.articles]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate article ids {duplicates}")
        generals = [_category_key(a.category) for a in self.articles if a.general]
        several = sorted({c for c in generals if generals.count(c) > 1})
        if several:
            raise ValueError(f"more than one general article for categories {several}")
        return self

    @property
    def categories(self) -> list[str]:
        return sorted({a.category for a in self.articles})

    def for_category(self, category: str) -> list[Article]:
        """The category's articles in file order; case and surrounding spaces of the name do not matter."""
        key = _category_key(category)
        return [a for a in self.articles if _category_key(a.category) == key]


def _category_key(category: str) -> str:
    return " ".join(category.split()).casefold()


def load_knowledge_base(path: str | Path | None = None) -> KnowledgeBase:
    """The validated knowledge base, read once per process (the default file when no path is given).

    Cached because every routed ticket asks for it and the file does not change while the process runs;
    a failed read is not cached, so a fixed file is picked up on the next call.
    """
    return _load_cached(Path(path) if path else DEFAULT_KB_PATH)


@lru_cache(maxsize=8)
def _load_cached(path: Path) -> KnowledgeBase:
    return read_knowledge_base(path)


def read_knowledge_base(path: str | Path) -> KnowledgeBase:
    """Read and validate a knowledge-base file without caching; errors name the file and the bad field."""
    return read_model(Path(path), KnowledgeBase, KnowledgeBaseError, "knowledge base")


@lru_cache(maxsize=2048)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    """Compile one keyword into a word-boundary-aware pattern (see ``Article`` for the rules)."""
    prefix = keyword.endswith("*")
    words = [w for w in re.split(r"[\s\-]+", keyword.rstrip("*")) if w]
    body = r"[\s\-]*".join(re.escape(w) for w in words)
    ending = r"\w*" if prefix else r"(?:e?s)?"
    return re.compile(rf"(?<!\w){body}{ending}(?!\w)", re.IGNORECASE)


def _normalise(text: str) -> str:
    """Typographic apostrophes and hyphens become ASCII ones, so "can’t" and "Wi‑Fi" (pasted from phones and
    word processors) match the keywords "can't" and "wi-fi"."""
    return ascii_punctuation(text)


@dataclass(frozen=True)
class ArticleMatch:
    """An article, the keywords of it that the ticket contains, and how many ticket words they cover."""

    article: Article
    keywords: tuple[str, ...]
    score: int


def _covered_words(text: str, spans: Sequence[tuple[int, int]]) -> int:
    """Words of ``text`` inside the union of ``spans``.

    Counting covered words rather than keywords means overlapping keywords ('neighbor*' and 'neighborhood',
    'locked' and 'locked out') count once, while a phrase still counts for each of its words: 'packet loss'
    is stronger evidence than 'loss'.
    """
    covered: set[int] = set()
    for start, end in spans:
        covered.update(range(start, end))
    return sum(1 for word in re.finditer(r"\w+", text) if word.start() in covered)


def _match(article: Article, text: str) -> ArticleMatch:
    hits = [(k, _keyword_pattern(k).search(text)) for k in article.keywords]
    found = [(k, m.span()) for k, m in hits if m]
    return ArticleMatch(article, tuple(k for k, _ in found), _covered_words(text, [span for _, span in found]))


def rank_articles(articles: Sequence[Article], text: str) -> list[ArticleMatch]:
    """Articles with at least one keyword in the text, best first.

    Ties go to a specific article before the general checklist (it says more about this ticket), then to file
    order, which lets the authors decide.
    """
    text = _normalise(text)
    relevant = [m for m in (_match(a, text) for a in articles) if m.score]
    return sorted(relevant, key=lambda m: (-m.score, m.article.general))


def _steps_from(articles: Sequence[Article], max_steps: int) -> list[TroubleshootingStep]:
    """Whole procedures in rank order, cut at ``max_steps``; a procedure's own order is never shuffled."""
    steps: list[TroubleshootingStep] = []
    for article in articles:
        for step in article.steps:
            if len(steps) == max_steps:
                return steps
            steps.append(
                TroubleshootingStep(
                    rank=len(steps) + 1,
                    action=step.action,
                    expected_outcome=step.expected_outcome,
                    article_id=article.article_id,
                )
            )
    return steps


def _refs(ranked: Sequence[Article], steps: Sequence[TroubleshootingStep]) -> list[ArticleRef]:
    """Every article a step came from, plus further matches up to ``MAX_RELATED_ARTICLES``, in rank order."""
    used = {s.article_id for s in steps}
    keep = max(MAX_RELATED_ARTICLES, len(used))
    return [a.ref for a in ranked[:keep]]


def plan_troubleshooting(
    category: str, text: str, kb: KnowledgeBase | None = None, max_steps: int = 5
) -> TroubleshootingPlan:
    """Ranked next steps for a ticket of ``category`` from the articles whose keywords appear in ``text``.

    - Unknown category (no articles): no steps, manual investigation required.
    - Known category, no article matches: the category's general first-line checklist, still flagged for manual
      investigation, because a generic checklist is a starting point and not a diagnosis.
    - Otherwise: the matching articles' procedures, best match first, ranked 1..n across articles.
    """
    if max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}")
    kb = kb if kb is not None else load_knowledge_base()
    articles = kb.for_category(category)
    if not articles:
        return TroubleshootingPlan(
            manual_investigation_required=True,
            note=f"No knowledge-base articles for category {category!r}: manual investigation required.",
        )
    matches = rank_articles(articles, text)
    if matches:
        ranked = [m.article for m in matches]
        steps = _steps_from(ranked, max_steps)
        why = "; ".join(f"{m.article.article_id} ({', '.join(m.keywords)})" for m in matches[:MAX_RELATED_ARTICLES])
        return TroubleshootingPlan(
            steps=steps, articles=_refs(ranked, steps), note=f"Articles ranked by keywords found in the ticket: {why}."
        )
    return _fallback(category, articles, max_steps)


def _fallback(category: str, articles: Sequence[Article], max_steps: int) -> TroubleshootingPlan:
    """No article matched: offer the general checklist if the category has one, and ask for a human either way."""
    general = next((a for a in articles if a.general), None)
    if general is None:
        return TroubleshootingPlan(
            manual_investigation_required=True,
            note=f"No {category} article matches this ticket: manual investigation required.",
        )
    steps = _steps_from([general], max_steps)
    return TroubleshootingPlan(
        steps=steps,
        articles=[general.ref],
        manual_investigation_required=True,
        note=(
            f"No {category} article matches this ticket; showing the general checklist "
            f"{general.article_id} ({general.title}). Manual investigation required."
        ),
    )
