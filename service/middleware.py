"""ASGI middleware: a request id for every request and a limit on the request body size."""

from __future__ import annotations

import logging
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ErrorCode, RequestBodyTooLargeError, error_response

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"


class RequestIdMiddleware:
    """Give each HTTP request a fresh id and turn unhandled exceptions into a safe 500.

    The id is stored as ``request.state.request_id`` and sent back in the ``X-Request-Id``
    header. An incoming ``X-Request-Id`` is ignored, so that log lines only ever carry ids
    the service generated. An exception that reaches this middleware before the response
    has started is logged with its traceback, and the client receives the
    ``internal_error`` body. After the response has started, the exception is re-raised
    and the server closes the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            if response_started:
                raise
            logger.exception(
                "unhandled error in %s %s, request_id=%s",
                scope["method"],
                scope["path"],
                request_id,
            )
            response = error_response(500, ErrorCode.INTERNAL_ERROR, request_id)
            await response(scope, receive, send_with_request_id)


class RequestBodyLimitMiddleware:
    """Stop reading a request body once it is larger than ``max_bytes``.

    A ``Content-Length`` over the limit is rejected before any byte is read, and a chunked
    body as soon as the running count passes the limit. Both raise
    :class:`RequestBodyTooLargeError` from ``receive``; FastAPI re-raises an
    ``HTTPException`` from body reading unchanged, so the app's handler for it responds.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        declared_length = _content_length(scope)
        received_bytes = 0

        async def receive_within_limit() -> Message:
            nonlocal received_bytes
            if declared_length is not None and declared_length > self.max_bytes:
                raise RequestBodyTooLargeError(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received_bytes += len(message.get("body", b""))
                if received_bytes > self.max_bytes:
                    raise RequestBodyTooLargeError(self.max_bytes)
            return message

        await self.app(scope, receive_within_limit, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                # The server rejects a malformed Content-Length before the app runs;
                # under a test transport the running count still applies.
                return None
    return None
