"""Server-sent events for ``POST /summarize/stream``.

The stream is opened and its first piece of text awaited before the response starts, so
that an error before any text (throttling, a missing endpoint, a rejected request) still
gets its own status code and error body. After that the status is 200, and a failure
ends the stream with an ``error`` event instead.

Events, each one ``data:`` line of JSON followed by a blank line:

- ``data: {"text": "..."}``: the next piece of the summary (event type ``message``);
- ``event: done`` with ``{"finish_reason", "generated_tokens", "truncated", "endpoint"}``:
  the summary is complete. The first two are null when the client reports no details;
- ``event: error`` with the same ``{"error": {"code", "message", "request_id"}}`` body as
  an error response: the stream failed, and no ``done`` follows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request

from inference.base import GenerationParameters, StreamEnd, StreamEvent, TextDelta
from inference.errors import InferenceError
from inference.streaming import WhitespaceStripper
from inference.tasks import SummarizeShortDocument
from service.errors import (
    ErrorCode,
    classify_upstream_error,
    error_body,
    log_upstream_failure,
    request_id_of,
)

logger = logging.getLogger(__name__)

# Proxies such as nginx buffer responses unless these headers disable it, and buffering
# would hold back every event until the stream ends.
EVENT_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def format_event(data: dict[str, Any], event: str | None = None) -> bytes:
    """Encode one server-sent event whose data is a JSON object.

    json.dumps escapes line breaks inside strings, so the data is always a single line.
    """
    lines = [] if event is None else [f"event: {event}"]
    lines.append(f"data: {json.dumps(data, ensure_ascii=False)}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def summary_request(
    task: SummarizeShortDocument, document: str
) -> tuple[str, GenerationParameters, bool]:
    """Return the prompt, parameters and truncated flag the task would send for ``document``.

    Raises DocumentTooLongError and PromptError as ``task.aexecute`` does.
    """
    return task.prepare(document)


async def open_summary_stream(
    task: SummarizeShortDocument, document: str, request: Request, *, endpoint_name: str
) -> AsyncIterator[bytes]:
    """Start the endpoint's stream and return the encoded events.

    Raises, before any event exists, what ``summary_request`` raises and any InferenceError
    of opening the stream or of reading its first piece, for the app's error handlers.
    """
    prompt, parameters, truncated = summary_request(task, document)
    events = task.client.astream_events(prompt, parameters)
    # The non-streaming route returns the task's summary, the generated text with whitespace
    # stripped from both ends. The model often starts with a space or a line break, and can
    # put a space before a stop sequence that the client removes. Stripping the stream the
    # same way keeps both routes alike.
    stripper = WhitespaceStripper()
    first = ""
    end: StreamEnd | None = None
    async for event in events:
        if isinstance(event, StreamEnd):
            end = event
            break
        first = stripper.push(event.text)
        if first:
            break
    return _summary_events(
        first,
        end,
        events,
        stripper,
        truncated=truncated,
        endpoint_name=endpoint_name,
        request_id=request_id_of(request),
        route=request.url.path,
        document_chars=len(document),
    )


async def _summary_events(
    first: str,
    end: StreamEnd | None,
    events: AsyncIterator[StreamEvent],
    stripper: WhitespaceStripper,
    *,
    truncated: bool,
    endpoint_name: str,
    request_id: str,
    route: str,
    document_chars: int,
) -> AsyncIterator[bytes]:
    """Encode the text events, then the done event, or an error event if the stream fails.

    ``end`` is the StreamEnd already read, when the stream ended before any text.
    ``stripper`` is the one that produced ``first``, since it may hold back whitespace.
    """
    try:
        if first:
            yield format_event({"text": first})
        if end is None:
            async for event in events:
                if isinstance(event, TextDelta):
                    text = stripper.push(event.text)
                    if text:
                        yield format_event({"text": text})
                else:
                    end = event
    except InferenceError as error:
        failure = classify_upstream_error(error)
        log_upstream_failure(
            error,
            failure,
            request_id=request_id,
            route=route,
            document_chars=document_chars,
            mid_stream=True,
        )
        yield format_event(error_body(failure.code, request_id).model_dump(), event="error")
        return
    except Exception:
        # The status line is sent already, so the middleware can no longer respond with 500.
        # The error event is the only way left to inform the client.
        logger.exception("summary stream failed on %s, request_id=%s", route, request_id)
        body = error_body(ErrorCode.INTERNAL_ERROR, request_id)
        yield format_event(body.model_dump(), event="error")
        return
    finally:
        # Stops the client's reader thread when the client disconnects mid-stream.
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
    # An InferenceClient subclass that overrides stream_events may end without a StreamEnd,
    # so a missing one is reported as no details rather than as a failure.
    details = end or StreamEnd(finish_reason=None, generated_tokens=None)
    done = {
        "finish_reason": details.finish_reason,
        "generated_tokens": details.generated_tokens,
        "truncated": truncated,
        "endpoint": endpoint_name,
    }
    yield format_event(done, event="done")
