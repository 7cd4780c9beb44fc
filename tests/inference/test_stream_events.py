"""The default stream_events and astream_events of InferenceClient, for a text-only client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from inference.base import (
    Generation,
    GenerationParameters,
    InferenceClient,
    StreamEnd,
    StreamEvent,
    TextDelta,
)
from inference.errors import StreamError, ThrottledError


class TextOnlyClient(InferenceClient):
    """A client that implements only ``generate`` and ``stream``, the interface's minimum.

    Like the real client, ``stream`` raises ``open_error`` when called, and its iterator
    raises ``stream_error`` after all pieces.
    """

    endpoint_name = "fake-endpoint"

    def __init__(
        self,
        pieces: tuple[str, ...] = ("Hel", "lo", ""),
        *,
        open_error: Exception | None = None,
        stream_error: Exception | None = None,
    ) -> None:
        self.pieces = pieces
        self.open_error = open_error
        self.stream_error = stream_error
        self.stream_closed = False

    def generate(self, prompt: str, parameters: GenerationParameters | None = None) -> Generation:
        return Generation(
            text="".join(self.pieces), finish_reason=None, generated_tokens=None, input_tokens=None
        )

    def stream(self, prompt: str, parameters: GenerationParameters | None = None) -> Iterator[str]:
        if self.open_error is not None:
            raise self.open_error
        return self._pieces()

    def _pieces(self) -> Iterator[str]:
        try:
            yield from self.pieces
            if self.stream_error is not None:
                raise self.stream_error
        finally:
            self.stream_closed = True


def throttled() -> ThrottledError:
    return ThrottledError("throttled", endpoint_name="fake-endpoint", upstream_message=None)


def broken_stream() -> StreamError:
    return StreamError("stream broke", endpoint_name="fake-endpoint")


async def collect(client: InferenceClient) -> list[StreamEvent]:
    return [event async for event in client.astream_events("hi")]


def test_default_stream_events_wraps_stream() -> None:
    client = TextOnlyClient()

    events = list(client.stream_events("hi"))

    assert events == [
        TextDelta("Hel"),
        TextDelta("lo"),
        TextDelta(""),
        StreamEnd(finish_reason=None, generated_tokens=None),
    ]
    assert client.stream_closed


def test_default_events_open_error() -> None:
    client = TextOnlyClient(open_error=throttled())

    with pytest.raises(ThrottledError):
        client.stream_events("hi")


def test_default_events_mid_stream_error() -> None:
    client = TextOnlyClient(pieces=("a",), stream_error=broken_stream())

    received: list[StreamEvent] = []
    with pytest.raises(StreamError):
        received.extend(client.stream_events("hi"))

    assert received == [TextDelta("a")]


def test_default_events_close_stream() -> None:
    client = TextOnlyClient(pieces=("a", "b", "c"))

    events = client.stream_events("hi")
    assert next(events) == TextDelta("a")
    events.close()  # type: ignore[attr-defined]

    assert client.stream_closed


def test_default_astream_events() -> None:
    client = TextOnlyClient(pieces=("Hel", "lo"))

    events = asyncio.run(collect(client))

    assert events == [
        TextDelta("Hel"),
        TextDelta("lo"),
        StreamEnd(finish_reason=None, generated_tokens=None),
    ]


def test_default_async_events_open_error() -> None:
    client = TextOnlyClient(open_error=throttled())

    with pytest.raises(ThrottledError):
        asyncio.run(collect(client))


def test_default_async_events_stream_error() -> None:
    client = TextOnlyClient(stream_error=broken_stream())

    with pytest.raises(StreamError):
        asyncio.run(collect(client))


def test_astream_still_yields_text() -> None:
    client = TextOnlyClient(pieces=("Hel", "lo"))

    async def texts() -> list[str]:
        return [piece async for piece in client.astream("hi")]

    assert asyncio.run(texts()) == ["Hel", "lo"]
