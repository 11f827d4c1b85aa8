"""The API's single error boundary and access log, as Chalice HTTP middleware.

Middleware wraps Chalice's own request handling, which is what makes it the one place that sees
everything: the API key is checked (where the app checks it; deployed, API Gateway does) before Chalice looks
at the route (so a bad key is a 401 even when the body is also wrong), ``ApiError`` raised by a view is rendered
here, and the errors Chalice answers
by itself (405, 415, and the 500 of an unexpected exception, which Chalice logs with its stack trace)
are rewritten into the API's envelope. Nothing here ever sends a stack trace to a client.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aws_lambda_powertools import Logger
from chalice import Response
from chalice.app import Request

from chalice_app import correlation, deps
from chalice_app.auth import require_api_key
from chalice_app.errors import ApiError, InternalError, from_chalice_error, is_chalice_error
from datalayer.settings import get_settings

logger = Logger(service="switchboard-api")

Middleware = Callable[[Request, Callable[[Request], Response]], Response]


def error_boundary(public_paths: frozenset[str]) -> Middleware:
    """Middleware that authenticates every route but ``public_paths`` and renders every error as JSON."""

    def middleware(request: Request, get_response: Callable[[Request], Response]) -> Response:
        started = time.perf_counter()
        route = request.context.get("resourcePath", "")
        correlation_id = correlation.from_request(request.headers, request.context)
        token = correlation.bind(correlation_id)
        # Per thread: one Lambda environment serves one request at a time, the local server one per thread.
        logger.thread_safe_append_keys(correlation_id=correlation_id)
        try:
            settings = get_settings()
            if route not in public_paths and settings.api_auth == "app":
                require_api_key(request.headers, settings.api_keys)
            response = get_response(request)
            if is_chalice_error(response):
                response = _render(from_chalice_error(response), route)
        except ApiError as error:
            response = _render(error, route)
        except Exception:
            logger.exception("unhandled error in the API middleware", extra={"route": route})
            response = InternalError().to_response()
        finally:
            correlation.unbind(token)
            deps.metrics.get().flush()
        response.headers[correlation.CORRELATION_HEADER] = correlation_id
        if not isinstance(response.body, str | bytes):
            response.headers.setdefault("Content-Type", "application/json")
        logger.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "request_id": request.context.get("requestId"),
            },
        )
        return response

    return middleware


def _render(error: ApiError, route: str) -> Response:
    if error.status_code >= 500:
        logger.error(
            "request failed",
            extra={"route": route, "error": error.code, "reason": error.message},
            exc_info=error.__cause__ is not None,
        )
    return error.to_response()
