"""The ASGI application: SageMaker Runtime's two invoke operations and the control routes."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from rehearsal.runtime import errors, eventstream
from rehearsal.runtime.endpoints import AnyEndpoint, EndpointDirectory
from rehearsal.runtime.errors import SageMakerError
from rehearsal.runtime.faults import (
    FaultQueue,
    Faults,
    FaultSpecError,
    faults_from_custom_attributes,
    queued_from_control_body,
)
from rehearsal.runtime.openapi import DEFAULT_OPENAPI_PATH, RequestValidator
from rehearsal.runtime.tgi import ContainerResponse, TgiContainer, TgiLimits

LOGGER = logging.getLogger("rehearsal.runtime")

# moto's default account, so that messages match the account of endpoints created there.
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
PRODUCTION_VARIANT = "AllTraffic"
# SageMaker's limit for a container's response to a real-time invocation.
DEFAULT_INVOCATION_TIMEOUT_MS = 60_000
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([^/,]+)/")

INVOKE = "InvokeEndpoint"
INVOKE_STREAM = "InvokeEndpointWithResponseStream"


@dataclass
class RuntimeConfig:
    """Everything a runtime needs; ``default_faults`` apply to every invocation."""

    endpoints: EndpointDirectory = field(default_factory=AnyEndpoint)
    limits: TgiLimits = field(default_factory=TgiLimits)
    openapi_path: Path = DEFAULT_OPENAPI_PATH
    account: str = DEFAULT_ACCOUNT
    default_region: str = DEFAULT_REGION
    default_faults: Faults = field(default_factory=Faults)
    invocation_timeout_ms: int = DEFAULT_INVOCATION_TIMEOUT_MS


@dataclass
class Invocation:
    """One invoke request as the runtime saw it, for tests and ``GET /_rehearsal/invocations``."""

    request_id: str
    operation: str
    endpoint: str
    faults: dict[str, Any]
    status: int = 0
    error_code: str | None = None


class RuntimeState:
    """The mutable part of a runtime: queued faults and the invocations seen so far."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.queue = FaultQueue()
        self.container = TgiContainer(RequestValidator(config.openapi_path), config.limits)
        self._invocations: list[Invocation] = []
        self._lock = threading.Lock()

    def record(self, invocation: Invocation) -> None:
        with self._lock:
            self._invocations.append(invocation)

    def invocations(self) -> list[Invocation]:
        with self._lock:
            return list(self._invocations)


def _region(request: Request, default: str) -> str:
    match = _CREDENTIAL_SCOPE.search(request.headers.get("authorization", ""))
    return match.group(1) if match else default


def _error_response(error: SageMakerError, request_id: str) -> Response:
    return Response(
        error.encoded_body(),
        status_code=error.status,
        media_type="application/json",
        headers={"x-amzn-ErrorType": error.code, "x-amzn-RequestId": request_id},
    )


class Invoker:
    """Runs one invoke request: endpoint lookup, faults, the container and the response."""

    def __init__(self, state: RuntimeState, request: Request, operation: str) -> None:
        self.state = state
        self.config = state.config
        self.request = request
        self.operation = operation
        self.endpoint = request.path_params["endpoint_name"]
        self.region = _region(request, self.config.default_region)
        self.request_id = str(uuid.uuid4())
        self.invocation = Invocation(self.request_id, operation, self.endpoint, {})

    async def run(self) -> Response:
        try:
            response = await self._respond()
        except ClientDisconnect:
            # urllib3 resends a request whose pooled connection the server had closed, so
            # the first attempt is not an invocation: it is neither recorded nor given a
            # queued fault, and nobody reads this response.
            LOGGER.info(
                "client disconnected before its request body arrived operation=%s "
                "endpoint=%s request_id=%s",
                self.operation,
                self.endpoint,
                self.request_id,
            )
            return Response(status_code=400)
        except SageMakerError as error:
            response = _error_response(error, self.request_id)
            self.invocation.error_code = error.code
        except Exception:
            # A fault in the runtime itself must not stop the server: the caller gets
            # SageMaker's InternalFailure, and the log has the traceback.
            LOGGER.exception(
                "invocation failed operation=%s endpoint=%s request_id=%s",
                self.operation,
                self.endpoint,
                self.request_id,
            )
            failure = errors.internal_failure("the local runtime failed; see its log")
            response = _error_response(failure, self.request_id)
            self.invocation.error_code = failure.code
        self.invocation.status = response.status_code
        self.state.record(self.invocation)
        LOGGER.info(
            "%s endpoint=%s request_id=%s status=%d%s",
            self.operation,
            self.endpoint,
            self.request_id,
            response.status_code,
            f" error={self.invocation.error_code}" if self.invocation.error_code else "",
        )
        return response

    async def _respond(self) -> Response:
        exists = await run_in_threadpool(self.config.endpoints.exists, self.endpoint, self.region)
        if not exists:
            raise errors.endpoint_not_found(self.endpoint, self.config.account)
        # The body is read before a queued fault is taken, so that a request whose body
        # never arrives leaves the queue as it was.
        body = await self.request.body()
        faults = self._faults()
        await self._apply_service_faults(faults)
        content_type = self.request.headers.get("content-type")
        container = self.state.container.invoke(body, content_type, faults)
        if not 200 <= container.status < 300:
            original = container.body.decode("utf-8", errors="replace")
            raise errors.model_error(
                endpoint=self.endpoint,
                account=self.config.account,
                region=self.region,
                original_status=container.status,
                original_message=original,
            )
        headers = {
            "x-Amzn-Invoked-Production-Variant": PRODUCTION_VARIANT,
            "x-amzn-RequestId": self.request_id,
        }
        if self.operation == INVOKE:
            # Set as a header, because Starlette's media_type would add "; charset=utf-8" to
            # text types, which TGI does not send.
            headers["Content-Type"] = container.content_type
            return Response(await _whole_body(container), headers=headers)
        headers["X-Amzn-SageMaker-Content-Type"] = container.content_type
        return StreamingResponse(
            self._event_stream(container, faults),
            media_type="application/vnd.amazon.eventstream",
            headers=headers,
        )

    def _faults(self) -> Faults:
        try:
            from_header = faults_from_custom_attributes(
                self.request.headers.get("x-amzn-sagemaker-custom-attributes")
            )
        except FaultSpecError as error:
            raise errors.validation_error(
                f"X-Amzn-SageMaker-Custom-Attributes contains an invalid rehearsal fault "
                f"specification: {error}"
            ) from error
        queued = self.state.queue.take(self.endpoint)
        faults = self.config.default_faults.overlay(queued).overlay(from_header)
        self.invocation.faults = faults.to_json()
        if not faults.is_empty():
            LOGGER.info(
                "fault injected operation=%s endpoint=%s request_id=%s faults=%s",
                self.operation,
                self.endpoint,
                self.request_id,
                json.dumps(self.invocation.faults, separators=(",", ":")),
            )
        return faults

    async def _apply_service_faults(self, faults: Faults) -> None:
        """Raise the SageMaker-side error a fault names, after any injected latency."""
        if faults.error == "throttling":
            raise errors.throttling()
        if faults.error == "model_not_ready":
            raise errors.model_not_ready(faults.error_message)
        if faults.error == "service_unavailable":
            raise errors.service_unavailable(faults.error_message)
        if faults.error == "internal_failure":
            raise errors.internal_failure(faults.error_message)
        timeout = errors.invocation_timeout(
            endpoint=self.endpoint, account=self.config.account, region=self.region
        )
        if faults.error == "invocation_timeout":
            raise timeout
        latency_ms = faults.latency_ms or 0
        if latency_ms >= self.config.invocation_timeout_ms:
            await asyncio.sleep(self.config.invocation_timeout_ms / 1000)
            raise timeout
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)

    async def _event_stream(
        self, container: ContainerResponse, faults: Faults
    ) -> AsyncIterator[bytes]:
        parts = 0
        async for part in rechunk(_container_chunks(container), faults):
            if faults.stream_exception is not None and parts == (
                faults.stream_exception_after or 0
            ):
                yield self._stream_exception(faults)
                return
            yield eventstream.payload_part(part)
            parts += 1
        if faults.stream_exception is not None:
            yield self._stream_exception(faults)

    def _stream_exception(self, faults: Faults) -> bytes:
        LOGGER.info(
            "stream exception sent operation=%s endpoint=%s request_id=%s exception=%s",
            self.operation,
            self.endpoint,
            self.request_id,
            faults.stream_exception,
        )
        if faults.stream_exception == "ModelStreamError":
            return eventstream.exception_event(
                "ModelStreamError",
                {
                    "Message": faults.error_message or "injected: the model stream failed",
                    "ErrorCode": faults.stream_error_code or "ModelInvocationTimeExceeded",
                },
            )
        return eventstream.exception_event(
            "InternalStreamFailure",
            {"Message": faults.error_message or "injected: the stream processing failed"},
        )


async def _container_chunks(container: ContainerResponse) -> AsyncIterator[bytes]:
    if container.events is None:
        yield container.body
        return
    async for event in container.events:
        yield event


async def _whole_body(container: ContainerResponse) -> bytes:
    return b"".join([chunk async for chunk in _container_chunks(container)])


async def rechunk(chunks: AsyncIterator[bytes], faults: Faults) -> AsyncIterator[bytes]:
    """Regroup the container's bytes into payload parts as the faults ask.

    Without a fault each container write (one server-sent event) is one part. With
    ``chunk_offsets`` parts end exactly at those byte offsets of the whole stream, and with
    ``chunk_bytes`` every part but the last has that many bytes. Either way, a part may end
    inside an event or inside a UTF-8 character, and may contain several events.
    """
    if faults.chunk_offsets is None and faults.chunk_bytes is None:
        async for chunk in chunks:
            if chunk:
                yield chunk
        return
    cuts = sorted(set(faults.chunk_offsets or ()))
    buffer = b""
    buffer_start = 0
    async for chunk in chunks:
        buffer += chunk
        while True:
            if faults.chunk_offsets is not None:
                if not cuts or cuts[0] > buffer_start + len(buffer):
                    break
                size = cuts.pop(0) - buffer_start
            else:
                assert faults.chunk_bytes is not None
                if len(buffer) < faults.chunk_bytes:
                    break
                size = faults.chunk_bytes
            if size > 0:
                yield buffer[:size]
                buffer = buffer[size:]
                buffer_start += size
    if buffer:
        yield buffer


def create_app(config: RuntimeConfig | None = None) -> Starlette:
    """Build the ASGI application; its ``state.runtime`` is the ``RuntimeState``."""
    state = RuntimeState(config or RuntimeConfig())

    async def invoke(request: Request) -> Response:
        return await Invoker(state, request, INVOKE).run()

    async def invoke_stream(request: Request) -> Response:
        return await Invoker(state, request, INVOKE_STREAM).run()

    async def add_faults(request: Request) -> Response:
        try:
            entry = queued_from_control_body(json.loads(await request.body()))
        except json.JSONDecodeError as error:
            return JSONResponse({"message": f"body is not valid JSON: {error}"}, status_code=400)
        except FaultSpecError as error:
            return JSONResponse({"message": str(error)}, status_code=400)
        state.queue.add(entry)
        LOGGER.info("faults queued %s", json.dumps(entry.to_json(), separators=(",", ":")))
        return JSONResponse(entry.to_json(), status_code=201)

    async def list_faults(request: Request) -> Response:
        return JSONResponse(
            {"queued": state.queue.snapshot(), "defaults": state.config.default_faults.to_json()}
        )

    async def clear_faults(request: Request) -> Response:
        state.queue.clear()
        LOGGER.info("fault queue cleared")
        return Response(status_code=204)

    async def list_invocations(request: Request) -> Response:
        return JSONResponse({"invocations": [asdict(item) for item in state.invocations()]})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "endpoints": state.config.endpoints.describe()})

    async def unknown_operation(request: Request) -> Response:
        error = SageMakerError(
            404,
            "UnknownOperationException",
            {"message": f"{request.method} {request.url.path} is not an operation of this runtime"},
        )
        return _error_response(error, str(uuid.uuid4()))

    app = Starlette(
        routes=[
            Route("/endpoints/{endpoint_name}/invocations", invoke, methods=["POST"]),
            Route(
                "/endpoints/{endpoint_name}/invocations-response-stream",
                invoke_stream,
                methods=["POST"],
            ),
            Route("/_rehearsal/faults", add_faults, methods=["POST"]),
            Route("/_rehearsal/faults", list_faults, methods=["GET"]),
            Route("/_rehearsal/faults", clear_faults, methods=["DELETE"]),
            Route("/_rehearsal/invocations", list_invocations, methods=["GET"]),
            Route("/_rehearsal/health", health, methods=["GET"]),
            Route(
                "/{path:path}",
                unknown_operation,
                methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"],
            ),
        ]
    )
    app.state.runtime = state
    return app
