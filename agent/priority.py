"""Priority P0 (drop everything) to P3 (routine) for a routed ticket, with the reasons an agent reads.

Two layers, because each alone fails someone:

1. A weighted score of four factors in [0, 1] (customer value, issue severity, ticket age, SLA/outage), with the
   weights, the factor tables and the level cut-offs taken from the taxonomy file. The score ranks the queue smoothly.
2. Hard rules on top, each written into ``reasons``: a VIP or enterprise customer is never routine, a complete
   loss of service on a team whose work is already high-severity is urgent, a VIP with a critical issue is P0,
   and a ticket left open past the escalation time moves up one level. These are promises made to customers and
   to the business; a weighted sum cannot keep a promise, so they are not left to the score.

Nothing here names a team. Severity comes from the team's entry in the taxonomy, and the "urgent on loss of
service" rule applies to every team whose baseline severity is high or above, so a taxonomy trained on other data
(77 banking intents, all "medium") works unchanged and simply never triggers it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agent.exceptions import TaxonomyError
from agent.taxonomy import PriorityConfig, Taxonomy
from agent.text import ascii_punctuation
from datalayer.types.customer import AccountType, CustomerContext
from datalayer.types.priority import PriorityAssessment, PriorityFactors, PriorityLevel
from datalayer.types.service import ServiceHealth, ServiceStatus
from datalayer.types.ticket import Ticket

URGENT_FLOOR = PriorityLevel.P1
SCORE_DECIMALS = 6
"""The score is rounded before it meets the cut-offs so that 0.3 + 0.2 + 0.1 lands on 0.6 and not just below it."""


@dataclass(frozen=True)
class Signal:
    """A phrase family in ticket text, with the words an agent reads when it fires."""

    label: str
    pattern: re.Pattern[str]

    def find(self, text: str) -> str | None:
        match = self.pattern.search(text)
        return match.group(0) if match else None


def _signal(label: str, *patterns: str) -> Signal:
    return Signal(label, re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE))


_SERVICE = r"(?:internet|service|connection|connectivity|wi-?fi|cable|tv|phone|phone line|landline|dial tone|signal)"
_MANY = r"(?:[2-9]|[1-9]\d+|two|three|four|five|six|seven|eight|nine|ten|several|a few|few|many|multiple)"
_LONG = (
    rf"(?:{_MANY} (?:full |whole |straight )?days?|(?:{_MANY}|a|an|one|1) (?:full |whole )?(?:weeks?|months?)"
    r"|(?:4[89]|[5-9]\d|\d{3,}) hours|days|weeks|months|last week|last month)"
)
_FOR_LONG = rf"(?:for|since|in) (?:the )?(?:(?:past|last|over|almost|nearly|more than|about|at least) )*{_LONG}\b"
_AREA = r"(?:entire|whole) (?:neighbou?rhood|area|street|block|building|complex|town|city|region|zip code)"
_DOWN = (
    r"\b(?:down|out|outages?|offline|without|no (?:service|internet|signal)|affected|issues?|problems?"
    r"|throttl\w*|slow\w*)\b"
)
_GROUP = r"(?:neighbou?rs|customers|homes|houses|households|businesses|units|apartments|residents|people)"

CRITICAL_SIGNALS: tuple[Signal, ...] = (
    _signal(
        "complete loss of service",
        rf"\bno {_SERVICE}(?: service)? (?:at all|whatsoever)\b",
        r"\b(?:completely|totally|entirely) (?:down|dead|offline|out(?! of\b))",
        r"\b(?:total|complete) (?:outage|blackout|loss of (?:service|internet|connection|signal))\b",
    ),
    _signal(
        "service down for days",
        rf"\b(?:no|without) (?:any )?{_SERVICE}\b(?: [\w()'-]+){{0,3}}? {_FOR_LONG}",
        rf"\b{_SERVICE} (?:has been|have been|is|was|been|went) (?:completely |totally )?(?:down|out|offline|dead)"
        rf"(?: [\w()'-]+){{0,3}}? {_FOR_LONG}",
    ),
    _signal(
        "several customers affected",
        rf"\b{_AREA}\b[^.!?]{{0,60}}?{_DOWN}",
        rf"{_DOWN}[^.!?]{{0,60}}?\b{_AREA}\b",
        rf"\b(?:several|multiple|many|all|other|\d+) (?:of (?:my|our|the) )?(?:other )?{_GROUP}\b"
        r"(?: [\w'-]+){0,4}? (?:(?:are|is|were) (?:all |also )?(?:affected|down|out|offline)|affected"
        r"|(?:have|has|had) no (?:service|internet|signal|connection)|without (?:service|internet)"
        r"|lost (?:service|internet|connection)|(?:have|has|having|had) the same (?:outage|problem|issue))",
        r"\bneighbou?rs?\b[^.!?]{0,40}?\b(?:also|too|as well)\b[^.!?]{0,20}?\b(?:no|without|down|out|offline)\b",
        r"\b(?:area|neighbou?rhood)[- ]wide\b",
    ),
    _signal(
        "business is down",
        r"\b(?:my|our|the) business\b(?: \w+){0,2} (?:is|went|has been|was) (?:completely |totally |still )?"
        r"(?:down|offline|out of service|dead|at a standstill)\b",
        r"\b(?:can ?not|can't|unable to) (?:run|operate|open) (?:my|our) (?:business|store|shop|office|restaurant)\b",
        r"\blosing (?:business|sales|revenue)\b",
    ),
    _signal(
        "emergency calls impossible",
        r"\b(?:can ?not|can't|couldn't|could not|unable to|no way to|not able to) (?:call|dial|reach|contact)"
        r" (?:911|e911|emergency)",
        r"\b(?:911|e911|emergency (?:calls?|services?))\b[^.!?]{0,30}?\b(?:not working|doesn't work|does not work"
        r"|don't work|won't work|fails?|failed|unavailable)\b",
        r"\b(?:medical alert|life ?alert|medical alarm|medical device)\b[^.!?]{0,40}?\b(?:not working|doesn't work"
        r"|does not work|offline|no (?:service|connection|signal)|can't connect|cannot connect)\b",
    ),
)
"""Text that turns any ticket critical: the customer has no service at all, for long, or together with others."""

INFORMATIONAL_SIGNAL = _signal(
    "informational question",
    r"^(?:hi|hello|hey)?[,!. ]*(?:how (?:do|can|would|should) (?:i|we)|what (?:is|are|does)|is it possible"
    r"|can you (?:tell|explain)|where can i (?:find|see))\b",
    r"\b(?:just (?:wondering|curious)|out of curiosity|general question|quick question)\b",
)


@dataclass
class _Assessment:
    """Working state while the rules run; reasons accumulate in the order an agent should read them.

    ``decided_by`` is the reason of whichever step set the current level, so that the headline never contradicts
    the level (a floor that lifted P1 to P0 decided it, not the score that said P1).
    """

    level: PriorityLevel
    decided_by: str
    reasons: list[str] = field(default_factory=list)

    def at_least(self, floor: PriorityLevel, reason: str) -> None:
        """Apply a floor and always record why: the rule is part of the explanation even when already met."""
        order = list(PriorityLevel)
        if order.index(floor) < order.index(self.level):
            self.level, self.decided_by = floor, reason
        self.reasons.append(reason)

    def raise_one_level(self, why: str) -> None:
        self.level = self.level.raised()
        self.decided_by = f"{why}: raised one level to {self.level}"
        self.reasons.append(self.decided_by)


@dataclass(frozen=True)
class _Severity:
    factor: float
    critical: bool
    urgent: bool
    reasons: tuple[str, ...]


def assess_priority(
    ticket: Ticket,
    team: str,
    taxonomy: Taxonomy,
    customer: CustomerContext | None = None,
    service: ServiceStatus | None = None,
    now: datetime | None = None,
) -> PriorityAssessment:
    """P0–P3 for ``ticket`` routed to ``team``: a weighted score from the taxonomy, then the hard rules.

    ``now`` defaults to the current time; naive datetimes (here and in the ticket) are read as UTC, as the
    ``Ticket`` model does, so a result never depends on the host's time zone. Missing customer or service data
    scores zero for that factor (and says so) rather than failing: priority must never block routing. When an
    outage in the customer's area makes the ticket more urgent than it would otherwise be, a reason says so.
    """
    age_hours = _age_hours(ticket.created_at, now)
    severity = _severity(ticket.text, team, taxonomy)
    factors, score, result = _assess(taxonomy.priority, customer, service, severity, age_hours)
    if service is not None and service.health is not ServiceHealth.HEALTHY:
        _, _, without = _assess(taxonomy.priority, customer, None, severity, age_hours)
        if list(PriorityLevel).index(result.level) < list(PriorityLevel).index(without.level):
            reason = f"{_outage_summary(service)} raised the priority from {without.level} to {result.level}"
            result.decided_by = reason
            result.reasons.append(reason)
    return PriorityAssessment(
        level=result.level, score=score, factors=factors, decided_by=result.decided_by, reasons=result.reasons
    )


def _assess(
    config: PriorityConfig,
    customer: CustomerContext | None,
    service: ServiceStatus | None,
    severity: _Severity,
    age_hours: float,
) -> tuple[PriorityFactors, float, _Assessment]:
    """The weighted score, then the customer and urgency floors, then escalation by age."""
    weights = config.weights
    vip, vip_reasons = _vip_factor(customer, config)
    sla, sla_reasons = _sla_factor(customer, service, config)
    factors = PriorityFactors(
        vip=vip, severity=severity.factor, age=min(1.0, age_hours / config.age_full_hours), sla=sla
    )
    raw = weights.vip * vip + weights.severity * severity.factor + weights.age * factors.age + weights.sla * sla
    score = min(1.0, max(0.0, round(raw, SCORE_DECIMALS)))
    level = _level_for(score, config.levels)
    headline = (
        f"Weighted score {score:.2f} → {level} (VIP {vip:.2f}, severity {severity.factor:.2f}, "
        f"age {factors.age:.2f}, SLA/outage {sla:.2f})"
    )
    result = _Assessment(level=level, decided_by=headline, reasons=[headline])
    result.reasons.extend([*vip_reasons, *severity.reasons, *sla_reasons])
    _apply_rules(result, customer, severity)
    if age_hours > config.escalate_after_hours:
        result.raise_one_level(f"Open {age_hours:.1f} h (> {config.escalate_after_hours:g} h)")
    return factors, score, result


def _apply_rules(result: _Assessment, customer: CustomerContext | None, severity: _Severity) -> None:
    """The customer and urgency floors; escalation by age is applied after these, once."""
    if customer is not None and customer.vip and severity.critical:
        result.at_least(PriorityLevel.P0, "VIP customer with a critical issue: P0")
    elif customer is not None and customer.vip:
        result.at_least(PriorityLevel.P1, "VIP customer: at least P1")
    if customer is not None and customer.account_type is AccountType.ENTERPRISE:
        result.at_least(PriorityLevel.P1, "Enterprise customer: at least P1")
    if severity.urgent:
        result.at_least(URGENT_FLOOR, f"Loss of service on a high-severity team's ticket: at least {URGENT_FLOOR}")


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _age_hours(created_at: datetime, now: datetime | None) -> float:
    """Hours the ticket has been open; a creation time in the future (clock skew) counts as just created."""
    now = _as_utc(now) if now is not None else datetime.now(UTC)
    return max(0.0, (now - _as_utc(created_at)).total_seconds() / 3600)


def _vip_factor(customer: CustomerContext | None, config: PriorityConfig) -> tuple[float, list[str]]:
    if customer is None:
        return 0.0, ["No customer record: scored as a non-VIP consumer"]
    if customer.vip:
        return config.vip_factor, []
    return config.account_type_factors.get(customer.account_type.value, 0.0), []


def _sla_factor(
    customer: CustomerContext | None, service: ServiceStatus | None, config: PriorityConfig
) -> tuple[float, list[str]]:
    """The most pressing of: an outage or degradation in the network right now, and an enterprise SLA."""
    factor, reasons = 0.0, []
    if service is not None and service.health is ServiceHealth.OUTAGE:
        factor = config.sla_factors.outage
        reasons.append(_outage_summary(service))
    elif service is not None and service.health is ServiceHealth.DEGRADED:
        factor = config.sla_factors.degraded
        reasons.append(_outage_summary(service))
    if customer is not None and customer.account_type is AccountType.ENTERPRISE:
        factor = max(factor, config.sla_factors.enterprise)
        reasons.append("Enterprise SLA applies")
    return factor, reasons


def _outage_summary(service: ServiceStatus) -> str:
    """``Active outage OUT-7 (internet in Springfield, 1,200 customers affected)``, or the health alone."""
    if not service.active_outages:
        return f"Network reports {'an outage' if service.health is ServiceHealth.OUTAGE else 'degraded service'}"
    parts = []
    for outage in service.active_outages:
        count = f", {outage.customers_affected:,} customers affected" if outage.customers_affected else ""
        kind = "" if outage.impact is ServiceHealth.OUTAGE else "degraded "
        parts.append(f"{outage.outage_id} ({kind}{outage.service} {outage.where}{count})")
    noun = "Active outage" if len(parts) == 1 else "Active outages"
    return f"{noun}: {'; '.join(parts)}"


def _baseline(team: str, taxonomy: Taxonomy) -> tuple[str, list[str]]:
    """The team's severity name; a team (or category) the taxonomy does not know gets the middle severity."""
    try:
        return taxonomy.spec(taxonomy.resolve_label(team)).severity, []
    except TaxonomyError:
        ranked = sorted(taxonomy.severities, key=lambda name: taxonomy.severities[name])
        assumed = "medium" if "medium" in taxonomy.severities else ranked[len(ranked) // 2]
        return assumed, [f"Team {team!r} is not in taxonomy {taxonomy.name!r}: {assumed} severity assumed"]


def _severity(text: str, team: str, taxonomy: Taxonomy) -> _Severity:
    """Baseline from the taxonomy, raised to critical by loss-of-service text, lowered slightly for questions."""
    name, reasons = _baseline(team, taxonomy)
    scale = {key: min(1.0, max(0.0, value)) for key, value in taxonomy.severities.items()}  # the factor is in [0, 1]
    baseline = scale[name]
    critical_value = scale.get("critical", max(scale.values()))
    urgent_from = scale.get(taxonomy.priority.urgent_from_severity, critical_value)
    text = _normalise(text)
    hits = [(s.label, found) for s in CRITICAL_SIGNALS if (found := s.find(text))]
    if hits:
        quoted = "; ".join(f'{label}: "{found}"' for label, found in hits)
        reasons.append(f"Critical signal ({quoted}): severity raised to critical")
        return _Severity(max(baseline, critical_value), True, baseline >= urgent_from, tuple(reasons))
    if (found := INFORMATIONAL_SIGNAL.find(text)) is not None:
        reasons.append(f'Informational question ("{found.strip()}"): severity lowered slightly')
        return _Severity(baseline * taxonomy.priority.informational_scale, False, False, tuple(reasons))
    return _Severity(baseline, baseline >= critical_value, False, tuple(reasons))


def _normalise(text: str) -> str:
    """One line, ASCII apostrophes and hyphens: signals must not miss "can’t call 911" split over two lines."""
    return " ".join(ascii_punctuation(text).split())


def _level_for(score: float, levels: Mapping[str, float]) -> PriorityLevel:
    """The most urgent level whose cut-off the score reaches (score ≥ cut); below every cut-off, the lowest."""
    for level in PriorityLevel:
        cut = levels.get(level.value)
        if cut is not None and score >= cut:
            return level
    return list(PriorityLevel)[-1]
