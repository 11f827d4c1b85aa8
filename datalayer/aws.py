"""boto3 clients for every part of Switchboard, built from ``Settings`` alone.

Timeouts: botocore's defaults (60 s read timeout, legacy retries) would let one slow dependency hold an API
request past API Gateway's 29 s limit; a client here fails within seconds so the API can answer 503 instead.

Endpoint and credentials: ``settings.endpoint_url`` points every client at the local stack's moto server. A
loopback endpoint gets fixed dummy credentials, so nobody has to export fake AWS keys to use the local stack or
the operator commands against it; anywhere else boto3's usual credential chain applies.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

from datalayer.settings import Settings

DEFAULT_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
PROBE_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 1})
"""For health probes: a monitor wants a quick answer, and a retried probe would hide a flapping dependency."""

LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_local(settings: Settings) -> bool:
    """Whether the clients talk to an embedded AWS on this machine rather than to AWS."""
    return bool(settings.endpoint_url) and urlsplit(settings.endpoint_url).hostname in _LOOPBACK_HOSTS


class _SearchPaths(list[str]):
    """A loader's search paths that stay unique: boto3 appends its own data path for every session it makes."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


_MODELS = Loader(extra_search_paths=_SearchPaths())
"""botocore's service, endpoint and resource models, read from disk once per process.

Every new session otherwise reads and parses them again (several MB of JSON): a worker builds a handful of stores,
each with its own session, so a cold worker (a new Lambda environment, a new poller thread of the local stack)
spent seconds on its first ticket re-reading the same files. The loaded models are only read, never changed.
"""


def session(settings: Settings) -> boto3.session.Session:
    """A session in the settings' region; with dummy credentials when the endpoint is local.

    A new session each time (sessions are not thread-safe), sharing the models already loaded (``_MODELS``).
    """
    credentials = LOCAL_CREDENTIALS if is_local(settings) else {}
    core = botocore.session.get_session()
    core.register_component("data_loader", _MODELS)
    return boto3.session.Session(botocore_session=core, region_name=settings.region, **credentials)


def client(service: str, settings: Settings, config: Config = DEFAULT_CONFIG) -> Any:
    """A low-level client for ``service``."""
    return session(settings).client(service, endpoint_url=settings.endpoint_url, config=config)


def dynamodb_resource(settings: Settings) -> Any:
    """The DynamoDB resource API, which converts items to and from Python types for us."""
    return session(settings).resource("dynamodb", endpoint_url=settings.endpoint_url, config=DEFAULT_CONFIG)
