"""The prompt-independent client interface, TGI's generation parameters and its results."""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any, Generic, Literal, TypeAlias, TypeVar

# Items the consumer cannot yield ahead of; the producing thread blocks once this many wait.
STREAM_QUEUE_CAPACITY = 16

T = TypeVar("T")


@dataclass(frozen=True)
class GenerationParameters:
    """TGI's ``parameters`` of a generate request; None means "TGI's default".

    ``stop`` contains stop sequences: generation ends when the output ends with one of them.
    ``grammar`` is TGI's guided-generation object, ``{"type": "json" | "regex", "value": ...}``.
    """

    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    stop: tuple[str, ...] = ()
    truncate: int | None = None
    do_sample: bool | None = None
    seed: int | None = None
    grammar: dict[str, Any] | None = None

    def merged_over(self, defaults: GenerationParameters) -> GenerationParameters:
        """Return these parameters with every unset field (None, or no stop) from ``defaults``."""
        values: dict[str, Any] = {}
        for field in fields(self):
            own = getattr(self, field.name)
            unset = own is None or (field.name == "stop" and not own)
            values[field.name] = getattr(defaults, field.name) if unset else own
        return GenerationParameters(**values)


@dataclass(frozen=True)
class Generation:
    """A finished generation.

    ``finish_reason`` is "length", "eos_token" or "stop_sequence" when TGI returns details;
    ``input_tokens`` is set only when TGI returns the prefill tokens.
    """

    text: str
    finish_reason: str | None
    generated_tokens: int | None
    input_tokens: int | None


@dataclass(frozen=True)
class TextDelta:
    """The next piece of a streamed generation's text."""

    text: str


@dataclass(frozen=True)
class StreamEnd:
    """The last event of a stream that finished without an error.

    The fields mean what they mean in ``Generation``. They are None when the endpoint
    returns no details, and always None from the default ``stream_events``.
    """

    finish_reason: str | None
    generated_tokens: int | None


StreamEvent: TypeAlias = TextDelta | StreamEnd


class InferenceClient(ABC):
    """A text-generation endpoint, called with an already rendered prompt.

    The async methods run the synchronous ones in a thread, so a subclass only implements
    ``generate`` and ``stream`` and never blocks an event loop. A subclass that can read
    the finish reason of a stream also overrides ``stream_events``.
    """

    endpoint_name: str

    @abstractmethod
    def generate(self, prompt: str, parameters: GenerationParameters | None = None) -> Generation:
        """Generate a completion of ``prompt`` and return it whole."""

    @abstractmethod
    def stream(self, prompt: str, parameters: GenerationParameters | None = None) -> Iterator[str]:
        """Generate a completion of ``prompt`` and yield its text in pieces as they arrive."""

    def stream_events(
        self, prompt: str, parameters: GenerationParameters | None = None
    ) -> Iterator[StreamEvent]:
        """Generate like ``stream``, yielding a TextDelta per piece and then one StreamEnd.

        A stream that fails raises instead of yielding the StreamEnd. This default wraps
        ``stream``, so its StreamEnd carries no details, and errors raise where ``stream``
        raises them. Closing the iterator closes the one from ``stream``.
        """
        return _events_of_pieces(self.stream(prompt, parameters))

    async def agenerate(
        self, prompt: str, parameters: GenerationParameters | None = None
    ) -> Generation:
        return await asyncio.to_thread(self.generate, prompt, parameters)

    def astream(
        self, prompt: str, parameters: GenerationParameters | None = None
    ) -> AsyncIterator[str]:
        return iterate_in_thread(lambda: self.stream(prompt, parameters))

    def astream_events(
        self, prompt: str, parameters: GenerationParameters | None = None
    ) -> AsyncIterator[StreamEvent]:
        """Run ``stream_events`` in a thread; every error raises from the async iterator."""
        return iterate_in_thread(lambda: self.stream_events(prompt, parameters))

    def close(self) -> None:
        """Release the client's connections and threads; this default holds none."""
        return


def _events_of_pieces(pieces: Iterator[str]) -> Iterator[StreamEvent]:
    try:
        for piece in pieces:
            yield TextDelta(piece)
    finally:
        # Closed explicitly, so that a consumer that stops early releases the text stream's
        # connection now rather than when the garbage collector finalizes the iterator.
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    yield StreamEnd(finish_reason=None, generated_tokens=None)


_Kind = Literal["item", "error", "end"]


def iterate_in_thread(open_iterator: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Run a blocking iterator in a daemon thread and yield its items to the event loop.

    ``open_iterator`` is called in the thread too, so opening the stream never blocks the
    loop. The thread holds at most ``STREAM_QUEUE_CAPACITY`` items ahead of the consumer.
    When the consumer stops early (``aclose``, cancellation, ``break``), the thread closes
    the iterator as soon as its current ``next()`` returns.
    """
    return _ThreadedIterator(open_iterator).iterate()


class _ThreadedIterator(Generic[T]):
    def __init__(self, open_iterator: Callable[[], Iterator[T]]) -> None:
        self._open_iterator = open_iterator
        self._slots = threading.Semaphore(STREAM_QUEUE_CAPACITY)
        self._stopped = threading.Event()

    async def iterate(self) -> AsyncIterator[T]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[_Kind, Any]] = asyncio.Queue()
        # A daemon thread rather than the loop's executor: a thread blocked in a socket read
        # would otherwise hold up asyncio.run() at exit until the read timed out.
        thread = threading.Thread(
            target=self._produce, args=(loop, queue), name="inference-stream", daemon=True
        )
        thread.start()
        try:
            while True:
                kind, value = await queue.get()
                if kind == "item":
                    self._slots.release()
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            self._stopped.set()
            # Wakes the producer if it waits for a slot, so it can see the stop and exit.
            self._slots.release()

    def _produce(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any]) -> None:
        def send(kind: _Kind, value: Any) -> bool:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
            except RuntimeError:
                # The event loop is closed, so no consumer remains.
                return False
            return True

        iterator: Iterator[T] | None = None
        try:
            iterator = self._open_iterator()
            for item in iterator:
                self._slots.acquire()
                if self._stopped.is_set() or not send("item", item):
                    return
        except BaseException as error:  # re-raised in the consumer's task
            send("error", error)
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        send("end", None)
