"""The keyword router: the baseline every trained model must beat.

It counts each team's taxonomy keywords in the ticket and spreads probability in proportion to the
hits. It is what a rules-based triage product does, and it is kept so evaluation reports always say
how far above it the trained model is.
"""

from __future__ import annotations

import re

from agent.classification import Classification
from agent.taxonomy import Taxonomy, load_taxonomy
from agent.text import normalize


class KeywordClassifier:
    version = "keyword-baseline"
    policy = None  # no fitted thresholds: the router keeps the review threshold for it, whatever the routing policy

    def __init__(self, taxonomy: Taxonomy | None = None) -> None:
        self.taxonomy = taxonomy or load_taxonomy()
        self.labels = self.taxonomy.team_names
        self._patterns = {
            spec.team: [re.compile(r"(?<!\w)" + re.escape(k.lower())) for k in spec.keywords]
            for spec in self.taxonomy.teams
        }

    def scores(self, text: str) -> dict[str, int]:
        low = normalize(text).lower()
        return {team: sum(len(p.findall(low)) for p in patterns) for team, patterns in self._patterns.items()}

    def classify(self, texts: list[str], channels: list[str] | None = None) -> list[Classification]:
        """Keyword counts per team; the channel changes nothing for keywords."""
        out = []
        for text in texts:
            hits = self.scores(text)
            total = sum(hits.values())
            n = len(hits)
            probs = {
                self.taxonomy.category_of[team]: (count / total if total else 1.0 / n) for team, count in hits.items()
            }
            above = [
                c
                for c, p in sorted(probs.items(), key=lambda kv: -kv[1])
                if total and p >= self.taxonomy.thresholds.multi_issue
            ]
            out.append(
                Classification(
                    probabilities=probs,
                    categories=above,
                    out_of_scope=total == 0,
                    out_of_scope_reason="" if total else "no routing keyword in the ticket",
                )
            )
        return out
