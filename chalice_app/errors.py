"""The API's errors: one class per HTTP status, each rendering the same JSON envelope.

Every error body is ``{"error": <code>, "message": <sentence>, "details": <list | object | null>}``.
``ApiError`` derives from Chalice's ``ChaliceUnhandledError`` so that Chalice lets it propagate out of
a view to the API's middleware (``chalice_app.middleware``), which renders it; any other exception
Chalice would turn into its own ``{"Code", "Message"}`` body, which the middleware rewrites via
``from_chalice_error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from chalice import Response
from chalice.app import ChaliceUnhandledError
from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: str = Field(description="Machine-readable code, e.g. validation_error, conflict, service_unavailable.")
    message: str = Field(description="A sentence for a human.")
    details: list[Any] | dict[str, Any] | None = Field(
        default=None, description="Specifics, e.g. the schema violations of a 422 (input values are not echoed)."
    )


class ApiError(ChaliceUnhandledError):
    """Base of every error the API answers on purpose; subclasses fix the status and the error code."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "An internal error occurred."

    def __init__(
        self,
        message: str | None = None,
        details: Any = None,
        headers: Mapping[str, str | list[str]] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return ErrorBody(error=self.code, message=self.message, details=self.details).model_dump(mode="json")

    def to_response(self) -> Response:
        return Response(body=self.body(), status_code=self.status_code, headers=self.headers)


class BadRequestError(ApiError):
    status_code = 400
    code = "bad_request"
    default_message = "The request is malformed."


class MalformedJsonError(BadRequestError):
    code = "malformed_json"
    default_message = "The request body is not valid JSON."


class InvalidQueryError(BadRequestError):
    code = "invalid_query"
    default_message = "The query string is invalid."


class UnauthorizedError(ApiError):
    status_code = 401
    code = "unauthorized"
    default_message = "A valid API key is required in the x-api-key header."


class NotFoundError(ApiError):
    status_code = 404
    code = "not_found"
    default_message = "No such resource."


class MethodNotAllowedError(ApiError):
    status_code = 405
    code = "method_not_allowed"
    default_message = "This method is not allowed on this resource."


class ConflictError(ApiError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the resource's current state."


class PayloadTooLargeError(ApiError):
    status_code = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaTypeError(ApiError):
    status_code = 415
    code = "unsupported_media_type"
    default_message = "The request body must be application/json."


class RequestValidationError(ApiError):
    status_code = 422
    code = "validation_error"
    default_message = "The request body does not match the schema."


class InternalError(ApiError):
    """The catch-all: says nothing about the cause, which is logged instead."""


class ServiceUnavailableError(ApiError):
    """A dependency (DynamoDB, EventBridge) failed; the request is safe to retry after ``Retry-After``."""

    status_code = 503
    code = "service_unavailable"
    default_message = "A dependency is unavailable; retry the same request later."

    def __init__(self, message: str | None = None, details: Any = None, *, retry_after: int) -> None:
        super().__init__(message, details, headers={"Retry-After": str(retry_after)})


_BY_STATUS: dict[int, type[ApiError]] = {
    cls.status_code: cls
    for cls in (
        BadRequestError,
        UnauthorizedError,
        NotFoundError,
        MethodNotAllowedError,
        ConflictError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        RequestValidationError,
        InternalError,
    )
}


def is_chalice_error(response: Response) -> bool:
    """True for the ``{"Code", "Message"}`` bodies Chalice writes itself (405, 415, unhandled 500)."""
    body = response.body
    return response.status_code >= 400 and isinstance(body, dict) and set(body) == {"Code", "Message"}


def from_chalice_error(response: Response) -> ApiError:
    """The API's own error for a Chalice error response, keeping its headers (e.g. ``Allow`` on a 405).

    Chalice's 500 message is generic already; other messages (``Unsupported media type: text/plain``)
    are safe to show.
    """
    cls = _BY_STATUS.get(response.status_code, InternalError)
    message = None if cls is InternalError else str(response.body["Message"])
    return cls(message, headers=response.headers)
