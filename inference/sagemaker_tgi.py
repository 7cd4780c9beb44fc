"""A client for TGI behind a SageMaker real-time endpoint, through boto3's sagemaker-runtime."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import random
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import urllib3.exceptions
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from inference.base import (
    Generation,
    GenerationParameters,
    InferenceClient,
    StreamEnd,
    StreamEvent,
    TextDelta,
)
from inference.error_mapping import (
    STREAM_ERROR_CODES,
    error_from_client_error,
    error_from_transport_error,
    stream_error,
)
from inference.errors import (
    EndpointUnavailableError,
    InferenceError,
    InvalidRequestError,
    MissingRegionError,
    ModelError,
    StreamError,
    ThrottledError,
)
from inference.settings import ClientSettings
from inference.streaming import StopSequenceHoldback, TgiStreamEvent, TgiStreamParser
from inference.tgi import build_payload, parameter_problems, parse_generation

logger = logging.getLogger(__name__)

_TRANSPORT_ERRORS = (BotoCoreError, urllib3.exceptions.HTTPError)
# Errors that SageMaker returns for a request it may accept on a later attempt.
_RETRIED_ERRORS = (ThrottledError, EndpointUnavailableError)


def resolve_region(region: str | None, session: boto3.session.Session | None = None) -> str:
    """Return the AWS region for a client: ``region``, else AWS_REGION, else boto3's own.

    boto3's own resolution reads AWS_DEFAULT_REGION and the profile's region. The AWS SDKs
    and Tools Reference Guide names AWS_REGION as the region variable, but boto3 1.44 does
    not read it, so it is read here. Raises MissingRegionError when none of these sets one.
    """
    if region:
        return region
    from_environment = os.environ.get("AWS_REGION")
    if from_environment:
        return from_environment
    resolved = (session or boto3.session.Session()).region_name
    if not resolved:
        raise MissingRegionError()
    return str(resolved)


class SageMakerTgiClient(InferenceClient):
    """Call one SageMaker endpoint that runs TGI, with one boto3 client per instance.

    Only ThrottlingException, ModelNotReadyException and ServiceUnavailable are retried, by
    a loop here with jittered exponential backoff. botocore's retry modes also retry other
    5xx errors and dropped connections, which could repeat a generation that already cost
    up to 60 seconds of GPU time. So botocore's own retries are off (``total_max_attempts``
    1).

    Raises MissingRegionError when neither the settings nor the environment set a region
    (see :func:`resolve_region`).
    """

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.endpoint_name = settings.endpoint_name
        self._defaults = settings.default_parameters()
        # A session of its own, because boto3's default session is not thread-safe to
        # create clients from; the client itself is safe to share between threads.
        session = boto3.session.Session()
        config = Config(
            region_name=resolve_region(settings.region, session),
            connect_timeout=settings.connect_timeout_s,
            read_timeout=settings.read_timeout_s,
            retries={"mode": "standard", "total_max_attempts": 1},
            max_pool_connections=settings.max_concurrency,
        )
        client_options: dict[str, Any] = {"config": config}
        if settings.endpoint_url is not None:
            client_options["endpoint_url"] = settings.endpoint_url
        # The client is typed Any: the sagemaker-runtime stubs are not installed.
        self._runtime: Any = session.client("sagemaker-runtime", **client_options)
        self._jitter = random.Random()  # noqa: S311 - backoff jitter, not a secret
        # asyncio.to_thread would use the event loop's default executor of
        # min(32, cpu_count + 4) threads, which lets only 6 generations wait on the
        # endpoint at once on 2 cores. The pool starts threads only as calls need them.
        self._executor = ThreadPoolExecutor(
            max_workers=settings.max_concurrency, thread_name_prefix="sagemaker-tgi"
        )

    async def agenerate(
        self, prompt: str, parameters: GenerationParameters | None = None
    ) -> Generation:
        loop = asyncio.get_running_loop()
        # Copied like asyncio.to_thread does, so context variables reach the thread.
        context = contextvars.copy_context()
        return await loop.run_in_executor(
            self._executor, functools.partial(context.run, self.generate, prompt, parameters)
        )

    def close(self) -> None:
        """Close the HTTP connections and the thread pool; calls already running finish."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._runtime.close()

    def generate(self, prompt: str, parameters: GenerationParameters | None = None) -> Generation:
        merged = self._checked_parameters(prompt, parameters)
        request = self._request(build_payload(prompt, merged, stream=False))
        request["Accept"] = "application/json"
        response = self._invoke(self._runtime.invoke_endpoint, request)
        request_id = _request_id(response)
        try:
            body = response["Body"].read()
        except _TRANSPORT_ERRORS as error:
            raise self._failed(
                error_from_transport_error(error, self.endpoint_name, streaming=False)
            ) from error
        try:
            return parse_generation(body, merged.stop)
        except ValueError as error:
            raise self._failed(
                ModelError(
                    "TGI returned a response that is not a generation",
                    endpoint_name=self.endpoint_name,
                    upstream_message=body[:200].decode("utf-8", "replace"),
                    request_id=request_id,
                )
            ) from error

    def stream(self, prompt: str, parameters: GenerationParameters | None = None) -> Iterator[str]:
        """Open the stream now and return an iterator over its text.

        The text and the errors are those of ``stream_events``.
        """
        return _texts_of(self.stream_events(prompt, parameters))

    def stream_events(
        self, prompt: str, parameters: GenerationParameters | None = None
    ) -> Generator[StreamEvent, None, None]:
        """Open the stream now and return an iterator over its events.

        The StreamEnd carries the finish reason and generated token count of TGI's final
        event. A matched stop sequence is not in the text, as in ``generate``.
        Errors before the first part (an invalid request, a missing endpoint, throttling)
        raise here; errors after it raise from the iterator as StreamError or
        InferenceTimeoutError. Closing the iterator closes the HTTP response.
        """
        merged = self._checked_parameters(prompt, parameters)
        request = self._request(build_payload(prompt, merged, stream=True))
        response = self._invoke(self._runtime.invoke_endpoint_with_response_stream, request)
        return self._read_stream(response["Body"], merged.stop, _request_id(response))

    def _checked_parameters(
        self, prompt: str, parameters: GenerationParameters | None
    ) -> GenerationParameters:
        merged = (parameters or GenerationParameters()).merged_over(self._defaults)
        problems = parameter_problems(
            prompt,
            merged,
            max_total_tokens=self.settings.max_total_tokens,
            max_input_tokens=self.settings.max_input_tokens,
        )
        if problems:
            raise InvalidRequestError(
                "invalid request: " + "; ".join(problems),
                endpoint_name=self.endpoint_name,
                upstream_message=None,
            )
        return merged

    def _request(self, body: bytes) -> dict[str, Any]:
        request: dict[str, Any] = {
            "EndpointName": self.endpoint_name,
            "ContentType": "application/json",
            "Body": body,
        }
        if self.settings.inference_component_name:
            request["InferenceComponentName"] = self.settings.inference_component_name
        return request

    def _invoke(self, operation: Callable[..., Any], request: dict[str, Any]) -> Any:
        attempt = 0
        while True:
            try:
                return operation(**request)
            except ClientError as error:
                mapped = error_from_client_error(error, self.endpoint_name)
                if isinstance(mapped, _RETRIED_ERRORS) and attempt < self.settings.max_retries:
                    attempt += 1
                    delay = self._backoff_delay(attempt)
                    logger.warning(
                        "endpoint %s returned %s (request id %s); retry %d of %d in %.2f s",
                        self.endpoint_name,
                        mapped.error_code,
                        mapped.request_id,
                        attempt,
                        self.settings.max_retries,
                        delay,
                    )
                    time.sleep(delay)
                    continue
                raise self._failed(mapped) from error
            except _TRANSPORT_ERRORS as error:
                mapped = error_from_transport_error(error, self.endpoint_name, streaming=False)
                raise self._failed(mapped) from error

    def _backoff_delay(self, attempt: int) -> float:
        # Full jitter: a uniform delay below an exponentially growing ceiling spreads out
        # clients that were turned away at the same moment.
        ceiling = min(
            self.settings.retry_max_delay_s,
            self.settings.retry_base_delay_s * 2 ** (attempt - 1),
        )
        return self._jitter.uniform(0, ceiling)

    def _read_stream(
        self, event_stream: Any, stop: tuple[str, ...], request_id: str | None
    ) -> Generator[StreamEvent, None, None]:
        parser = TgiStreamParser()
        holdback = StopSequenceHoldback(stop)
        try:
            for event in event_stream:
                for tgi_event in self._tgi_events(event, parser, request_id):
                    text, end = self._consume(tgi_event, holdback, request_id)
                    if text:
                        yield TextDelta(text)
                    if end is not None:
                        yield end
                        return
            for tgi_event in parser.close():
                text, end = self._consume(tgi_event, holdback, request_id)
                if text:
                    yield TextDelta(text)
                if end is not None:
                    yield end
                    return
            raise StreamError(
                "the response stream ended before TGI's final event",
                endpoint_name=self.endpoint_name,
                request_id=request_id,
            )
        except InferenceError as error:
            self._failed(error)
            raise
        except ClientError as error:
            # botocore raises an exception event of the stream as EventStreamError.
            mapped = error_from_client_error(error, self.endpoint_name)
            mapped.request_id = mapped.request_id or request_id
            raise self._failed(mapped) from error
        except ValueError as error:
            raise self._failed(
                StreamError(
                    "the response stream is not valid TGI output",
                    endpoint_name=self.endpoint_name,
                    upstream_message=str(error),
                    request_id=request_id,
                )
            ) from error
        except _TRANSPORT_ERRORS as error:
            mapped = error_from_transport_error(error, self.endpoint_name, streaming=True)
            mapped.request_id = request_id
            raise self._failed(mapped) from error
        finally:
            event_stream.close()

    def _tgi_events(
        self, event: dict[str, Any], parser: TgiStreamParser, request_id: str | None
    ) -> list[TgiStreamEvent]:
        for code in STREAM_ERROR_CODES:
            if code in event:
                detail = event[code] if isinstance(event[code], dict) else {}
                message = str(detail.get("Message", ""))
                if detail.get("ErrorCode"):
                    message = f"{detail['ErrorCode']}: {message}"
                raise stream_error(
                    code, message, endpoint_name=self.endpoint_name, request_id=request_id
                )
        part = event.get("PayloadPart")
        if part is None:
            return []
        return parser.feed(part.get("Bytes", b""))

    def _consume(
        self, event: TgiStreamEvent, holdback: StopSequenceHoldback, request_id: str | None
    ) -> tuple[str, StreamEnd | None]:
        """Return the text an event adds, and the StreamEnd when it was TGI's final event."""
        if event.error is not None:
            raise StreamError(
                "TGI reported an error in the response stream",
                endpoint_name=self.endpoint_name,
                upstream_message=event.error,
                request_id=request_id,
                error_code=event.error_type,
            )
        text = ""
        if event.token_text and not event.special:
            text = holdback.push(event.token_text)
        if event.is_final:
            end = _stream_end(event.details or {})
            return text + holdback.finish(end.finish_reason), end
        return text, None

    def _failed(self, error: InferenceError) -> InferenceError:
        # Debug level, because the error is raised to the caller, which logs it once with
        # its own request id (the service does).
        logger.debug(
            "inference on endpoint %s failed (request id %s): %s: %s",
            error.endpoint_name,
            error.request_id,
            type(error).__name__,
            error.upstream_message or error.message,
        )
        return error


def _texts_of(events: Generator[StreamEvent, None, None]) -> Iterator[str]:
    try:
        for event in events:
            if isinstance(event, TextDelta):
                yield event.text
    finally:
        # Closed explicitly, so that a consumer that stops early closes the HTTP response
        # now rather than when the garbage collector finalizes the event generator.
        events.close()


def _stream_end(details: dict[str, Any]) -> StreamEnd:
    # A value of an unexpected type becomes None, so callers can rely on the field types.
    finish_reason = details.get("finish_reason")
    generated_tokens = details.get("generated_tokens")
    return StreamEnd(
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        generated_tokens=(
            generated_tokens
            if isinstance(generated_tokens, int) and not isinstance(generated_tokens, bool)
            else None
        ),
    )


def _request_id(response: dict[str, Any]) -> str | None:
    request_id = response.get("ResponseMetadata", {}).get("RequestId")
    return str(request_id) if request_id else None
