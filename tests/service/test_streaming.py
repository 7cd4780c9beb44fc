"""Server-sent events of POST /summarize/stream over an in-process transport."""

from __future__ import annotations

import pytest

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


async def test_stream_sends_pieces_then_done() -> None:
    fake_client = FakeInferenceClient(pieces=(" The document", " says", " three things."))

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
        "finish_reason": None,
        "generated_tokens": None,
        "truncated": False,
        "endpoint": FAKE_ENDPOINT,
    }


async def test_stream_wire_format() -> None:
    fake_client = FakeInferenceClient(pieces=("Two\nlines",))

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize/stream", json={"document": "A document."})

    assert response.text == (
        'data: {"text": "Two\\nlines"}\n\n'
        "event: done\n"
        'data: {"finish_reason": null, "generated_tokens": null, "truncated": false, '
        '"endpoint": "fake-endpoint"}\n\n'
    )


async def test_stream_skips_whitespace_only_first_pieces() -> None:
    fake_client = FakeInferenceClient(pieces=(" ", "\n", "  Summary", " text."))

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize/stream", json={"document": "A document."})

    texts = [event.data["text"] for event in parse_event_stream(response.text)[:-1]]
    assert texts == ["Summary", " text."]


async def test_stream_without_text_sends_only_done() -> None:
    fake_client = FakeInferenceClient(pieces=())

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        response = await client.post("/summarize/stream", json={"document": "A document."})

    events = parse_event_stream(response.text)
    assert [event.event for event in events] == ["done"]


async def test_stream_sends_same_prompt_as_summarize() -> None:
    fake_client = FakeInferenceClient()
    body = {"document": "Cats sleep a lot.", "max_new_tokens": 30}

    async with asgi_client(create_app(make_settings(), client=fake_client)) as client:
        await client.post("/summarize", json=body)
        await client.post("/summarize/stream", json=body)

    (method_a, prompt_a, parameters_a), (method_b, prompt_b, parameters_b) = fake_client.calls
    assert (method_a, method_b) == ("agenerate", "astream")
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
