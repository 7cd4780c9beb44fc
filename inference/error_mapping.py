"""Map botocore's exceptions and TGI's error bodies to the errors in ``inference.errors``."""

from __future__ import annotations

import json
from typing import Any

import urllib3.exceptions
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

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

# Codes SageMaker uses for a stream that failed after it started. botocore raises them
# from the EventStream iterator, or yields them as keys of an event.
STREAM_ERROR_CODES = ("ModelStreamError", "InternalStreamFailure")

# Codes of an endpoint that cannot take the request now but may soon. botocore's service
# model for sagemaker-runtime (2017-05-13) documents ModelNotReadyException as "Wait and try
# your request again" and ServiceUnavailable as "Try your call again". InternalFailure (500)
# is left out: the model documents it only as "An internal failure occurred", with no
# advice to retry, and a retry could repeat a generation that the container already ran.
UNAVAILABLE_ERROR_CODES = ("ModelNotReadyException", "ServiceUnavailable")


def error_from_client_error(error: ClientError, endpoint_name: str) -> InferenceError:
    """Classify a ClientError from invoke_endpoint(_with_response_stream) or its stream."""
    response: dict[str, Any] = dict(error.response)
    code = str(response.get("Error", {}).get("Code", ""))
    message = str(response.get("Error", {}).get("Message", ""))
    request_id = response.get("ResponseMetadata", {}).get("RequestId") or None
    context: dict[str, Any] = {
        "endpoint_name": endpoint_name,
        "request_id": request_id,
        "error_code": code or None,
    }

    if code == "ModelError":
        return _model_error(response, message, context)
    if code == "ThrottlingException":
        return ThrottledError(
            "SageMaker throttled the request; retry later or raise the endpoint's capacity",
            upstream_message=message,
            **context,
        )
    if code in UNAVAILABLE_ERROR_CODES:
        return EndpointUnavailableError(
            f"endpoint {endpoint_name} is temporarily unavailable ({code}); retry later",
            upstream_message=message,
            **context,
        )
    if code == "ValidationError" and _names_missing_endpoint(message):
        return EndpointNotFoundError(
            f"endpoint {endpoint_name} was not found; check its name and the client's region",
            upstream_message=message,
            **context,
        )
    if code == "ValidationError":
        return InvalidRequestError(
            "SageMaker rejected the request", upstream_message=message, **context
        )
    if code in STREAM_ERROR_CODES:
        return stream_error(code, message, endpoint_name=endpoint_name, request_id=request_id)
    return InferenceError(
        f"SageMaker returned {code or 'an error'}", upstream_message=message, **context
    )


def _model_error(response: dict[str, Any], message: str, context: dict[str, Any]) -> InferenceError:
    # botocore merges the modelled ModelError members into the top level of the response.
    status = response.get("OriginalStatusCode")
    original = response.get("OriginalMessage")
    upstream = tgi_error_message(original) if isinstance(original, str) else None
    upstream = upstream or message

    # SageMaker reports its 60-second invocation limit as a ModelError whose message contains
    # "timed out". The container sent no response, so there is no original status.
    if "timed out" in message.lower():
        return InferenceTimeoutError(
            "the model did not answer within SageMaker's 60-second invocation limit;"
            " lower max_new_tokens or stream the response",
            upstream_message=upstream,
            **context,
        )
    if status == 422:
        return InvalidRequestError(
            "TGI rejected the request as invalid", upstream_message=upstream, **context
        )
    return ModelError(
        f"the model container failed (status {status})"
        if status is not None
        else "the model container failed",
        upstream_message=upstream,
        **context,
    )


def _names_missing_endpoint(message: str) -> bool:
    lowered = message.lower()
    return "endpoint" in lowered and "not found" in lowered


def tgi_error_message(body: str) -> str:
    """Return the ``error`` field of a TGI error body, or the body itself when not JSON."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return body
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, str) else body


def stream_error(
    code: str | None, message: str, *, endpoint_name: str, request_id: str | None
) -> StreamError:
    return StreamError(
        f"the response stream failed ({code})" if code else "the response stream failed",
        endpoint_name=endpoint_name,
        upstream_message=message,
        request_id=request_id,
        error_code=code,
    )


def error_from_transport_error(
    error: BotoCoreError | urllib3.exceptions.HTTPError, endpoint_name: str, *, streaming: bool
) -> InferenceError:
    """Classify connection-level errors from botocore, or from urllib3 while reading a stream.

    These carry no request id. Other failures while reading a started stream become
    StreamError, since part of the answer may already have been delivered.
    """
    upstream = str(error)
    if isinstance(error, ReadTimeoutError | urllib3.exceptions.ReadTimeoutError):
        return InferenceTimeoutError(
            "no response arrived within the client's read timeout",
            endpoint_name=endpoint_name,
            upstream_message=upstream,
        )
    if isinstance(error, ConnectTimeoutError | urllib3.exceptions.ConnectTimeoutError):
        return InferenceTimeoutError(
            "connecting to SageMaker timed out",
            endpoint_name=endpoint_name,
            upstream_message=upstream,
        )
    if streaming:
        return StreamError(
            "the connection failed while reading the response stream",
            endpoint_name=endpoint_name,
            upstream_message=upstream,
        )
    return InferenceError(
        "the request to SageMaker failed", endpoint_name=endpoint_name, upstream_message=upstream
    )
