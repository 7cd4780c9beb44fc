"""The service over real HTTP: uvicorn on 127.0.0.1, in a thread or as ``python -m service``."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.app import create_app
from tests.service.conftest import (
    FAKE_ENDPOINT,
    FAKE_SUMMARY,
    FakeInferenceClient,
    make_settings,
    parse_event_stream,
    running_server,
)

REPOSITORY = Path(__file__).resolve().parents[2]
CONCURRENT_REQUESTS = 16


def wait_until(condition: object, seconds: float = 10.0) -> None:
    """Poll ``condition()`` until it is true; fail the test after ``seconds``."""
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition still false after {seconds} s")
        time.sleep(0.02)


@pytest.fixture
def slow_client() -> FakeInferenceClient:
    return FakeInferenceClient(latency=0.2)


@pytest.fixture
def base_url(slow_client: FakeInferenceClient) -> Iterator[str]:
    with running_server(create_app(make_settings(), client=slow_client)) as url:
        yield url


@pytest.mark.parametrize("route", ["/summarize", "/summarize/stream"])
def test_concurrent_requests_overlap(
    base_url: str, slow_client: FakeInferenceClient, route: str
) -> None:
    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            requests = [
                client.post(route, json={"document": f"Document number {index}."})
                for index in range(CONCURRENT_REQUESTS)
            ]
            return await asyncio.gather(*requests)

    responses = asyncio.run(send_all())

    assert [response.status_code for response in responses] == [200] * CONCURRENT_REQUESTS
    # Each call stays in flight for 200 ms of asyncio.sleep. Reaching 16 at once means that
    # no request waited for another, and a route that blocked the loop would reach 1.
    assert slow_client.max_in_flight == CONCURRENT_REQUESTS
    assert len({response.headers["X-Request-Id"] for response in responses}) == 16


def test_summarize_over_http(base_url: str) -> None:
    response = httpx.post(f"{base_url}/summarize", json={"document": "A document."})

    assert response.status_code == 200
    assert response.json()["summary"] == FAKE_SUMMARY
    assert response.json()["endpoint"] == FAKE_ENDPOINT


def test_health_over_http(base_url: str, slow_client: FakeInferenceClient) -> None:
    response = httpx.get(f"{base_url}/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "endpoint": FAKE_ENDPOINT}
    assert slow_client.calls == []


def test_stream_over_http(base_url: str) -> None:
    with httpx.stream("POST", f"{base_url}/summarize/stream", json={"document": "A doc."}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())

    events = parse_event_stream(body)
    assert [event.event for event in events] == ["message"] * 3 + ["done"]
    assert "".join(event.data["text"] for event in events[:-1]) == FAKE_SUMMARY


def test_body_over_limit_over_http() -> None:
    app = create_app(make_settings(max_request_bytes=1000), client=FakeInferenceClient())
    with running_server(app) as url:
        response = httpx.post(f"{url}/summarize", json={"document": "x" * 5000})

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_disconnect_closes_upstream_stream() -> None:
    fake_client = FakeInferenceClient(pieces=["word "] * 1000, piece_latency=0.01)
    with running_server(create_app(make_settings(), client=fake_client)) as url:
        with httpx.stream("POST", f"{url}/summarize/stream", json={"document": "A doc."}) as r:
            first_line = next(r.iter_lines())
        # Leaving the block closes the connection after the first event.

        wait_until(lambda: fake_client.closed_streams == 1)

    # The trailing space waits for the next word, because the summary drops a final one.
    assert first_line == 'data: {"text": "word"}'
    assert fake_client.pieces_sent < 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_command_line_serves_health() -> None:
    port = free_port()
    env = {
        **os.environ,
        "LLM_CLIENT_ENDPOINT_NAME": "cli-endpoint",
        # The health route never calls the endpoint; this address only keeps any call local.
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": "http://127.0.0.1:9",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPOSITORY,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def healthy() -> bool:
            assert process.poll() is None, "python -m service exited early"
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, seconds=30)
        response = httpx.get(f"http://127.0.0.1:{port}/health")
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)

    assert response.json() == {"status": "ok", "endpoint": "cli-endpoint"}
    assert b"service started for endpoint cli-endpoint" in output


def test_command_line_rejects_missing_endpoint_name() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LLM_")}

    result = subprocess.run(
        [sys.executable, "-m", "service"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr == "error: LLM_CLIENT_ENDPOINT_NAME: Field required\n"


def test_command_line_rejects_missing_region() -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LLM_") and name not in ("AWS_REGION", "AWS_DEFAULT_REGION")
    }
    env["LLM_CLIENT_ENDPOINT_NAME"] = "cli-endpoint"
    # No shared config file of the developer may supply a region.
    env["AWS_CONFIG_FILE"] = os.devnull

    result = subprocess.run(
        [sys.executable, "-m", "service"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr == (
        "error: LLM_CLIENT_REGION: no AWS region is set; set LLM_CLIENT_REGION or AWS_REGION"
        " to the endpoint's region (AWS_DEFAULT_REGION and the AWS profile's region are read"
        " too)\n"
    )


def test_command_line_reads_aws_region() -> None:
    port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LLM_") and name != "AWS_DEFAULT_REGION"
    }
    env["LLM_CLIENT_ENDPOINT_NAME"] = "cli-endpoint"
    env["AWS_REGION"] = "eu-west-1"
    env["AWS_CONFIG_FILE"] = os.devnull
    # The health route never calls the endpoint; this address only keeps any call local.
    env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = "http://127.0.0.1:9"
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPOSITORY,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def healthy() -> bool:
            assert process.poll() is None, "python -m service exited early"
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, seconds=30)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)

    assert b"service started for endpoint cli-endpoint" in output
    assert b"Traceback" not in output
