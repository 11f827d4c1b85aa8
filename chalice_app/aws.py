"""boto3 clients with the timeouts an API behind API Gateway needs.

botocore's defaults (60 s read timeout, legacy retries) would let one slow dependency hold a request
past API Gateway's 29 s limit; a client here fails within seconds so the API can answer 503 instead.
The endpoint is left to boto3, which honours ``AWS_ENDPOINT_URL`` (the local stack's moto server).
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from datalayer.settings import Settings

_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
PROBE_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 1})
"""For health probes: a monitor wants a quick answer, and a retried probe would hide a flapping dependency."""


def client(service: str, settings: Settings, config: Config = _CONFIG) -> Any:
    """A low-level client for ``service`` in the configured region."""
    return boto3.client(service, region_name=settings.region, config=config)


def dynamodb_resource(settings: Settings) -> Any:
    """The DynamoDB resource API, which converts items to and from Python types for us."""
    return boto3.resource("dynamodb", region_name=settings.region, config=_CONFIG)
