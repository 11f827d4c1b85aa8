from datetime import UTC, datetime, timedelta

import pytest

from agent.classification import Classification
from agent.classifier import TextClassifier
from agent.router import Router
from agent.taxonomy import load_taxonomy
from datalayer.errors import SettingsError
from datalayer.settings import Settings, use_settings
from datalayer.types import AccountType, CustomerContext, RoutingDecision, Ticket


def _ticket(text: str, **extra) -> Ticket:
    return Ticket(ticket_id="T-1", customer_id="C-1", subject="", description=text, **extra)


@pytest.fixture(scope="module")
def shipped() -> Router:
    return Router.load()


@pytest.mark.parametrize(
    ("text", "team"),
    [
        (
            "I was charged twice for my monthly bill and want a refund of the duplicate $89.99 charge.",
            "Billing Support",
        ),
        (
            "Internet and TV have been completely down in our whole neighborhood since last night, outage again.",
            "Network Operations",
        ),
        (
            "I cannot log in to my online account, the password reset e-mail never arrives and I am locked out.",
            "Account Management",
        ),
        (
            "The technician never showed up for my installation appointment and the new modem is not set up.",
            "Technical Support",
        ),
    ],
)
def test_shipped_model_routes_clear_tickets(shipped, text, team):
    decision = shipped.route(_ticket(text))
    assert decision.team == team
    assert decision.category == shipped.taxonomy.category_of[team]
    assert decision.model_version == shipped.model_version


def test_decision_is_complete_and_round_trips_json(shipped):
    ticket = _ticket("Charged $45.50 late fee on account 8771 2012 3456 7890 although autopay paid. Call 555-123-4567.")
    decision = shipped.route(ticket)
    assert RoutingDecision.model_validate_json(decision.model_dump_json()) == decision
    assert len(decision.alternatives) == 2
    assert decision.alternatives[0].team == decision.team
    assert decision.alternatives[0].confidence >= decision.alternatives[1].confidence
    assert decision.entities.money_amounts[0].amount == pytest.approx(45.50)
    assert decision.entities.phone_numbers == ["+15551234567"]
    assert decision.troubleshooting.steps or decision.troubleshooting.manual_investigation_required
    assert decision.reasoning and decision.priority.reasons
    assert decision.processing_ms > 0


@pytest.mark.parametrize("text", ["", "   ", "asdkjh qwpoeiru zmxncbv lkjhasd poiuqwe", "ok"])
def test_empty_or_gibberish_goes_to_manual_review_not_a_confident_guess(shipped, text):
    decision = shipped.route(_ticket(text))
    assert decision.requires_manual_review
    assert decision.confidence <= 0.25 + 1e-9
    assert any("Out of scope" in r for r in decision.review_reasons)


def test_unrelated_request_goes_to_manual_review(shipped):
    decision = shipped.route(
        _ticket("What is a good recipe for chocolate chip cookies with brown butter and sea salt?")
    )
    assert decision.requires_manual_review


class FixedClassifier:
    """A stand-in model whose output the test controls, to check the router's own rules."""

    version = "fixed-1"

    def __init__(self, probabilities: dict[str, float], categories: list[str] | None = None) -> None:
        self.taxonomy = load_taxonomy()
        self.result = Classification(probabilities=probabilities, categories=categories or [])

    def classify(self, texts):
        return [self.result for _ in texts]


PROBS = {"Billing Dispute": 0.69, "Network Outage": 0.21, "Technical Problem": 0.06, "Account Access": 0.04}


def test_below_threshold_requires_review_with_top_two_teams():
    decision = Router(FixedClassifier(PROBS)).route(_ticket("my bill"))
    assert decision.requires_manual_review
    assert [a.team for a in decision.alternatives] == ["Billing Support", "Network Operations"]
    assert [a.confidence for a in decision.alternatives] == [0.69, 0.21]
    assert "below the 70% threshold" in decision.review_reasons[0]


def test_threshold_is_configurable(monkeypatch):
    assert not Router(FixedClassifier(PROBS), review_threshold=0.6).route(_ticket("x")).requires_manual_review
    exactly = {**PROBS, "Billing Dispute": 0.70, "Network Outage": 0.20}
    assert not Router(FixedClassifier(exactly)).route(_ticket("x")).requires_manual_review
    assert Router.load("keyword", settings=Settings(review_threshold=0.95)).review_threshold == 0.95
    monkeypatch.setenv("SWITCHBOARD_REVIEW_THRESHOLD", "high")
    use_settings(None)
    try:
        with pytest.raises(SettingsError, match="review_threshold"):
            Router.load("keyword")
    finally:
        monkeypatch.undo()
        use_settings(None)


def test_several_issues_are_all_listed_and_explained():
    decision = Router(FixedClassifier(PROBS, ["Billing Dispute", "Network Outage"])).route(_ticket("x"))
    assert decision.categories == ["Billing Dispute", "Network Outage"]
    assert any("Also raises: Network Outage" in line for line in decision.reasoning)


def test_multi_issue_threshold_comes_from_the_taxonomy(tiny_model):
    classifier = TextClassifier.load(tiny_model)
    text = "Outage all week and I was billed anyway, refund the charge"
    classifier.taxonomy.thresholds.multi_issue = 0.0
    assert len(classifier.classify([text])[0].categories) == 4
    classifier.taxonomy.thresholds.multi_issue = 1.0
    assert classifier.classify([text])[0].categories == []


def test_priority_uses_customer_and_age(shipped):
    old = datetime.now(UTC) - timedelta(hours=30)
    vip = CustomerContext(customer_id="C-1", vip=True, account_type=AccountType.ENTERPRISE)
    ticket = _ticket("Internet completely down for our whole office, no service at all since yesterday", created_at=old)
    decision = shipped.route(ticket, customer=vip)
    assert decision.priority.level == "P0"
    assert decision.priority.factors.vip == 1.0


def test_batch_routing_matches_single_routing(shipped):
    tickets = [_ticket("refund my late fee please"), _ticket("router error 651 after setup")]
    batch = shipped.route_batch(tickets)
    single = [shipped.route(t) for t in tickets]
    assert [d.team for d in batch] == [d.team for d in single]
    assert [d.confidence for d in batch] == pytest.approx([d.confidence for d in single], abs=1e-9)


def test_keyword_baseline_router():
    decision = Router.load("keyword").route(_ticket("refund the charge on my bill"))
    assert decision.team == "Billing Support"
    assert decision.model_version == "keyword-baseline"


def test_cascade_skips_the_encoder_for_tickets_the_fast_head_is_sure_of(shipped, monkeypatch):
    classifier = shipped.classifier
    assert classifier.fast is not None, "the shipped model carries a fast TF-IDF head"
    encoder = classifier.encoder
    calls = []
    original = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda texts: calls.append(len(texts)) or original(texts))
    clear = "I was billed twice this month, refund the duplicate charge and the late fee on my bill."
    vague = "hello, I have a question about something with my stuff, please call me back"
    shipped.route(_ticket(clear))
    assert calls == []
    shipped.route(_ticket(vague))
    assert calls == [1]
