"""Error responses of the service and the mapping of inference errors to HTTP statuses.

Every error body has the form ``{"error": {"code", "message", "request_id"}}``. The message
is fixed text written here, or built from the service's own limits and pydantic's
validation messages. Text from the endpoint goes only to the log, never into a response.

Upstream errors map as follows:

============================  ======  ==============================================
inference error               status  why
============================  ======  ==============================================
ThrottledError                503     temporary; ``Retry-After`` gives the wait
EndpointUnavailableError      503     temporary (the model is loading, or SageMaker
                                      is unavailable); ``Retry-After`` gives the wait
InferenceTimeoutError         504     the endpoint did not respond in time
ModelError                    502     the model container failed on a valid request
EndpointNotFoundError         502     a deployment or configuration fault that a
                                      retry does not fix, so not 503
InvalidRequestError           502     the service built the request, so TGI rejecting
                                      it is the service's fault; a document over the
                                      token budget is a DocumentTooLongError (413)
StreamError                   502     the response stream broke or was malformed
any other InferenceError      502
============================  ======  ==============================================

NOTE: the token budget is checked with the task's estimate of about 3 bytes per token. A
document that fits the estimate but not TGI's real token count (rare scripts, emoji) gets
TGI's 422, which this table maps to 502 although the document caused it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from inference.errors import (
    EndpointNotFoundError,
    EndpointUnavailableError,
    InferenceError,
    InferenceTimeoutError,
    InvalidRequestError,
    ModelError,
    StreamError,
    ThrottledError,
)

logger = logging.getLogger(__name__)

# Upstream messages can be long and can quote the prompt, so the log keeps only this many
# characters of them.
UPSTREAM_MESSAGE_LOG_CHARS = 200


class ErrorCode(StrEnum):
    """Machine-readable ``error.code`` values of the service's error bodies."""

    INVALID_REQUEST = "invalid_request"
    EMPTY_DOCUMENT = "empty_document"
    INVALID_DOCUMENT = "invalid_document"
    DOCUMENT_TOO_LONG = "document_too_long"
    REQUEST_TOO_LARGE = "request_too_large"
    UPSTREAM_THROTTLED = "upstream_throttled"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    UPSTREAM_MODEL_ERROR = "upstream_model_error"
    ENDPOINT_NOT_FOUND = "endpoint_not_found"
    UPSTREAM_REJECTED_REQUEST = "upstream_rejected_request"
    UPSTREAM_STREAM_ERROR = "upstream_stream_error"
    UPSTREAM_ERROR = "upstream_error"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HTTP_ERROR = "http_error"
    INTERNAL_ERROR = "internal_error"


# Messages for the codes whose text never depends on the request.
FIXED_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.UPSTREAM_THROTTLED: "The model endpoint is busy. Retry after the time in the "
    "Retry-After header.",
    ErrorCode.UPSTREAM_UNAVAILABLE: "The model endpoint is temporarily unavailable. Retry "
    "after the time in the Retry-After header.",
    ErrorCode.UPSTREAM_TIMEOUT: "The model endpoint did not respond in time.",
    ErrorCode.UPSTREAM_MODEL_ERROR: "The model failed to generate a summary.",
    ErrorCode.ENDPOINT_NOT_FOUND: "The model endpoint is not available.",
    ErrorCode.UPSTREAM_REJECTED_REQUEST: "The model endpoint rejected the request that the "
    "service sent.",
    ErrorCode.UPSTREAM_STREAM_ERROR: "The response stream from the model endpoint failed.",
    ErrorCode.UPSTREAM_ERROR: "The call to the model endpoint failed.",
    ErrorCode.NOT_FOUND: "No route matches this path.",
    ErrorCode.METHOD_NOT_ALLOWED: "This route does not accept this HTTP method.",
    ErrorCode.INTERNAL_ERROR: "The service failed to process the request.",
}


class ErrorDetail(BaseModel):
    """The ``error`` member of an error body."""

    code: str
    message: str
    request_id: str


class ErrorBody(BaseModel):
    """The body of every error response, and the data of the ``error`` stream event."""

    error: ErrorDetail


class RequestRejectedError(Exception):
    """A request that the service rejects before calling the endpoint; the message is safe."""

    def __init__(self, status_code: int, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


class RequestBodyTooLargeError(HTTPException):
    """A request body over the configured byte limit, raised while the body is read."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413)
        self.max_bytes = max_bytes


@dataclass(frozen=True)
class UpstreamFailure:
    """Status, error code and log level of the response to one kind of inference error.

    ``retry_after`` marks a temporary failure whose response carries a Retry-After header.
    """

    status_code: int
    code: ErrorCode
    log_level: int
    retry_after: bool = False


def error_body(code: ErrorCode, request_id: str, message: str | None = None) -> ErrorBody:
    """Build an error body, with the code's fixed message unless ``message`` is given."""
    text = FIXED_MESSAGES[code] if message is None else message
    return ErrorBody(error=ErrorDetail(code=code.value, message=text, request_id=request_id))


def error_response(
    status_code: int,
    code: ErrorCode,
    request_id: str,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Build the JSON response for an error; see :func:`error_body` for the message."""
    body = error_body(code, request_id, message)
    return JSONResponse(body.model_dump(), status_code=status_code, headers=headers)


def classify_upstream_error(error: InferenceError) -> UpstreamFailure:
    """Return the status, code and log level for an inference error (table in the module doc)."""
    # Subclasses before InferenceError itself, which catches whatever a newer client adds.
    if isinstance(error, ThrottledError):
        return UpstreamFailure(503, ErrorCode.UPSTREAM_THROTTLED, logging.WARNING, retry_after=True)
    if isinstance(error, EndpointUnavailableError):
        return UpstreamFailure(
            503, ErrorCode.UPSTREAM_UNAVAILABLE, logging.WARNING, retry_after=True
        )
    if isinstance(error, InferenceTimeoutError):
        return UpstreamFailure(504, ErrorCode.UPSTREAM_TIMEOUT, logging.WARNING)
    if isinstance(error, ModelError):
        return UpstreamFailure(502, ErrorCode.UPSTREAM_MODEL_ERROR, logging.ERROR)
    if isinstance(error, EndpointNotFoundError):
        return UpstreamFailure(502, ErrorCode.ENDPOINT_NOT_FOUND, logging.ERROR)
    if isinstance(error, InvalidRequestError):
        return UpstreamFailure(502, ErrorCode.UPSTREAM_REJECTED_REQUEST, logging.ERROR)
    if isinstance(error, StreamError):
        return UpstreamFailure(502, ErrorCode.UPSTREAM_STREAM_ERROR, logging.ERROR)
    return UpstreamFailure(502, ErrorCode.UPSTREAM_ERROR, logging.ERROR)


def log_upstream_failure(
    error: InferenceError,
    failure: UpstreamFailure,
    *,
    request_id: str,
    route: str,
    document_chars: int | None,
    mid_stream: bool = False,
) -> None:
    """Log one line for a failed endpoint call, with both request ids and no document text.

    Set ``mid_stream`` when the response had started, so that the client received an error
    event rather than the failure's status code.
    """
    upstream_message = (error.upstream_message or "")[:UPSTREAM_MESSAGE_LOG_CHARS]
    if mid_stream:
        outcome = f"sent error event {failure.code.value}"
    else:
        outcome = f"responded {failure.status_code} {failure.code.value}"
    logger.log(
        failure.log_level,
        "endpoint call failed: %s from endpoint %s on %s, %s, request_id=%s "
        "upstream_request_id=%s document_chars=%s upstream_message=%r",
        type(error).__name__,
        error.endpoint_name,
        route,
        outcome,
        request_id,
        error.request_id,
        document_chars,
        upstream_message,
    )


def request_id_of(request: Request) -> str:
    """Return the id that :class:`service.middleware.RequestIdMiddleware` gave the request."""
    request_id = getattr(request.state, "request_id", None)
    assert isinstance(request_id, str), "RequestIdMiddleware must wrap the app"
    return request_id


def validation_message(error: RequestValidationError) -> str:
    """Build a message from FastAPI's validation errors: locations and pydantic's messages.

    Input values are left out, so the message never repeats the document.
    """
    problems: list[str] = []
    for item in error.errors():
        if item.get("type") == "json_invalid":
            return "The request body is not valid JSON."
        location = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        problems.append(f"{location or 'body'}: {item.get('msg', 'invalid value')}")
    return "Invalid request body: " + "; ".join(problems[:MAX_VALIDATION_PROBLEMS]) + "."


MAX_VALIDATION_PROBLEMS = 5


def install_error_handlers(app: FastAPI, *, retry_after_seconds: int) -> None:
    """Register the handlers that turn every expected exception into an error body.

    Exceptions without a handler here reach :class:`service.middleware.RequestIdMiddleware`,
    which responds 500 ``internal_error``.
    """

    async def on_rejected(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestRejectedError)
        return error_response(exc.status_code, exc.code, request_id_of(request), exc.message)

    async def on_body_too_large(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestBodyTooLargeError)
        message = (
            f"The request body is larger than the limit of {exc.max_bytes} bytes. "
            "Send a shorter document."
        )
        return error_response(413, ErrorCode.REQUEST_TOO_LARGE, request_id_of(request), message)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message = validation_message(exc)
        return error_response(422, ErrorCode.INVALID_REQUEST, request_id_of(request), message)

    async def on_http_exception(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        codes = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}
        code = codes.get(exc.status_code, ErrorCode.HTTP_ERROR)
        # Starlette's own 404 and 405 carry no secrets, but a fixed text keeps every
        # error body alike; the Allow header of a 405 is kept.
        message = FIXED_MESSAGES.get(code, HTTPStatus(exc.status_code).phrase)
        return error_response(
            exc.status_code, code, request_id_of(request), message, headers=exc.headers
        )

    async def on_inference_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InferenceError)
        request_id = request_id_of(request)
        failure = classify_upstream_error(exc)
        log_upstream_failure(
            exc,
            failure,
            request_id=request_id,
            route=request.url.path,
            document_chars=getattr(request.state, "document_chars", None),
        )
        headers = None
        if failure.retry_after:
            headers = {"Retry-After": str(retry_after_seconds)}
        return error_response(failure.status_code, failure.code, request_id, headers=headers)

    app.add_exception_handler(RequestRejectedError, on_rejected)
    app.add_exception_handler(RequestBodyTooLargeError, on_body_too_large)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(InferenceError, on_inference_error)
