"""The service with the real SageMakerTgiClient, over real HTTP, against the local runtime.

Both servers run on 127.0.0.1: the runtime stand-in (``rehearsal.runtime.LocalRuntime``)
and the service in uvicorn. Faults come from ``LocalRuntime.add_faults`` and apply to the
next invocation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from inference.settings import ClientSettings
from rehearsal.runtime import Faults, LocalRuntime
from service.app import create_app
from service.errors import FIXED_MESSAGES, ErrorCode
from service.settings import ServiceSettings
from tests.service.conftest import asgi_client, parse_event_stream, running_server

ENDPOINT = "llm-endpoint-dev"
DOCUMENT = (
    "The river rose overnight after three days of rain. Residents of the lower town moved"
    " their cars to higher ground. The council opened the school hall as a shelter. By noon"
    " the water had started to fall again."
)


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime(endpoints=[ENDPOINT]) as running:
        yield running


@pytest.fixture(autouse=True)
def no_queued_faults(runtime: LocalRuntime) -> Iterator[None]:
    runtime.clear_faults()
    yield
    runtime.clear_faults()


def service_settings(runtime: LocalRuntime, **client_options: Any) -> ServiceSettings:
    client_values: dict[str, Any] = {
        "endpoint_name": ENDPOINT,
        "endpoint_url": runtime.endpoint_url,
        # One attempt, so an injected throttling reaches the service at once.
        "max_retries": 0,
        **client_options,
    }
    return ServiceSettings(client=ClientSettings(**client_values))


@pytest.fixture
def service_url(runtime: LocalRuntime) -> Iterator[str]:
    # No client passed, so the lifespan builds SageMakerTgiClient as in production.
    with running_server(create_app(service_settings(runtime))) as url:
        yield url


def service_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name.startswith("service") and record.levelno >= logging.WARNING
    ]


def test_summarize(service_url: str, runtime: LocalRuntime) -> None:
    response = httpx.post(f"{service_url}/summarize", json={"document": DOCUMENT}, timeout=30)

    assert response.status_code == 200
    body = response.json()
    # The runtime's generator returns the document's leading sentences as the summary.
    assert body["summary"].startswith("The river rose overnight")
    assert body["finish_reason"] in ("eos_token", "length", "stop_sequence")
    assert isinstance(body["generated_tokens"], int)
    assert body["truncated"] is False
    assert body["endpoint"] == ENDPOINT
    assert [invocation.operation for invocation in runtime.invocations()][-1:] == ["InvokeEndpoint"]


def test_concurrent_requests_overlap(runtime: LocalRuntime) -> None:
    # More requests than the default executor's min(32, cpu_count + 4) threads on a
    # small machine, which asyncio.to_thread would use.
    requests = 32
    latency_s = 0.3
    runtime.add_faults(Faults(latency_ms=int(latency_s * 1000)), count=requests)
    app = create_app(service_settings(runtime, max_concurrency=requests))

    async def post_all(url: str) -> list[int]:
        limits = httpx.Limits(max_connections=requests)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
            responses = await asyncio.gather(
                *(http.post("/summarize", json={"document": DOCUMENT}) for _ in range(requests))
            )
        return [response.status_code for response in responses]

    with running_server(app) as url:
        start = time.perf_counter()
        statuses = asyncio.run(post_all(url))
        elapsed = time.perf_counter() - start

    assert statuses == [200] * requests
    # One after another the requests would take 9.6 s; in 6 threads, 1.8 s.
    assert elapsed < 4 * latency_s
    # The lifespan closes the client it created when the server stops.
    assert app.state.service.client._executor._shutdown


def test_endpoint_url_from_environment(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", runtime.endpoint_url)
    settings = service_settings(runtime, endpoint_url=None)

    with running_server(create_app(settings)) as url:
        response = httpx.post(f"{url}/summarize", json={"document": DOCUMENT}, timeout=30)

    assert response.status_code == 200
    assert response.json()["summary"].startswith("The river rose overnight")


def test_stream_matches_summarize(service_url: str) -> None:
    summary = httpx.post(f"{service_url}/summarize", json={"document": DOCUMENT}, timeout=30)
    streamed = httpx.post(
        f"{service_url}/summarize/stream", json={"document": DOCUMENT}, timeout=30
    )

    assert streamed.status_code == 200
    events = parse_event_stream(streamed.text)
    assert events[-1].event == "done"
    assert events[-1].data["endpoint"] == ENDPOINT
    assert {event.event for event in events[:-1]} == {"message"}
    text = "".join(event.data["text"] for event in events[:-1])
    assert text.strip() == summary.json()["summary"]
    assert events[-1].data["finish_reason"] == summary.json()["finish_reason"]
    assert events[-1].data["generated_tokens"] == summary.json()["generated_tokens"]


@pytest.mark.parametrize(("max_new_tokens", "finish_reason"), [(3, "length"), (200, "eos_token")])
def test_stream_done_reports_details(
    service_url: str, max_new_tokens: int, finish_reason: str
) -> None:
    body = {"document": DOCUMENT, "max_new_tokens": max_new_tokens}

    summary = httpx.post(f"{service_url}/summarize", json=body, timeout=30)
    streamed = httpx.post(f"{service_url}/summarize/stream", json=body, timeout=30)

    done = parse_event_stream(streamed.text)[-1]
    assert done.event == "done"
    assert done.data["finish_reason"] == finish_reason
    generated_tokens = done.data["generated_tokens"]
    assert isinstance(generated_tokens, int)
    assert 0 < generated_tokens <= max_new_tokens
    assert generated_tokens == summary.json()["generated_tokens"]


def test_stream_with_split_multibyte_parts(service_url: str, runtime: LocalRuntime) -> None:
    runtime.add_faults(Faults(non_ascii=True))
    summary = httpx.post(f"{service_url}/summarize", json={"document": DOCUMENT}, timeout=30)
    runtime.add_faults(Faults(non_ascii=True, chunk_bytes=5))
    streamed = httpx.post(
        f"{service_url}/summarize/stream", json={"document": DOCUMENT}, timeout=30
    )

    events = parse_event_stream(streamed.text)
    text = "".join(event.data["text"] for event in events[:-1])
    assert "ö" in summary.json()["summary"]
    assert text.strip() == summary.json()["summary"]


# (fault, status, code); the runtime's default error texts all start with "injected".
FAULTS = [
    (Faults(error="throttling"), 503, ErrorCode.UPSTREAM_THROTTLED),
    (Faults(error="invocation_timeout"), 504, ErrorCode.UPSTREAM_TIMEOUT),
    (Faults(error="tgi_generation"), 502, ErrorCode.UPSTREAM_MODEL_ERROR),
    (Faults(error="tgi_validation"), 502, ErrorCode.UPSTREAM_REJECTED_REQUEST),
    (Faults(error="model_not_ready"), 503, ErrorCode.UPSTREAM_UNAVAILABLE),
    (Faults(error="service_unavailable"), 503, ErrorCode.UPSTREAM_UNAVAILABLE),
    (Faults(error="internal_failure"), 502, ErrorCode.UPSTREAM_ERROR),
]
RETRY_AFTER_CODES = (ErrorCode.UPSTREAM_THROTTLED, ErrorCode.UPSTREAM_UNAVAILABLE)


@pytest.mark.parametrize("route", ["/summarize", "/summarize/stream"])
@pytest.mark.parametrize(("faults", "status", "code"), FAULTS)
def test_injected_fault_maps_to_status(
    service_url: str,
    runtime: LocalRuntime,
    caplog: pytest.LogCaptureFixture,
    route: str,
    faults: Faults,
    status: int,
    code: ErrorCode,
) -> None:
    caplog.set_level(logging.INFO)
    runtime.add_faults(faults)

    response = httpx.post(f"{service_url}{route}", json={"document": DOCUMENT}, timeout=30)

    request_id = response.headers["X-Request-Id"]
    assert response.status_code == status
    assert response.json() == {
        "error": {"code": code.value, "message": FIXED_MESSAGES[code], "request_id": request_id}
    }
    assert "injected" not in response.text.lower()
    if code in RETRY_AFTER_CODES:
        assert response.headers["Retry-After"] == "5"
    else:
        assert "Retry-After" not in response.headers

    records = service_records(caplog)
    assert len(records) == 1
    line = records[0].getMessage()
    assert ENDPOINT in line
    assert f"request_id={request_id}" in line
    upstream_request_id = runtime.invocations()[-1].request_id
    assert f"upstream_request_id={upstream_request_id}" in line
    assert "river rose" not in caplog.text.lower()


@pytest.mark.parametrize("route", ["/summarize", "/summarize/stream"])
@pytest.mark.parametrize(
    ("error", "status"), [("model_not_ready", 429), ("service_unavailable", 503)]
)
def test_unavailable_endpoint_retried_then_503(
    runtime: LocalRuntime, route: str, error: Any, status: int
) -> None:
    settings = service_settings(runtime, max_retries=2, retry_base_delay_s=0.01)
    runtime.add_faults(Faults(error=error), count=3)
    sent_before = len(runtime.invocations())

    with running_server(create_app(settings)) as url:
        failed = httpx.post(f"{url}{route}", json={"document": DOCUMENT}, timeout=30)
        runtime.add_faults(Faults(error=error), count=2)
        recovered = httpx.post(f"{url}{route}", json={"document": DOCUMENT}, timeout=30)

    statuses = [invocation.status for invocation in runtime.invocations()[sent_before:]]
    # Three attempts for the first request, then two failed and one good for the second.
    assert statuses == [status] * 3 + [status] * 2 + [200]
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "5"
    assert failed.json()["error"]["code"] == "upstream_unavailable"
    assert recovered.status_code == 200


def test_stream_matches_summarize_around_stop_sequence(
    service_url: str, runtime: LocalRuntime
) -> None:
    # "[INST]" is a stop sequence of the Mistral template, and the model put a space before it.
    runtime.add_faults(Faults(fixed_text="Summary here. [INST] next user turn"), count=2)

    summary = httpx.post(f"{service_url}/summarize", json={"document": DOCUMENT}, timeout=30)
    streamed = httpx.post(
        f"{service_url}/summarize/stream", json={"document": DOCUMENT}, timeout=30
    )

    assert summary.json()["summary"] == "Summary here."
    events = parse_event_stream(streamed.text)
    assert events[-1].event == "done"
    assert events[-1].data["finish_reason"] == "stop_sequence"
    text = "".join(event.data["text"] for event in events[:-1])
    assert text == summary.json()["summary"]


@pytest.mark.anyio
async def test_region_from_aws_region_only(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    app = create_app(service_settings(runtime))

    # The lifespan creates the SageMakerTgiClient, which boto3 alone could not do here.
    async with asgi_client(app) as client:
        response = await client.post("/summarize", json={"document": DOCUMENT})

    assert response.status_code == 200
    assert app.state.service.client._runtime.meta.region_name == "eu-central-1"


def test_unknown_endpoint_is_502(runtime: LocalRuntime, caplog: pytest.LogCaptureFixture) -> None:
    settings = service_settings(runtime, endpoint_name="no-such-endpoint")

    with running_server(create_app(settings)) as url:
        response = httpx.post(f"{url}/summarize", json={"document": DOCUMENT}, timeout=30)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "endpoint_not_found"
    assert "123456789012" not in response.text
    records = service_records(caplog)
    assert len(records) == 1
    assert "no-such-endpoint" in records[0].getMessage()


@pytest.mark.parametrize(
    "faults",
    [
        Faults(generation_error_after=2),
        Faults(stream_exception="ModelStreamError", stream_exception_after=2),
        Faults(stream_exception="InternalStreamFailure", stream_exception_after=2),
    ],
)
def test_mid_stream_fault_ends_with_error_event(
    service_url: str, runtime: LocalRuntime, caplog: pytest.LogCaptureFixture, faults: Faults
) -> None:
    runtime.add_faults(faults)

    response = httpx.post(
        f"{service_url}/summarize/stream", json={"document": DOCUMENT}, timeout=30
    )

    request_id = response.headers["X-Request-Id"]
    assert response.status_code == 200
    events = parse_event_stream(response.text)
    assert events[0].event == "message"
    assert events[-1].event == "error"
    assert events[-1].data == {
        "error": {
            "code": "upstream_stream_error",
            "message": FIXED_MESSAGES[ErrorCode.UPSTREAM_STREAM_ERROR],
            "request_id": request_id,
        }
    }
    assert "done" not in [event.event for event in events]
    records = service_records(caplog)
    assert len(records) == 1
    assert f"request_id={request_id}" in records[0].getMessage()
    assert "sent error event upstream_stream_error" in records[0].getMessage()
