"""Amazon Bedrock: strands' ``BedrockModel`` on Converse, without streaming, with our timeouts and no retries.

* ``streaming=False``: the verdict is one small structured answer; nothing is gained by streaming it, and one
  Converse call keeps the read timeout a bound on the whole answer rather than on the gap between two chunks.
* An explicit botocore ``Config``: passing one replaces strands' default (a 120 s read timeout) entirely, so the
  connect and read timeouts come from the settings, and retries are ``total_max_attempts: 1`` (one attempt in
  all). Note that botocore's ``max_attempts`` counts *retries* (``max_attempts: 1`` means two attempts); the worker
  retries with its own policy, so the client must not.
* The region is ``agent_region`` or the stage's ``region``. ``Settings.endpoint_url`` is deliberately not used:
  it points every store at the local stack's moto, which has no Bedrock.

``bedrock_error`` maps what botocore raises to the agent's errors (strands itself turns ThrottlingException into
``ModelThrottledException``, which the runner maps; the rest arrives as botocore's own exceptions).
"""

from __future__ import annotations

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from strands.models.bedrock import BedrockModel

from agent.llm.errors import (
    AgentError,
    AgentOutputError,
    AgentProviderError,
    AgentThrottledError,
    AgentTimeoutError,
    FailureCause,
)
from datalayer.settings import Settings

_THROTTLED = {
    "ThrottlingException": FailureCause.THROTTLED,
    "throttlingException": FailureCause.THROTTLED,
    "ServiceQuotaExceededException": FailureCause.QUOTA_EXCEEDED,
    "ModelNotReadyException": FailureCause.MODEL_NOT_READY,
}
_PROVIDER = {
    "AccessDeniedException": FailureCause.ACCESS_DENIED,
    "UnrecognizedClientException": FailureCause.ACCESS_DENIED,
    "ExpiredTokenException": FailureCause.ACCESS_DENIED,
    "ResourceNotFoundException": FailureCause.MODEL_NOT_FOUND,
    "InternalServerException": FailureCause.SERVER_ERROR,
    "ServiceUnavailableException": FailureCause.SERVER_ERROR,
    "ModelErrorException": FailureCause.SERVER_ERROR,
    "ModelStreamErrorException": FailureCause.SERVER_ERROR,
    "ValidationException": FailureCause.BAD_REQUEST,
}


def client_config(settings: Settings) -> Config:
    """The bedrock-runtime client's configuration: the settings' timeouts and exactly one attempt."""
    return Config(
        connect_timeout=settings.agent_connect_timeout_s,
        read_timeout=settings.agent_read_timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )


def bedrock_model(settings: Settings, *, endpoint_url: str | None = None) -> BedrockModel:
    """The Bedrock model ``settings`` configure; ``endpoint_url`` only for a VPC endpoint (or a test server)."""
    return BedrockModel(
        model_id=settings.agent_model_id,
        region_name=settings.agent_region or settings.region,
        endpoint_url=endpoint_url,
        boto_client_config=client_config(settings),
        streaming=False,
        temperature=settings.agent_temperature,
        max_tokens=settings.agent_max_tokens,
    )


def bedrock_error(error: BaseException) -> AgentError | None:
    """The agent error a botocore exception means; None for anything else."""
    if isinstance(error, ReadTimeoutError):
        return AgentTimeoutError("Bedrock read timed out", cause=FailureCause.READ_TIMEOUT)
    if isinstance(error, ConnectTimeoutError):
        return AgentTimeoutError("Bedrock connect timed out", cause=FailureCause.CONNECT_TIMEOUT)
    if isinstance(error, EndpointConnectionError | ConnectionClosedError):
        return AgentProviderError(f"Bedrock unreachable: {error}", cause=FailureCause.CONNECTION_FAILED)
    if isinstance(error, NoCredentialsError):
        return AgentProviderError("no AWS credentials for Bedrock", cause=FailureCause.ACCESS_DENIED)
    if not isinstance(error, ClientError):
        return None
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    message = f"Bedrock {code or status}: {details.get('Message', '')}".strip()
    if code in _THROTTLED:
        return AgentThrottledError(message, cause=_THROTTLED[code])
    if code == "ModelTimeoutException":
        return AgentTimeoutError(message, cause=FailureCause.MODEL_TIMEOUT)
    if code == "ValidationException" and "model identifier is invalid" in message:
        return AgentProviderError(message, cause=FailureCause.MODEL_NOT_FOUND)
    if code == "ValidationException" and "too long" in message.lower():
        return AgentOutputError(message, cause=FailureCause.CONTEXT_OVERFLOW)
    if code in _PROVIDER:
        return AgentProviderError(message, cause=_PROVIDER[code])
    if status == 429:
        return AgentThrottledError(message, cause=FailureCause.THROTTLED)
    cause = FailureCause.SERVER_ERROR if status >= 500 else FailureCause.BAD_REQUEST
    return AgentProviderError(message, cause=cause)
