"""Priority: the weighted score from the taxonomy, the hard rules on top, and their boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.priority import assess_priority
from agent.taxonomy import PriorityConfig, PriorityWeights, SlaFactors, Taxonomy, TeamSpec, load_taxonomy
from datalayer.types import (
    AccountType,
    CustomerContext,
    Outage,
    PriorityAssessment,
    PriorityLevel,
    ServiceHealth,
    ServiceStatus,
    Ticket,
)

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
TELECOM = load_taxonomy()
NETWORK = TELECOM.team_of["Network Outage"]  # severity "high"
BILLING = TELECOM.team_of["Billing Dispute"]  # severity "medium"
TECHNICAL = TELECOM.team_of["Technical Problem"]  # severity "medium"
ACCOUNT = TELECOM.team_of["Account Access"]  # severity "low"


def ticket(text: str = "Something is wrong with my service.", age: timedelta = timedelta(0)) -> Ticket:
    return Ticket(ticket_id="T-1", customer_id="C-1", description=text, created_at=NOW - age)


def customer(vip: bool = False, account_type: AccountType = AccountType.CONSUMER) -> CustomerContext:
    return CustomerContext(customer_id="C-1", vip=vip, account_type=account_type)


def assess(text: str = "My bill went up by $20 this month.", team: str = BILLING, **kwargs) -> PriorityAssessment:
    age = kwargs.pop("age", timedelta(0))
    kwargs.setdefault("now", NOW)
    return assess_priority(ticket(text, age), team, kwargs.pop("taxonomy", TELECOM), **kwargs)


def mentions(result: PriorityAssessment, fragment: str) -> bool:
    return any(fragment.lower() in reason.lower() for reason in result.reasons)


# --- the weighted score ---------------------------------------------------------------------------------------


def test_routine_consumer_ticket_is_p3_with_factors_and_score_explained():
    result = assess(customer=customer())
    assert result.level is PriorityLevel.P3
    assert result.factors.model_dump() == {"vip": 0.0, "severity": 0.5, "age": 0.0, "sla": 0.0}
    assert result.score == pytest.approx(0.4 * 0.5)
    assert result.reasons[0].startswith("Weighted score 0.20 → P3")


def test_weights_come_from_the_taxonomy():
    severity_only = TELECOM.model_copy(
        update={"priority": PriorityConfig(weights=PriorityWeights(vip=0, severity=1, age=0, sla=0))}
    )
    text = "Internet keeps dropping."
    assert assess(text, NETWORK, customer=customer()).level is PriorityLevel.P3  # 0.4 × 0.75 = 0.30
    result = assess(text, NETWORK, customer=customer(), taxonomy=severity_only)
    assert result.score == pytest.approx(0.75)
    assert result.level is PriorityLevel.P1


def _one_factor_taxonomy(severity_value: float, levels: dict[str, float] | None = None) -> Taxonomy:
    """Severity weight 1, so the score equals the team's severity value exactly."""
    config = PriorityConfig(weights=PriorityWeights(vip=0, severity=1, age=0, sla=0))
    if levels is not None:
        config = config.model_copy(update={"levels": levels})
    return Taxonomy(
        name="cut-offs",
        teams=[TeamSpec(team="Probe", category="probe", severity="probe"), TeamSpec(team="Other", category="other")],
        severities={"critical": 1.0, "probe": severity_value, "medium": 0.5},
        priority=config,
    )


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0.80, PriorityLevel.P0),
        (0.7999, PriorityLevel.P1),
        (0.60, PriorityLevel.P1),
        (0.5999, PriorityLevel.P2),
        (0.35, PriorityLevel.P2),
        (0.3499, PriorityLevel.P3),
        (0.0, PriorityLevel.P3),
    ],
)
def test_level_cut_offs_are_inclusive(score: float, level: PriorityLevel):
    result = assess("Routine request.", "Probe", customer=customer(), taxonomy=_one_factor_taxonomy(score))
    assert result.score == pytest.approx(score)
    assert result.level is level


def test_a_score_summed_to_exactly_a_cut_off_reaches_it():
    # 0.3 × 1 + 0.4 × 0.5 + 0.2 × 1 + 0.1 × 1 is 0.8 exactly, but 0.7999999999999999 when summed in floats.
    no_escalation = TELECOM.model_copy(
        update={"priority": TELECOM.priority.model_copy(update={"escalate_after_hours": 1000})}
    )
    outage = ServiceStatus(health=ServiceHealth.OUTAGE)
    result = assess(customer=customer(vip=True), age=timedelta(hours=48), service=outage, taxonomy=no_escalation)
    assert result.score == 0.8
    assert result.level is PriorityLevel.P0  # the VIP floor alone would give P1


def test_level_cut_offs_come_from_the_taxonomy():
    result = assess(
        "Routine request.", "Probe", taxonomy=_one_factor_taxonomy(0.5, levels={"P0": 0.9, "P1": 0.45, "P2": 0.2})
    )
    assert result.level is PriorityLevel.P1


@pytest.mark.parametrize(("hours", "factor"), [(0, 0.0), (12, 0.25), (47.5, 47.5 / 48), (48, 1.0), (500, 1.0)])
def test_age_factor_grows_linearly_and_saturates_at_age_full_hours(hours: float, factor: float):
    assert assess(age=timedelta(hours=hours)).factors.age == pytest.approx(factor)


@pytest.mark.parametrize(
    ("account_type", "vip", "factor"),
    [
        (AccountType.CONSUMER, False, 0.0),
        (AccountType.BUSINESS, False, 0.5),
        (AccountType.ENTERPRISE, False, 0.8),
        (AccountType.CONSUMER, True, 1.0),
    ],
)
def test_customer_value_factor(account_type: AccountType, vip: bool, factor: float):
    assert assess(customer=customer(vip, account_type)).factors.vip == factor


def _with_priority(**changes) -> Taxonomy:
    return TELECOM.model_copy(update={"priority": TELECOM.priority.model_copy(update=changes)})


def test_customer_value_and_sla_factors_come_from_the_taxonomy():
    tuned = _with_priority(
        account_type_factors={"enterprise": 0.9, "business": 0.7, "consumer": 0.1},
        sla_factors=SlaFactors(outage=0.9, degraded=0.2, enterprise=0.6),
        vip_factor=0.95,
    )
    assert assess(customer=customer(account_type=AccountType.BUSINESS), taxonomy=tuned).factors.vip == 0.7
    assert assess(customer=customer(vip=True), taxonomy=tuned).factors.vip == 0.95
    assert assess(service=ServiceStatus(health=ServiceHealth.DEGRADED), taxonomy=tuned).factors.sla == 0.2
    assert assess(customer=customer(account_type=AccountType.ENTERPRISE), taxonomy=tuned).factors.sla == 0.6


def test_account_type_missing_from_the_taxonomy_scores_zero():
    tuned = _with_priority(account_type_factors={"enterprise": 0.8})
    assert assess(customer=customer(account_type=AccountType.BUSINESS), taxonomy=tuned).factors.vip == 0.0


# --- SLA / outage -----------------------------------------------------------------------------------------------


def test_active_outage_sets_sla_factor_and_names_the_outage():
    service = ServiceStatus(active_outages=[Outage(outage_id="OUT-7", region="Springfield", customers_affected=1200)])
    result = assess("No internet since this morning.", NETWORK, service=service)
    assert result.factors.sla == 1.0
    assert mentions(result, "OUT-7 (internet in Springfield, 1,200 customers affected)")


def test_an_outage_that_raises_the_level_says_so():
    springfield = Outage(outage_id="OUT-7", region="Springfield", customers_affected=1200)
    without = assess("Internet keeps dropping.", NETWORK)
    result = assess("Internet keeps dropping.", NETWORK, service=ServiceStatus(active_outages=[springfield]))

    assert (without.level, result.level) == (PriorityLevel.P3, PriorityLevel.P2)
    expected = (
        "Active outage: OUT-7 (internet in Springfield, 1,200 customers affected) raised the priority from P3 to P2"
    )
    assert result.decided_by == expected and expected in result.reasons


def test_an_outage_that_changes_nothing_is_not_said_to_have_raised_anything():
    """An enterprise customer already carries the full SLA factor: the outage is listed, not credited."""
    nationwide = ServiceStatus(active_outages=[Outage(outage_id="OUT-8")])
    result = assess(customer=customer(account_type=AccountType.ENTERPRISE), service=nationwide)
    assert mentions(result, "OUT-8 (internet nationwide)")
    assert not mentions(result, "raised the priority")


def test_a_degraded_service_counts_less_than_an_outage():
    degraded = Outage(outage_id="OUT-9", region="Chicago", impact=ServiceHealth.DEGRADED)
    result = assess("Internet keeps dropping.", NETWORK, service=ServiceStatus(active_outages=[degraded]))
    assert result.factors.sla == 0.5
    assert mentions(result, "OUT-9 (degraded internet in Chicago)")


@pytest.mark.parametrize(
    ("health", "factor"), [(ServiceHealth.HEALTHY, 0.0), (ServiceHealth.DEGRADED, 0.5), (ServiceHealth.OUTAGE, 1.0)]
)
def test_service_health_sets_sla_factor(health: ServiceHealth, factor: float):
    assert assess(service=ServiceStatus(health=health)).factors.sla == factor


def test_enterprise_customers_carry_an_sla():
    result = assess(customer=customer(account_type=AccountType.ENTERPRISE))
    assert result.factors.sla == 1.0
    assert mentions(result, "Enterprise SLA")


# --- severity from text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "We have no service at all.",
        "My internet is completely down.",
        "No internet for 3 days now!",
        "I have been without service for over a week.",
        "The entire neighborhood is down since the storm.",
        "Several homes on my street are affected.",
        "My neighbors also have no internet.",
        "Our business is down because the line is dead.",
        "I can't call 911 from my landline.",
        "We have no internet\nat all since Monday.",  # a line break inside the phrase
        "My internet has been down for two weeks.",
    ],
)
def test_loss_of_service_makes_a_high_severity_ticket_critical_and_at_least_p1(text: str):
    result = assess(text, NETWORK, customer=customer())
    assert result.factors.severity == 1.0
    assert result.score == pytest.approx(0.4)  # P2 by score...
    assert result.level is PriorityLevel.P1  # ...but urgent by rule
    assert mentions(result, "severity raised to critical")
    assert mentions(result, "Loss of service on a high-severity team's ticket: at least P1")


@pytest.mark.parametrize("team", [BILLING, TECHNICAL, ACCOUNT])
def test_loss_of_service_raises_severity_but_no_floor_below_high_baseline(team: str):
    result = assess("No internet for 3 days and I want a refund.", team, customer=customer())
    assert result.factors.severity == 1.0
    assert result.level is PriorityLevel.P2
    assert not mentions(result, "at least P1")


@pytest.mark.parametrize(
    "text",
    [
        "This is totally out of hand, fix my bill.",
        "Completely out of the blue my modem fee doubled.",
        "The rep, employee ID 1911275, hung up on me.",
        "Many other customers pay a rental fee on a modem they own.",
        "The mayor decided for the whole city who provides cable.",
        "No one called me back for 3 days.",
        "My internet is down.",  # a plain outage report is the team's baseline, not critical
    ],
)
def test_ordinary_complaints_are_not_critical(text: str):
    result = assess(text, NETWORK, customer=customer())
    assert result.factors.severity == 0.75
    assert result.level is PriorityLevel.P3


def test_informational_question_lowers_severity_slightly():
    result = assess("How do I set up autopay?", BILLING)
    assert 0.25 < result.factors.severity < 0.5
    assert mentions(result, "Informational question")


def test_question_scale_comes_from_the_taxonomy():
    result = assess("How do I set up autopay?", BILLING, taxonomy=_with_priority(informational_scale=0.5))
    assert result.factors.severity == pytest.approx(0.25)


def test_urgency_baseline_comes_from_the_taxonomy():
    medium_is_urgent = _with_priority(urgent_from_severity="medium")
    result = assess("No internet for 3 days and I want a refund.", BILLING, taxonomy=medium_is_urgent)
    assert result.level is PriorityLevel.P1
    assert mentions(result, "at least P1")


def test_loss_of_service_outweighs_a_question():
    assert assess("How do I get help? We have no service at all.", NETWORK).factors.severity == 1.0


# --- hard rules -------------------------------------------------------------------------------------------------


def test_vip_customer_is_at_least_p1():
    result = assess(customer=customer(vip=True))
    assert result.score == pytest.approx(0.5)  # P2 by score
    assert result.level is PriorityLevel.P1
    assert "VIP customer: at least P1" in result.reasons


def test_enterprise_customer_is_at_least_p1():
    result = assess("Please change my plan.", ACCOUNT, customer=customer(account_type=AccountType.ENTERPRISE))
    assert result.score == pytest.approx(0.3 * 0.8 + 0.4 * 0.25 + 0.1 * 1.0)  # 0.44, P2 by score
    assert result.level is PriorityLevel.P1
    assert "Enterprise customer: at least P1" in result.reasons


def test_vip_with_critical_issue_is_p0():
    result = assess("We have no service at all.", NETWORK, customer=customer(vip=True))
    assert result.score == pytest.approx(0.7)  # P1 by score
    assert result.level is PriorityLevel.P0
    assert "VIP customer with a critical issue: P0" in result.reasons


def test_the_rule_that_set_the_level_is_the_one_named():
    """The score said P1 and a floor made it P0: the headline names the floor, never 'score → P1' beside P0."""
    result = assess("We have no service at all.", NETWORK, customer=customer(vip=True))
    assert result.decided_by == "VIP customer with a critical issue: P0"
    assert result.reasons[0].startswith("Weighted score 0.70 → P1")  # the score stays explained
    by_score = assess()
    assert by_score.level is PriorityLevel.P3 and by_score.decided_by.startswith("Weighted score 0.20 → P3")
    met_floor = assess("Please change my plan.", ACCOUNT, customer=customer(vip=True))
    assert met_floor.decided_by == "VIP customer: at least P1"
    escalated = assess("Internet keeps dropping.", NETWORK, age=timedelta(hours=25))
    assert escalated.decided_by.endswith("raised one level to P1")


def test_vip_with_critical_issue_on_any_team_is_p0():
    result = assess("No internet for 3 days, refund me.", BILLING, customer=customer(vip=True))
    assert result.level is PriorityLevel.P0


def test_exactly_escalate_after_hours_is_not_raised():
    result = assess("Internet keeps dropping.", NETWORK, age=timedelta(hours=24))
    assert result.score == pytest.approx(0.4)
    assert result.level is PriorityLevel.P2
    assert not mentions(result, "raised one level")


def test_one_second_past_escalate_after_hours_is_raised_one_level():
    result = assess("Internet keeps dropping.", NETWORK, age=timedelta(hours=24, seconds=1))
    assert result.level is PriorityLevel.P1
    assert result.reasons[-1] == "Open 24.0 h (> 24 h): raised one level to P1"


def test_escalation_applies_once_after_the_floors():
    result = assess(customer=customer(vip=True), age=timedelta(hours=30))
    assert result.level is PriorityLevel.P0  # P2 by score → VIP floor P1 → raised once → P0
    assert result.reasons[-2:] == ["VIP customer: at least P1", "Open 30.0 h (> 24 h): raised one level to P0"]


def test_p0_stays_p0_when_escalated():
    result = assess("We have no service at all.", NETWORK, customer=customer(vip=True), age=timedelta(days=3))
    assert result.level is PriorityLevel.P0


# --- datetimes, missing data, other taxonomies ------------------------------------------------------------------


def test_naive_now_is_read_as_utc():
    aware = assess(age=timedelta(hours=30))
    naive = assess(age=timedelta(hours=30), now=NOW.replace(tzinfo=None))
    assert naive == aware


def test_naive_created_at_is_read_as_utc():
    naive = Ticket(ticket_id="T-1", customer_id="C-1", description="x", created_at=datetime(2025, 3, 13, 12, 0))
    result = assess_priority(naive, BILLING, TELECOM, now=NOW)
    assert result.factors.age == pytest.approx(0.5)


def test_age_across_time_zones():
    paris = timezone(timedelta(hours=1))
    opened = Ticket(
        ticket_id="T-1", customer_id="C-1", description="x", created_at=datetime(2025, 3, 13, 13, 0, tzinfo=paris)
    )
    assert assess_priority(opened, BILLING, TELECOM, now=NOW).level is PriorityLevel.P3  # exactly 24 h
    assert assess_priority(opened, BILLING, TELECOM, now=NOW + timedelta(seconds=1)).level is PriorityLevel.P2


def test_created_in_the_future_counts_as_new():
    assert assess(age=-timedelta(hours=5)).factors.age == 0.0


def test_default_now_is_the_current_time():
    fresh = Ticket(ticket_id="T-1", customer_id="C-1", description="My bill is wrong.")
    assert assess_priority(fresh, BILLING, TELECOM).factors.age < 0.01


def test_missing_customer_and_service_score_zero_and_say_so():
    result = assess()
    assert (result.factors.vip, result.factors.sla) == (0.0, 0.0)
    assert mentions(result, "No customer record")


def test_taxonomy_from_other_labels_works_without_rules_firing():
    banking = Taxonomy.from_labels(["card_arrival", "lost_or_stolen_card", "exchange_rate"], name="banking77")
    result = assess("No service at all, my card never arrived.", "card_arrival", taxonomy=banking)
    assert result.factors.severity == 1.0  # critical text still counts in the score
    assert result.level is PriorityLevel.P2  # but no team is high-severity, so no urgent floor
    assert assess("Where is my card?", "card_arrival", taxonomy=banking, customer=customer(vip=True)).level == "P1"


def test_team_missing_from_taxonomy_gets_medium_severity_and_a_reason():
    result = assess("Hello", "Fraud Squad")
    assert result.factors.severity == 0.5
    assert mentions(result, "'Fraud Squad' is not in taxonomy 'telecom'")


def test_category_name_is_accepted_for_team():
    assert assess("Slow.", "Network Outage").factors.severity == 0.75


def test_assessment_round_trips_through_json():
    result = assess("We have no service at all.", NETWORK, customer=customer(vip=True), age=timedelta(hours=30))
    assert PriorityAssessment.model_validate_json(result.model_dump_json()) == result


# --- invariants over many inputs --------------------------------------------------------------------------------

_ORDER = list(PriorityLevel)


def _score_level(score: float) -> PriorityLevel:
    levels = TELECOM.priority.levels
    return next((lvl for lvl in _ORDER if lvl.value in levels and score >= levels[lvl.value]), PriorityLevel.P3)


@settings(max_examples=60, deadline=None)
@given(
    team=st.sampled_from([*TELECOM.team_names, "Unknown Team"]),
    text=st.sampled_from(["", "My bill is wrong.", "No service at all.", "How do I log in?", "Entire area is down."]),
    vip=st.booleans(),
    account_type=st.sampled_from(list(AccountType)),
    hours=st.floats(min_value=-10, max_value=200),
    health=st.sampled_from(list(ServiceHealth)),
)
def test_rules_only_ever_make_a_ticket_more_urgent(team, text, vip, account_type, hours, health):
    result = assess(
        text,
        team,
        customer=customer(vip, account_type),
        service=ServiceStatus(health=health),
        age=timedelta(hours=hours),
    )
    assert 0.0 <= result.score <= 1.0
    assert _ORDER.index(result.level) <= _ORDER.index(_score_level(result.score))
    if vip or account_type is AccountType.ENTERPRISE:
        assert result.level in (PriorityLevel.P0, PriorityLevel.P1)
