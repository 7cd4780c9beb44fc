"""Mapping of botocore's ClientError shapes and transport errors to inference errors."""

from __future__ import annotations

from typing import Any

import pytest
import urllib3.exceptions
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    EventStreamError,
    ReadTimeoutError,
)

from inference.error_mapping import error_from_client_error, error_from_transport_error
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

ENDPOINT = "llm-endpoint-dev"


def client_error(code: str, message: str, **extra: Any) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"RequestId": "req-123", "HTTPStatusCode": 400},
        **extra,
    }
    return ClientError(response, "InvokeEndpoint")  # type: ignore[arg-type]


def model_error(status: int | None, original: str, message: str = "") -> ClientError:
    extra: dict[str, Any] = {"OriginalMessage": original}
    if status is not None:
        extra["OriginalStatusCode"] = status
    text = message or f'Received client error ({status}) from primary with message "{original}".'
    return client_error("ModelError", text, **extra)


def test_422_is_invalid_request() -> None:
    error = error_from_client_error(
        model_error(
            422,
            '{"error":"Input validation error: `top_p` must be > 0.0","error_type":"validation"}',
        ),
        ENDPOINT,
    )

    assert type(error) is InvalidRequestError
    assert error.upstream_message == "Input validation error: `top_p` must be > 0.0"
    assert error.endpoint_name == ENDPOINT
    assert error.request_id == "req-123"


def test_424_is_model_error() -> None:
    error = error_from_client_error(
        model_error(
            424,
            '{"error":"Request failed during generation: CUDA out of memory",'
            '"error_type":"generation"}',
        ),
        ENDPOINT,
    )

    assert type(error) is ModelError
    assert error.upstream_message == "Request failed during generation: CUDA out of memory"
    assert "status 424" in str(error)


def test_other_status_is_model_error_with_plain_body() -> None:
    error = error_from_client_error(model_error(500, "Internal Server Error"), ENDPOINT)

    assert type(error) is ModelError
    assert error.upstream_message == "Internal Server Error"


def test_timed_out_model_error_is_timeout() -> None:
    message = (
        'Received server error (0) from primary with message "Your invocation timed out'
        ' while waiting for a response from container primary."'
    )

    error = error_from_client_error(model_error(None, "", message=message), ENDPOINT)

    assert type(error) is InferenceTimeoutError
    assert error.request_id == "req-123"
    assert "60-second" in str(error)


def test_throttling_is_throttled() -> None:
    error = error_from_client_error(client_error("ThrottlingException", "Rate exceeded"), ENDPOINT)

    assert type(error) is ThrottledError
    assert error.upstream_message == "Rate exceeded"


def test_missing_endpoint_is_not_found() -> None:
    message = f"Endpoint {ENDPOINT} of account 123456789012 not found."

    error = error_from_client_error(client_error("ValidationError", message), ENDPOINT)

    assert type(error) is EndpointNotFoundError
    assert error.upstream_message == message


def test_other_validation_error_is_invalid_request() -> None:
    error = error_from_client_error(
        client_error("ValidationError", "Request payload is too large"), ENDPOINT
    )

    assert type(error) is InvalidRequestError


@pytest.mark.parametrize("code", ["ModelStreamError", "InternalStreamFailure"])
def test_stream_exception_event_is_stream_error(code: str) -> None:
    raised = EventStreamError(
        {"Error": {"Code": code, "Message": "stream broke"}},
        "InvokeEndpointWithResponseStream",
    )

    error = error_from_client_error(raised, ENDPOINT)

    assert type(error) is StreamError
    assert error.error_code == code
    assert error.upstream_message == "stream broke"
    assert error.request_id is None


@pytest.mark.parametrize("code", ["ModelNotReadyException", "ServiceUnavailable"])
def test_unavailable_codes_are_endpoint_unavailable(code: str) -> None:
    error = error_from_client_error(client_error(code, "try later"), ENDPOINT)

    assert type(error) is EndpointUnavailableError
    assert error.error_code == code
    assert error.upstream_message == "try later"
    assert error.request_id == "req-123"
    assert "temporarily unavailable" in str(error)


@pytest.mark.parametrize("code", ["InternalFailure", "InternalDependencyException"])
def test_other_codes_are_base_error(code: str) -> None:
    error = error_from_client_error(client_error(code, "failed"), ENDPOINT)

    assert type(error) is InferenceError
    assert error.error_code == code


def test_read_timeout_is_timeout() -> None:
    error = error_from_transport_error(
        ReadTimeoutError(endpoint_url="http://127.0.0.1:9"), ENDPOINT, streaming=False
    )

    assert type(error) is InferenceTimeoutError
    assert error.request_id is None


def test_urllib3_read_timeout_in_stream_is_timeout() -> None:
    raised = urllib3.exceptions.ReadTimeoutError(None, "/", "Read timed out.")  # type: ignore[arg-type]

    error = error_from_transport_error(raised, ENDPOINT, streaming=True)

    assert type(error) is InferenceTimeoutError


def test_connect_timeout_is_timeout() -> None:
    error = error_from_transport_error(
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"), ENDPOINT, streaming=False
    )

    assert type(error) is InferenceTimeoutError


def test_broken_stream_connection_is_stream_error() -> None:
    raised = urllib3.exceptions.ProtocolError("Connection broken")

    error = error_from_transport_error(raised, ENDPOINT, streaming=True)

    assert type(error) is StreamError


def test_connection_refused_is_base_error() -> None:
    error = error_from_transport_error(
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), ENDPOINT, streaming=False
    )

    assert type(error) is InferenceError
    assert ENDPOINT in str(error)
