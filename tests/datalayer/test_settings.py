"""Settings: one object, read from the environment in one place, names derived from the stage."""

from __future__ import annotations

import pytest

from datalayer import aws
from datalayer.errors import SettingsError
from datalayer.settings import (
    RESOURCES,
    RoutingPolicy,
    Settings,
    dlq_archive_bucket_name,
    get_settings,
    use_settings,
)


def test_a_stage_alone_names_every_resource() -> None:
    settings = Settings.from_environment({"SWITCHBOARD_STAGE": "prod"})
    assert settings.tickets_table == "switchboard-prod-tickets"
    assert settings.status_table == "switchboard-prod-service-status"
    assert all(getattr(settings, name).startswith("switchboard-prod-") for name in RESOURCES)


def test_the_operator_tools_resources_follow_the_stage_but_stay_out_of_the_functions_resources() -> None:
    prod = Settings.from_environment({"SWITCHBOARD_STAGE": "prod"})
    assert prod.audit_log_group == "switchboard-prod-audit" and "audit_log_group" not in RESOURCES
    assert prod.derive(stage="staging").audit_log_group == "switchboard-staging-audit"
    assert prod.dlq_archive_bucket is None
    assert dlq_archive_bucket_name("prod", "123456789012") == "switchboard-prod-dlq-archive-123456789012"
    assert len(dlq_archive_bucket_name("a" * 21, "123456789012")) <= 63, "S3's limit, for the longest stage name"


def test_a_deployment_can_name_resources_one_by_one() -> None:
    settings = Settings.from_environment(
        {"SWITCHBOARD_STAGE": "prod", "SWITCHBOARD_TICKETS_TABLE": "Tickets-ABC123", "AWS_REGION": "eu-west-1"}
    )
    assert (settings.tickets_table, settings.customers_table) == ("Tickets-ABC123", "switchboard-prod-customers")
    assert settings.region == "eu-west-1"


def test_environment_values_are_parsed_and_validated() -> None:
    settings = Settings.from_environment(
        {"SWITCHBOARD_API_KEYS": " k1 , k2,, ", "SWITCHBOARD_ROUTING_POLICY": "cascade", "AWS_ENDPOINT_URL": "http://x"}
    )
    assert settings.api_keys == ("k1", "k2")
    assert settings.routing_policy is RoutingPolicy.CASCADE
    assert settings.endpoint_url == "http://x"
    with pytest.raises(SettingsError, match="review_threshold"):
        Settings.from_environment({"SWITCHBOARD_REVIEW_THRESHOLD": "1.5"})


def test_derive_validates_and_renames_with_the_stage() -> None:
    dev = Settings.from_environment({})
    staging = dev.derive(stage="staging")
    assert staging.routing_queue == "switchboard-staging-routing" and dev.routing_queue.startswith("switchboard-dev")
    with pytest.raises(SettingsError, match="stage"):
        dev.derive(stage="Not A Stage")


def test_the_process_settings_are_read_once_and_replaceable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_STAGE", "qa")
    use_settings(None)
    try:
        assert get_settings().stage == "qa"
        monkeypatch.setenv("SWITCHBOARD_STAGE", "other")
        assert get_settings().stage == "qa"  # read once per process
        use_settings(Settings(stage="given"))
        assert get_settings().stage == "given"
        monkeypatch.setenv("SWITCHBOARD_ROUTING_POLICY", "sometimes")
        use_settings(None)
        with pytest.raises(SettingsError, match="routing_policy"):
            get_settings()
    finally:
        monkeypatch.undo()
        use_settings(None)


def test_a_loopback_endpoint_needs_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    local = Settings(endpoint_url="http://127.0.0.1:5000")
    credentials = aws.session(local).get_credentials()
    assert aws.is_local(local) and credentials is not None and credentials.access_key == "local"
    assert aws.client("sqs", local).meta.endpoint_url == "http://127.0.0.1:5000"
    assert not aws.is_local(Settings()) and not aws.is_local(Settings(endpoint_url="https://sqs.example.com"))
