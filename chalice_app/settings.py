"""Runtime configuration of the AWS side, in one place, read from the environment.

The same names are set by ``.chalice/config.json`` for each stage in AWS and by the local stack
(``infra``) against the embedded moto server, so the code never knows which one it talks to.
boto3 itself honours ``AWS_ENDPOINT_URL``, which is how the local stack points every client at moto.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    stage: str = "dev"
    region: str = "us-east-1"
    tickets_table: str = "switchboard-dev-tickets"
    customers_table: str = "switchboard-dev-customers"
    event_bus: str = "switchboard-dev-bus"
    event_source: str = "switchboard.tickets"
    routing_queue: str = "switchboard-dev-routing"
    routing_dlq: str = "switchboard-dev-routing-dlq"
    api_keys: tuple[str, ...] = field(default_factory=tuple)
    ticket_ttl_days: int = 90
    max_body_bytes: int = 64 * 1024
    stuck_after_seconds: int = 120
    retry_after_seconds: int = 5  # Retry-After of the API's 503 answers
    max_publish_attempts: int = 5  # accepted TicketReceived events before the sweep gives a ticket up as failed
    sweep_batch_size: int = 100  # stuck tickets one sweep run handles, which bounds its Lambda time

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        stage = env.get("SWITCHBOARD_STAGE", "dev")
        prefix = f"switchboard-{stage}"
        return cls(
            stage=stage,
            region=env.get("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1")),
            tickets_table=env.get("TICKETS_TABLE", f"{prefix}-tickets"),
            customers_table=env.get("CUSTOMERS_TABLE", f"{prefix}-customers"),
            event_bus=env.get("EVENT_BUS_NAME", f"{prefix}-bus"),
            routing_queue=env.get("ROUTING_QUEUE_NAME", f"{prefix}-routing"),
            routing_dlq=env.get("ROUTING_DLQ_NAME", f"{prefix}-routing-dlq"),
            api_keys=_csv(env.get("SWITCHBOARD_API_KEYS", "")),
            ticket_ttl_days=int(env.get("TICKET_TTL_DAYS", "90")),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", str(64 * 1024))),
            stuck_after_seconds=int(env.get("STUCK_AFTER_SECONDS", "120")),
            retry_after_seconds=int(env.get("RETRY_AFTER_SECONDS", "5")),
            max_publish_attempts=int(env.get("MAX_PUBLISH_ATTEMPTS", "5")),
            sweep_batch_size=int(env.get("SWEEP_BATCH_SIZE", "100")),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process; tests call ``get_settings.cache_clear()`` after changing the environment."""
    return Settings.from_env()
