"""A fake inference client, apps built around it, and a uvicorn server in a thread."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from inference.base import (
    Generation,
    GenerationParameters,
    InferenceClient,
    StreamEnd,
    StreamEvent,
    TextDelta,
)
from inference.settings import ClientSettings
from service.app import create_app
from service.settings import ENV_PREFIX, ServiceSettings

FAKE_ENDPOINT = "fake-endpoint"
FAKE_SUMMARY = "The document says three things."
# Streams start with a space, as TGI's first generated token usually does.
FAKE_PIECES = (" The document", " says", " three things.")


class FakeInferenceClient(InferenceClient):
    """A deterministic client that records its calls and counts how many run at once.

    ``latency`` is slept before the result (``asyncio.sleep`` in the async methods, so
    they never block the loop). ``error`` is raised instead of a result, at the call or
    at the stream's first piece, as the real client raises errors of opening the stream.
    ``stream_error`` is raised after ``stream_error_after`` pieces have been yielded.
    ``piece_latency`` is slept before each piece of ``astream_events``, whose StreamEnd
    carries ``finish_reason`` and ``generated_tokens``.
    """

    def __init__(
        self,
        *,
        endpoint_name: str = FAKE_ENDPOINT,
        text: str = FAKE_SUMMARY,
        pieces: Sequence[str] = FAKE_PIECES,
        finish_reason: str | None = "eos_token",
        generated_tokens: int | None = 7,
        latency: float = 0.0,
        piece_latency: float = 0.0,
        error: Exception | None = None,
        stream_error: Exception | None = None,
        stream_error_after: int = 0,
    ) -> None:
        self.endpoint_name = endpoint_name
        self.text = text
        self.pieces = tuple(pieces)
        self.finish_reason = finish_reason
        self.generated_tokens = generated_tokens
        self.latency = latency
        self.piece_latency = piece_latency
        self.error = error
        self.stream_error = stream_error
        self.stream_error_after = stream_error_after
        self.calls: list[tuple[str, str, GenerationParameters | None]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.closed_streams = 0
        self.pieces_sent = 0
        # The sync methods may run in worker threads, so the counters share a lock.
        self._lock = threading.Lock()

    def _enter(self, method: str, prompt: str, parameters: GenerationParameters | None) -> None:
        with self._lock:
            self.calls.append((method, prompt, parameters))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _generation(self) -> Generation:
        if self.error is not None:
            raise self.error
        return Generation(
            text=self.text,
            finish_reason=self.finish_reason,
            generated_tokens=self.generated_tokens,
            input_tokens=None,
        )

    def generate(self, prompt: str, parameters: GenerationParameters | None = None) -> Generation:
        self._enter("generate", prompt, parameters)
        try:
            time.sleep(self.latency)
            return self._generation()
        finally:
            self._leave()

    def stream(self, prompt: str, parameters: GenerationParameters | None = None) -> Iterator[str]:
        self._enter("stream", prompt, parameters)
        try:
            time.sleep(self.latency)
            if self.error is not None:
                raise self.error
            yield from self.pieces
        finally:
            self._leave()

    async def agenerate(
        self, prompt: str, parameters: GenerationParameters | None = None
    ) -> Generation:
        self._enter("agenerate", prompt, parameters)
        try:
            await asyncio.sleep(self.latency)
            return self._generation()
        finally:
            self._leave()

    def astream_events(
        self, prompt: str, parameters: GenerationParameters | None = None
    ) -> AsyncIterator[StreamEvent]:
        return self._astream_events(prompt, parameters)

    async def _astream_events(
        self, prompt: str, parameters: GenerationParameters | None
    ) -> AsyncIterator[StreamEvent]:
        self._enter("astream_events", prompt, parameters)
        try:
            await asyncio.sleep(self.latency)
            if self.error is not None:
                raise self.error
            for index, piece in enumerate(self.pieces):
                if self.stream_error is not None and index == self.stream_error_after:
                    raise self.stream_error
                await asyncio.sleep(self.piece_latency)
                with self._lock:
                    self.pieces_sent += 1
                yield TextDelta(piece)
            if self.stream_error is not None:
                raise self.stream_error
            yield StreamEnd(
                finish_reason=self.finish_reason, generated_tokens=self.generated_tokens
            )
        finally:
            self._leave()
            with self._lock:
                self.closed_streams += 1


@dataclass(frozen=True)
class ServerSentEvent:
    """One parsed event: its type (``message`` when unnamed) and its JSON data."""

    event: str
    data: dict[str, Any]


def parse_event_stream(body: str) -> list[ServerSentEvent]:
    """Parse a text/event-stream body; fails the test on a line the format does not allow."""
    events: list[ServerSentEvent] = []
    for block in body.split("\n\n"):
        if not block:
            continue
        event = "message"
        data_lines: list[str] = []
        for line in block.split("\n"):
            field, separator, value = line.partition(": ")
            assert separator, f"not a field line: {line!r}"
            if field == "event":
                event = value
            elif field == "data":
                data_lines.append(value)
            else:
                raise AssertionError(f"unexpected field {field!r} in {block!r}")
        events.append(ServerSentEvent(event, json.loads("\n".join(data_lines))))
    return events


@pytest.fixture(autouse=True)
def service_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear LLM_SERVICE_ and LLM_CLIENT_ variables and keep boto3 away from real AWS."""
    for name in list(os.environ):
        if name.startswith((ENV_PREFIX, "LLM_CLIENT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def make_settings(**values: Any) -> ServiceSettings:
    """Build service settings for FAKE_ENDPOINT; ``client`` may be a dict of client fields."""
    client_values = {"endpoint_name": FAKE_ENDPOINT, **values.pop("client", {})}
    return ServiceSettings(client=ClientSettings(**client_values), **values)


@asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield an httpx client that calls the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://service") as client,
    ):
        yield client


@contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """Serve the app with uvicorn in a thread on a free 127.0.0.1 port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def fake_client() -> FakeInferenceClient:
    return FakeInferenceClient()


@pytest.fixture
def app(fake_client: FakeInferenceClient) -> FastAPI:
    return create_app(make_settings(), client=fake_client)
