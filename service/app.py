"""The FastAPI app: ``POST /summarize``, ``POST /summarize/stream`` and ``GET /health``.

The app keeps one inference client for its whole life, created in the lifespan unless a
client is passed to :func:`create_app`. Routes call only the client's async methods, which
run boto3 in threads, so no endpoint call blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.sse import EventSourceResponse
from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr

from inference.base import InferenceClient
from inference.prompts import CONTROL_MARKERS, PromptError, PromptTemplate, template_for_model
from inference.sagemaker_tgi import SageMakerTgiClient
from inference.tasks import DocumentTooLongError, SummarizeShortDocument
from service.errors import (
    ErrorBody,
    ErrorCode,
    RequestRejectedError,
    install_error_handlers,
)
from service.middleware import RequestBodyLimitMiddleware, RequestIdMiddleware
from service.settings import ServiceSettings
from service.streaming import EVENT_STREAM_HEADERS, open_summary_stream

logger = logging.getLogger(__name__)


class SummarizeRequest(BaseModel):
    """Body of both summarize routes."""

    # Unknown fields are rejected, so that a misspelled "max_new_tokens" does not pass
    # unnoticed.
    model_config = ConfigDict(extra="forbid")

    # Strict types, so that a number, a numeric string or a bool is rejected rather than
    # converted.
    document: StrictStr
    # None (or a missing field) uses the configured default_max_new_tokens.
    max_new_tokens: StrictInt | None = None


class SummarizeResponse(BaseModel):
    """Body of a successful ``POST /summarize``."""

    summary: str
    # "length", "eos_token" or "stop_sequence"; None when the endpoint returns no details.
    finish_reason: str | None
    generated_tokens: int | None
    truncated: bool
    endpoint: str


class HealthResponse(BaseModel):
    """Body of ``GET /health``."""

    status: str
    endpoint: str


@dataclass(frozen=True)
class ServiceState:
    """Settings, client and prompt template that the routes share for the life of the app."""

    settings: ServiceSettings
    client: InferenceClient
    template: PromptTemplate

    def summarize_task(self, max_new_tokens: int) -> SummarizeShortDocument:
        # A task is a few references and no I/O, so one per request is cheap and keeps
        # the per-request max_new_tokens out of shared state.
        return SummarizeShortDocument(
            self.client,
            self.template,
            max_input_tokens=self.settings.input_token_budget(max_new_tokens),
            max_new_tokens=max_new_tokens,
            truncate=self.settings.truncate,
        )


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        413: "The request body or the document is over its limit.",
        422: "The body is not valid JSON, a field is missing or invalid, or the document "
        "is empty or contains prompt markers.",
        502: "The endpoint failed, was not found, or rejected the request the service built.",
        503: "The endpoint throttled the request or is temporarily unavailable. Retry after "
        "the seconds in Retry-After.",
        504: "The endpoint did not respond in time.",
    }.items()
}


def create_app(settings: ServiceSettings, client: InferenceClient | None = None) -> FastAPI:
    """Build the app; without ``client``, the lifespan creates a SageMakerTgiClient.

    Raises whatever ``template_for_model`` raises for a model id it has no template for,
    so that a wrong model id fails at start rather than at the first request.
    """
    template = template_for_model(settings.model_id)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Creating a boto3 client reads config files and credentials from disk, so it runs
        # in a thread too.
        active_client = client
        if active_client is None:
            active_client = await asyncio.to_thread(SageMakerTgiClient, settings.client)
        app.state.service = ServiceState(settings, active_client, template)
        logger.info(
            "service started for endpoint %s, model %s",
            active_client.endpoint_name,
            settings.model_id,
        )
        yield
        # A client passed in belongs to the caller, who closes it.
        if client is None:
            active_client.close()
        logger.info("service stopped for endpoint %s", active_client.endpoint_name)

    app = FastAPI(
        title="LLM summarization service",
        summary="Summarize short documents with a TGI endpoint on Amazon SageMaker.",
        lifespan=lifespan,
    )
    install_error_handlers(app, retry_after_seconds=settings.retry_after_seconds)
    # The last middleware added is the outermost, so every response, the 413 of the body
    # limit included, passes through the request-id middleware.
    app.add_middleware(RequestBodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/health")
    async def health(request: Request) -> HealthResponse:
        """Report that the service runs; the endpoint is named but not called."""
        state = service_state(request)
        return HealthResponse(status="ok", endpoint=state.client.endpoint_name)

    @app.post("/summarize", responses=ERROR_RESPONSES)
    async def summarize(body: SummarizeRequest, request: Request) -> SummarizeResponse:
        """Summarize the document and return the whole summary."""
        state = service_state(request)
        max_new_tokens = validate_request(body, state.settings, request)
        with rejecting_unusable_documents(max_new_tokens):
            summary = await state.summarize_task(max_new_tokens).aexecute(body.document)
        return SummarizeResponse(
            summary=summary.text,
            finish_reason=summary.finish_reason,
            generated_tokens=summary.generated_tokens,
            truncated=summary.truncated,
            endpoint=state.client.endpoint_name,
        )

    @app.post(
        "/summarize/stream",
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "Server-sent events; see the service package docstring.",
            },
            **ERROR_RESPONSES,
        },
    )
    async def summarize_stream(body: SummarizeRequest, request: Request) -> EventSourceResponse:
        """Stream the summary as server-sent events.

        Errors before the first piece of text get the same status codes and bodies as
        ``POST /summarize``. An error after it ends the stream with an ``error`` event.
        """
        state = service_state(request)
        max_new_tokens = validate_request(body, state.settings, request)
        with rejecting_unusable_documents(max_new_tokens):
            events = await open_summary_stream(
                state.summarize_task(max_new_tokens),
                body.document,
                request,
                endpoint_name=state.client.endpoint_name,
            )
        return EventSourceResponse(events, headers=EVENT_STREAM_HEADERS)

    return app


def service_state(request: Request) -> ServiceState:
    """Return the state the lifespan stored on the app."""
    state = request.app.state.service
    assert isinstance(state, ServiceState), "the app's lifespan has not run"
    return state


def validate_request(body: SummarizeRequest, settings: ServiceSettings, request: Request) -> int:
    """Check the document and max_new_tokens against the limits; return max_new_tokens.

    Raises RequestRejectedError with a message that names the limit.
    """
    document = body.document
    # The error handler logs the length with any upstream failure of this request.
    request.state.document_chars = len(document)
    limit = settings.max_document_chars
    if not document.strip():
        raise RequestRejectedError(
            422,
            ErrorCode.EMPTY_DOCUMENT,
            f"The document is empty. Send a document of 1 to {limit} characters.",
        )
    if len(document) > limit:
        raise RequestRejectedError(
            413,
            ErrorCode.DOCUMENT_TOO_LONG,
            f"The document has {len(document)} characters, more than the limit of {limit}. "
            "Shorten the document.",
        )

    maximum = settings.max_new_tokens_limit
    max_new_tokens = body.max_new_tokens
    if max_new_tokens is None:
        return settings.default_max_new_tokens
    if not 1 <= max_new_tokens <= maximum:
        raise RequestRejectedError(
            422,
            ErrorCode.INVALID_REQUEST,
            f"max_new_tokens must be from 1 to {maximum}, got {max_new_tokens}.",
        )
    return max_new_tokens


@contextmanager
def rejecting_unusable_documents(max_new_tokens: int) -> Iterator[None]:
    """Turn the task's errors about the document into 413 and 422 responses."""
    try:
        yield
    except DocumentTooLongError as error:
        raise RequestRejectedError(
            413,
            ErrorCode.DOCUMENT_TOO_LONG,
            f"The document is too long: the prompt is about {error.estimated_tokens} tokens "
            f"(an estimate) and the limit with max_new_tokens={max_new_tokens} is "
            f"{error.limit} input tokens. Shorten the document.",
        ) from error
    except PromptError as error:
        raise RequestRejectedError(
            422,
            ErrorCode.INVALID_DOCUMENT,
            "The document contains text that the model reads as prompt structure ("
            + ", ".join(CONTROL_MARKERS)
            + "). Remove it from the document.",
        ) from error
