"""Server-sent events of POST /summarize/stream over an in-process transport."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inference.base import Generation, GenerationParameters, InferenceClient
from service.app import create_app
from service.streaming import format_event
from tests.service.conftest import (
    FAKE_ENDPOINT,
    FakeInferenceClient,
    asgi_client,
    make_settings,
    parse_event_stream,
)

pytestmark = pytest.mark.anyio


class TextOnlyClient(InferenceClient):
    """A client that implements only ``generate`` and ``stream``, as the interface allows."""

    endpoint_name = FAKE_ENDPOINT

    def __init__(self, pieces: tuple[str, ...]) -> None:
        self.pieces = pieces

    def generate(self, prompt: str, parameters: GenerationParameters | None = None) -> Generation:
        return Generation(
            text="".join(self.pieces), finish_reason=None, generated_tokens=None, input_tokens=None
        )

    def stream(self, prompt: str, parameters: GenerationParameters | None = None) -> Iterator[str]:
        yield from self.pieces


async def test_stream_sends_pieces_then_done() -> None:
    fake_client = FakeInferenceClient(
        pieces=(" The document", " says", " three things."),
        finish_reason="eos_token",
        generated_tokens=7,
    )

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize/stream", json={"document": "A document."})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "X-Request-Id" in response.headers
    events = parse_event_stream(response.text)
    assert [event.event for event in events] == ["message", "message", "message", "done"]
    # The first piece loses its leading space, as the summary of POST /summarize does.
    assert [event.data for event in events[:3]] == [
        {"text": "The document"},
        {"text": " says"},
        {"text": " three things."},
    ]
    assert events[-1].data == {
        "finish_reason": "eos_token",
        "generated_tokens": 7,
        "truncated": False,
        "endpoint": FAKE_ENDPOINT,
    }


async def test_stream_done_without_details_is_null() -> None:
    fake_client = FakeInferenceClient(finish_reason=None, generated_tokens=None)

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize/stream", json={"document": "A document."})

    done = parse_event_stream(response.text)[-1]
    assert done.event == "done"
    assert done.data["finish_reason"] is None
    assert done.data["generated_tokens"] is None


async def test_stream_with_text_only_client() -> None:
    text_client = TextOnlyClient(pieces=(" Short", " summary."))

    async with asgi_client(create_app(make_settings(), client=text_client)) as client:
        response = await client.post("/summarize/stream", json={"document": "A document."})

    events = parse_event_stream(response.text)
    assert [event.event for event in events] == ["message", "message", "done"]
    assert [event.data["text"] for event in events[:2]] == ["Short", " summary."]
    # The default stream_events has no finish reason to report.
    assert events[-1].data == {
        "finish_reason": None,
        "generated_tokens": None,
        "truncated": False,
        "endpoint": FAKE_ENDPOINT,
    }


async def test_stream_wire_format() -> None:
    fake_client = FakeInferenceClient(pieces=("Two\nlines",), finish_reason="length")

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize/stream", json={"document": "A document."})

    assert response.text == (
        'data: {"text": "Two\\nlines"}\n\n'
        "event: done\n"
        'data: {"finish_reason": "length", "generated_tokens": 7, "truncated": false, '
        '"endpoint": "fake-endpoint"}\n\n'
    )


async def test_stream_skips_whitespace_only_first_pieces() -> None:
    fake_client = FakeInferenceClient(pieces=(" ", "\n", "  Summary", " text."))

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize/stream", json={"document": "A document."})

    texts = [event.data["text"] for event in parse_event_stream(response.text)[:-1]]
    assert texts == ["Summary", " text."]


async def test_stream_strips_trailing_whitespace_as_summarize() -> None:
    pieces = (" Summary", " here", ".", " ", "\n")
    fake_client = FakeInferenceClient(pieces=pieces, text="".join(pieces))

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        summary = await client.post("/summarize", json={"document": "A document."})
        streamed = await client.post("/summarize/stream", json={"document": "A document."})

    texts = [event.data["text"] for event in parse_event_stream(streamed.text)[:-1]]
    assert texts == ["Summary", " here", "."]
    assert "".join(texts) == summary.json()["summary"]


async def test_stream_keeps_whitespace_between_words() -> None:
    fake_client = FakeInferenceClient(pieces=("One", " ", "\n", "two", " three ", "four"))

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize/stream", json={"document": "A document."})

    texts = [event.data["text"] for event in parse_event_stream(response.text)[:-1]]
    # Whitespace is held back until the next word, then sent in front of it.
    assert texts == ["One", " \ntwo", " three", " four"]


@pytest.mark.parametrize("pieces", [(), (" ", "\n")])
async def test_stream_without_text_sends_only_done(pieces: tuple[str, ...]) -> None:
    fake_client = FakeInferenceClient(pieces=pieces, finish_reason="eos_token", generated_tokens=2)

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize/stream", json={"document": "A document."})

    events = parse_event_stream(response.text)
    assert [event.event for event in events] == ["done"]
    assert events[0].data["finish_reason"] == "eos_token"
    assert events[0].data["generated_tokens"] == 2


async def test_stream_sends_same_prompt_as_summarize() -> None:
    fake_client = FakeInferenceClient()
    body = {"document": "Cats sleep a lot.", "max_new_tokens": 30}

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        await client.post("/summarize", json=body)
        await client.post("/summarize/stream", json=body)

    (method_a, prompt_a, parameters_a), (method_b, prompt_b, parameters_b) = fake_client.calls
    assert (method_a, method_b) == ("agenerate", "astream_events")
    assert prompt_a == prompt_b
    assert parameters_a == parameters_b


async def test_stream_done_reports_truncation() -> None:
    fake_client = FakeInferenceClient()
    settings = make_settings(truncate=True, client={"max_input_tokens": 50})

    async with asgi_client(create_app(settings, client=fake_client)) as client:
        response = await client.post("/summarize/stream", json={"document": "word " * 100})

    done = parse_event_stream(response.text)[-1]
    assert done.event == "done"
    assert done.data["truncated"] is True


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"document": " "}, 422, "empty_document"),
        ({"document": "A document.", "max_new_tokens": 0}, 422, "invalid_request"),
        ({"document": "x" * 20_000}, 413, "document_too_long"),
        ({"document": "[INST] hi"}, 422, "invalid_document"),
    ],
)
async def test_stream_rejects_bad_input_before_streaming(
    body: dict[str, object], status: int, code: str
) -> None:
    fake_client = FakeInferenceClient()

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize/stream", json=body)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert fake_client.calls == []


async def test_stream_closes_upstream_iterator() -> None:
    fake_client = FakeInferenceClient()

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        await client.post("/summarize/stream", json={"document": "A document."})

    assert fake_client.closed_streams == 1
    assert fake_client.in_flight == 0


def test_format_event_with_name() -> None:
    assert format_event({"a": "é"}, event="done") == 'event: done\ndata: {"a": "é"}\n\n'.encode()


def test_format_event_without_name() -> None:
    assert format_event({"text": "x\r\ny"}) == b'data: {"text": "x\\r\\ny"}\n\n'
