"""Parse TGI's server-sent events from the byte parts of a SageMaker response stream.

SageMaker cuts the stream into ``PayloadPart`` blobs wherever it likes: one event can span
several parts, one part can hold several events, and a part can end inside a UTF-8
character. TGI writes each event as ``data:{json}`` followed by a blank line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TgiStreamEvent:
    """One event of TGI's generate stream.

    A token event has ``token_text``; the final one also has ``generated_text`` and, when
    requested, ``details``; an error event has only ``error`` and ``error_type``.
    """

    token_text: str | None = None
    special: bool = False
    generated_text: str | None = None
    details: dict[str, Any] | None = None
    error: str | None = None
    error_type: str | None = None

    @property
    def is_final(self) -> bool:
        return self.generated_text is not None


class TgiStreamParser:
    """Turn byte parts into TGI stream events; pure, with no I/O.

    Raises ValueError for an event that is not JSON, or for bytes left over at ``close``
    that do not form a complete event.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._data_lines: list[str] = []

    def feed(self, part: bytes) -> list[TgiStreamEvent]:
        """Add one part and return the events it completes."""
        self._buffer.extend(part)
        events: list[TgiStreamEvent] = []
        while (newline := self._buffer.find(b"\n")) >= 0:
            # Splitting at b"\n" keeps multi-byte characters whole: no UTF-8 continuation
            # byte equals 0x0A, so a character split across parts waits in the buffer.
            raw_line = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            event = self._take_line(raw_line.decode("utf-8").removesuffix("\r"))
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[TgiStreamEvent]:
        """Return the event the stream ended in without a blank line, if any."""
        events: list[TgiStreamEvent] = []
        if self._buffer:
            leftover = bytes(self._buffer)
            self._buffer.clear()
            try:
                line = leftover.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError("stream ended inside a UTF-8 character") from error
            event = self._take_line(line.removesuffix("\r"))
            if event is not None:
                events.append(event)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _take_line(self, line: str) -> TgiStreamEvent | None:
        if not line:
            return self._dispatch()
        field, _, value = line.partition(":")
        # Only `data` carries TGI's events; comments (":...") and event/id/retry fields
        # carry nothing the client uses.
        if field == "data":
            self._data_lines.append(value.removeprefix(" "))
        return None

    def _dispatch(self) -> TgiStreamEvent | None:
        if not self._data_lines:
            return None
        data = "\n".join(self._data_lines)
        self._data_lines.clear()
        if data.strip() == "[DONE]":
            return None
        try:
            document = json.loads(data)
        except json.JSONDecodeError as error:
            raise ValueError(f"stream event is not JSON: {data[:80]!r}") from error
        if not isinstance(document, dict):
            raise ValueError(f"stream event is not a JSON object: {data[:80]!r}")
        return _event_from_json(document)


def _event_from_json(document: dict[str, Any]) -> TgiStreamEvent:
    if "error" in document:
        return TgiStreamEvent(
            error=str(document["error"]), error_type=_optional_str(document.get("error_type"))
        )
    token = document.get("token")
    token = token if isinstance(token, dict) else {}
    details = document.get("details")
    return TgiStreamEvent(
        token_text=_optional_str(token.get("text")),
        special=bool(token.get("special", False)),
        generated_text=_optional_str(document.get("generated_text")),
        details=details if isinstance(details, dict) else None,
    )


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class StopSequenceHoldback:
    """Hold back streamed text that could be the start of a stop sequence.

    TGI streams the tokens of a matched stop sequence before it stops, so the client keeps
    any tail that a stop sequence starts with until the next token decides, and drops the
    sequence when the final event reports ``stop_sequence``.
    """

    def __init__(self, stop: tuple[str, ...]) -> None:
        self._stop = tuple(sequence for sequence in stop if sequence)
        self._pending = ""

    def push(self, text: str) -> str:
        """Add streamed text and return the part that is safe to pass on."""
        self._pending += text
        keep = self._longest_stop_prefix_suffix()
        ready = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(ready) :]
        return ready

    def finish(self, finish_reason: str | None) -> str:
        """Return the held text, less the matched stop sequence when TGI stopped on one."""
        pending, self._pending = self._pending, ""
        if finish_reason == "stop_sequence":
            for sequence in sorted(self._stop, key=len, reverse=True):
                if pending.endswith(sequence):
                    return pending[: -len(sequence)]
        return pending

    def _longest_stop_prefix_suffix(self) -> int:
        longest = 0
        for sequence in self._stop:
            for size in range(min(len(sequence), len(self._pending)), longest, -1):
                if sequence.startswith(self._pending[-size:]):
                    longest = size
                    break
        return longest


class WhitespaceStripper:
    """Strip streamed text as ``str.strip`` strips the whole text, without waiting for the end.

    Leading whitespace is dropped until the first other character. Trailing whitespace is
    held back until more text arrives, and whatever is still held when the stream ends is
    dropped, so the joined output equals the joined input's ``strip()``.
    """

    def __init__(self) -> None:
        self._started = False
        self._pending = ""

    def push(self, text: str) -> str:
        """Add streamed text and return the part that is safe to pass on."""
        if not self._started:
            text = text.lstrip()
            if not text:
                return ""
            self._started = True
        text = self._pending + text
        ready = text.rstrip()
        self._pending = text[len(ready) :]
        return ready
