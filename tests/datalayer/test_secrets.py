"""Secrets from Secrets Manager: cached, re-read on demand, and refused clearly when malformed."""

from __future__ import annotations

import pytest

from datalayer.secrets import SecretError, SecretReader
from tests.support import Aws


@pytest.fixture
def reader(aws: Aws) -> SecretReader:
    return SecretReader(aws.settings)


def test_cached_until_refreshed(reader: SecretReader, aws: Aws) -> None:
    reader.put("creds", {"email": "a@example.com", "api_token": "old"})
    assert reader.get("creds")["api_token"] == "old"

    SecretReader(aws.settings).put("creds", {"email": "a@example.com", "api_token": "rotated"})  # another process

    assert reader.get("creds")["api_token"] == "old"
    assert reader.refresh("creds")["api_token"] == "rotated" and reader.get("creds")["api_token"] == "rotated"


def test_missing_or_malformed_secrets_are_one_clear_error(reader: SecretReader, aws: Aws) -> None:
    with pytest.raises(SecretError, match="secret nope unreadable"):
        reader.get("nope")
    reader._client.create_secret(Name="text", SecretString="not json")
    with pytest.raises(SecretError, match="not JSON"):
        reader.get("text")
