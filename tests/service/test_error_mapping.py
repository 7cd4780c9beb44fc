"""Upstream errors become fixed-text error bodies with one log line each."""

from __future__ import annotations

import logging

import pytest

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
from service.app import create_app
from service.errors import FIXED_MESSAGES, ErrorCode
from tests.service.conftest import (
    FAKE_ENDPOINT,
    FakeInferenceClient,
    asgi_client,
    make_settings,
    parse_event_stream,
)

pytestmark = pytest.mark.anyio

UPSTREAM_TEXT = "UPSTREAM-DETAIL at /opt/ml/model: Traceback (most recent call last)"
UPSTREAM_REQUEST_ID = "upstream-request-7f3a"
DOCUMENT = "CONFIDENTIAL-DOCUMENT-TEXT about the quarterly figures. " * 3

# (error class, status, code); every class is raised with UPSTREAM_TEXT as its message.
UPSTREAM_ERRORS = [
    (ThrottledError, 503, ErrorCode.UPSTREAM_THROTTLED),
    (EndpointUnavailableError, 503, ErrorCode.UPSTREAM_UNAVAILABLE),
    (InferenceTimeoutError, 504, ErrorCode.UPSTREAM_TIMEOUT),
    (ModelError, 502, ErrorCode.UPSTREAM_MODEL_ERROR),
    (EndpointNotFoundError, 502, ErrorCode.ENDPOINT_NOT_FOUND),
    (InvalidRequestError, 502, ErrorCode.UPSTREAM_REJECTED_REQUEST),
    (StreamError, 502, ErrorCode.UPSTREAM_STREAM_ERROR),
    (InferenceError, 502, ErrorCode.UPSTREAM_ERROR),
]


def upstream_error(error_class: type[InferenceError]) -> InferenceError:
    return error_class(
        UPSTREAM_TEXT,
        endpoint_name=FAKE_ENDPOINT,
        upstream_message=UPSTREAM_TEXT,
        request_id=UPSTREAM_REQUEST_ID,
    )


def service_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name.startswith("service") and record.levelno >= logging.WARNING
    ]


@pytest.mark.parametrize("route", ["/summarize", "/summarize/stream"])
@pytest.mark.parametrize(("error_class", "status", "code"), UPSTREAM_ERRORS)
async def test_upstream_error_maps_to_status(
    caplog: pytest.LogCaptureFixture,
    route: str,
    error_class: type[InferenceError],
    status: int,
    code: ErrorCode,
) -> None:
    fake_client = FakeInferenceClient(error=upstream_error(error_class))
    app = create_app(make_settings(retry_after_seconds=7), client=fake_client)
    caplog.set_level(logging.INFO)

    async with asgi_client(app) as client:
        response = await client.post(route, json={"document": DOCUMENT})

    request_id = response.headers["X-Request-Id"]
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": {"code": code.value, "message": FIXED_MESSAGES[code], "request_id": request_id}
    }
    assert "UPSTREAM-DETAIL" not in response.text
    assert UPSTREAM_REQUEST_ID not in response.text
    if error_class in (ThrottledError, EndpointUnavailableError):
        assert response.headers["Retry-After"] == "7"
    else:
        assert "Retry-After" not in response.headers

    records = service_records(caplog)
    assert len(records) == 1
    line = records[0].getMessage()
    assert "\n" not in line
    assert FAKE_ENDPOINT in line
    assert f"request_id={request_id}" in line
    assert f"upstream_request_id={UPSTREAM_REQUEST_ID}" in line
    assert error_class.__name__ in line
    assert f"responded {status} {code.value}" in line
    assert "CONFIDENTIAL-DOCUMENT-TEXT" not in caplog.text


async def test_log_level_per_error_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    levels = []
    for error_class in (ThrottledError, EndpointUnavailableError, ModelError):
        caplog.clear()
        fake_client = FakeInferenceClient(error=upstream_error(error_class))
        async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
            await client.post("/summarize", json={"document": DOCUMENT})
        levels.append(service_records(caplog)[0].levelno)

    assert levels == [logging.WARNING, logging.WARNING, logging.ERROR]


async def test_long_upstream_message_is_cut_in_log(caplog: pytest.LogCaptureFixture) -> None:
    error = ModelError(
        "failed", endpoint_name=FAKE_ENDPOINT, upstream_message="A" * 150 + "B" * 1000
    )
    fake_client = FakeInferenceClient(error=error)

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        await client.post("/summarize", json={"document": DOCUMENT})

    line = service_records(caplog)[0].getMessage()
    assert "A" * 150 + "B" * 50 in line
    assert "B" * 51 not in line


async def test_unknown_upstream_request_id_is_logged_as_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = InferenceTimeoutError("timed out", endpoint_name=FAKE_ENDPOINT)
    fake_client = FakeInferenceClient(error=error)

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize", json={"document": DOCUMENT})

    line = service_records(caplog)[0].getMessage()
    assert f"request_id={response.headers['X-Request-Id']}" in line
    assert "upstream_request_id=None" in line


@pytest.mark.parametrize("route", ["/summarize", "/summarize/stream"])
async def test_unexpected_exception_is_500_without_detail(
    caplog: pytest.LogCaptureFixture, route: str
) -> None:
    fake_client = FakeInferenceClient(error=RuntimeError("INTERNAL-DETAIL of a bug"))

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post(route, json={"document": DOCUMENT})

    request_id = response.headers["X-Request-Id"]
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": FIXED_MESSAGES[ErrorCode.INTERNAL_ERROR],
            "request_id": request_id,
        }
    }
    records = service_records(caplog)
    assert len(records) == 1
    assert request_id in records[0].getMessage()
    # The traceback goes to the log, where the bug can be found, and nowhere else.
    assert records[0].exc_info is not None


@pytest.mark.parametrize(("error_class", "code"), [(row[0], row[2]) for row in UPSTREAM_ERRORS])
async def test_mid_stream_error_ends_with_error_event(
    caplog: pytest.LogCaptureFixture, error_class: type[InferenceError], code: ErrorCode
) -> None:
    fake_client = FakeInferenceClient(
        stream_error=upstream_error(error_class), stream_error_after=2
    )

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize/stream", json={"document": DOCUMENT})

    request_id = response.headers["X-Request-Id"]
    # The status line went out with the first piece, before the failure.
    assert response.status_code == 200
    events = parse_event_stream(response.text)
    assert [event.event for event in events] == ["message", "message", "error"]
    assert events[-1].data == {
        "error": {"code": code.value, "message": FIXED_MESSAGES[code], "request_id": request_id}
    }
    assert "UPSTREAM-DETAIL" not in response.text
    records = service_records(caplog)
    assert len(records) == 1
    assert f"request_id={request_id}" in records[0].getMessage()
    assert f"upstream_request_id={UPSTREAM_REQUEST_ID}" in records[0].getMessage()
    assert f"sent error event {code.value}" in records[0].getMessage()


async def test_mid_stream_unexpected_exception_ends_with_error_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_client = FakeInferenceClient(
        stream_error=RuntimeError("INTERNAL-DETAIL of a bug"), stream_error_after=1
    )

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize/stream", json={"document": DOCUMENT})

    events = parse_event_stream(response.text)
    assert [event.event for event in events] == ["message", "error"]
    assert events[-1].data["error"]["code"] == "internal_error"
    assert "INTERNAL-DETAIL" not in response.text
    assert len(service_records(caplog)) == 1
