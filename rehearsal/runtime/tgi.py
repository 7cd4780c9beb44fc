"""The model container: TGI's ``/invocations`` route for generate requests, simulated.

What follows TGI 3.x (its router's validation and its SageMaker route):

- A body that is not JSON is rejected with 400, a content type other than JSON with 415,
  and a body that breaks the OpenAPI schema's types with 422. These come from the web
  framework, so their bodies are plain text, not JSON.
- TGI's parameter rules reject with 422 and ``{"error": "Input validation error: ...",
  "error_type": "validation"}``. With ``"stream": true`` the response has already started, so
  the same error arrives as a ``data:{"error": ...}`` event with status 200.
- ``return_full_text`` defaults to true and ``details`` to false; a non-streaming response
  is a JSON list with one object; stream events are ``data:{json}`` lines, numbered from 1.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from rehearsal.runtime.faults import Faults
from rehearsal.runtime.openapi import RequestValidator
from rehearsal.runtime.tokens import (
    BOS_TOKEN_ID,
    BOS_TOKEN_TEXT,
    Token,
    eos_token,
    input_length,
    make_token,
    split_tokens,
    summarize,
    truncate_input,
)

# TGI's default for max_new_tokens when a request leaves it out.
DEFAULT_GENERATION_LENGTH = 1024


@dataclass(frozen=True)
class TgiLimits:
    """TGI's launcher limits; ``max_input_tokens`` defaults to ``max_total_tokens - 1``."""

    max_total_tokens: int = 4096
    max_input_tokens: int | None = None
    max_stop_sequences: int = 4
    max_best_of: int = 2
    max_top_n_tokens: int = 5
    # How many leading sentences of the prompt's document the generator returns.
    summary_sentences: int = 3

    def __post_init__(self) -> None:
        if self.input_limit >= self.max_total_tokens:
            raise ValueError(
                f"max_input_tokens ({self.input_limit}) must be less than "
                f"max_total_tokens ({self.max_total_tokens})"
            )

    @property
    def input_limit(self) -> int:
        if self.max_input_tokens is None:
            return self.max_total_tokens - 1
        return self.max_input_tokens


class TgiValidationError(Exception):
    """Raised with the text of one of TGI's ``ValidationError`` variants."""


@dataclass
class ContainerResponse:
    """A container response: a whole body, or server-sent events as they are produced."""

    status: int
    content_type: str
    body: bytes = b""
    events: AsyncIterator[bytes] | None = None


@dataclass(frozen=True)
class GenerateRequest:
    """A request that passed validation, with TGI's defaults filled in."""

    inputs: str
    model_input: str
    input_length: int
    stream: bool
    max_new_tokens: int
    stop: tuple[str, ...]
    details: bool
    decoder_input_details: bool
    return_full_text: bool
    best_of: int
    seed: int | None


@dataclass
class Generation:
    """Generated tokens, the text without special tokens, and why generation stopped."""

    tokens: list[Token] = field(default_factory=list)
    text: str = ""
    finish_reason: str = "length"


def _json_bytes(value: object) -> bytes:
    # serde_json's compact form: no spaces, non-ASCII characters as raw UTF-8.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def error_body(message: str, error_type: str) -> bytes:
    return _json_bytes({"error": message, "error_type": error_type})


def sse_event(value: object) -> bytes:
    return b"data:" + _json_bytes(value) + b"\n\n"


def _check_sampling_parameters(parameters: dict[str, Any]) -> bool:
    """Apply TGI's rules for sampling parameters; return whether the request samples."""
    temperature = parameters.get("temperature")
    top_k = parameters.get("top_k")
    top_p = parameters.get("top_p")
    typical_p = parameters.get("typical_p")
    sampling = bool(parameters.get("do_sample")) or any(
        value is not None for value in (temperature, top_k, top_p, typical_p)
    )
    best_of = parameters.get("best_of") or 1
    if best_of > 1 and not sampling:
        raise TgiValidationError("you must use sampling when `best_of` is > 1")
    if temperature is not None and temperature <= 0:
        raise TgiValidationError("`temperature` must be strictly positive")
    repetition_penalty = parameters.get("repetition_penalty")
    if repetition_penalty is not None and repetition_penalty <= 0:
        raise TgiValidationError("`repetition_penalty` must be strictly positive")
    frequency_penalty = parameters.get("frequency_penalty")
    if frequency_penalty is not None and not -2.0 <= frequency_penalty <= 2.0:
        raise TgiValidationError("`frequency_penalty` must be >= -2.0 and <= 2.0")
    if top_p is not None and not 0.0 < top_p < 1.0:
        raise TgiValidationError("`top_p` must be > 0.0 and < 1.0")
    if typical_p is not None and not 0.0 < typical_p < 1.0:
        raise TgiValidationError("`typical_p` must be > 0.0 and < 1.0")
    if top_k is not None and top_k <= 0:
        raise TgiValidationError("`top_k` must be strictly positive")
    return sampling


def validate_request(body: dict[str, Any], limits: TgiLimits) -> GenerateRequest:
    """Apply TGI's parameter rules in TGI's order and fill in its defaults."""
    parameters: dict[str, Any] = body.get("parameters") or {}
    stream = bool(body.get("stream"))
    best_of = parameters.get("best_of") or 1
    decoder_input_details = bool(parameters.get("decoder_input_details"))
    if stream and best_of != 1:
        raise TgiValidationError("`best_of` != 1 is not supported when streaming tokens")
    if stream and decoder_input_details:
        raise TgiValidationError(
            "`decoder_input_details` == true is not supported when streaming tokens"
        )
    if best_of > 1:
        if limits.max_best_of == 1:
            raise TgiValidationError("`best_of` != 1 is not allowed for this endpoint")
        if best_of > limits.max_best_of:
            raise TgiValidationError(
                f"`best_of` must be > 0 and <= {limits.max_best_of}. Given: {best_of}"
            )

    sampling = _check_sampling_parameters(parameters)

    max_new_tokens = parameters.get("max_new_tokens")
    if max_new_tokens == 0:
        raise TgiValidationError("`max_new_tokens` must be strictly positive")
    stop: list[str] = parameters.get("stop") or []
    if len(stop) > limits.max_stop_sequences:
        raise TgiValidationError(
            f"`stop` supports up to {limits.max_stop_sequences} stop sequences. Given: {len(stop)}"
        )
    seed = parameters.get("seed")
    if seed is not None and best_of > 1:
        raise TgiValidationError("`seed` must not be set when `best_of` > 1")
    top_n_tokens = parameters.get("top_n_tokens")
    if top_n_tokens is not None and top_n_tokens > limits.max_top_n_tokens:
        raise TgiValidationError(
            f"`top_n_tokens` must be >= 0 and <= {limits.max_top_n_tokens}. Given: {top_n_tokens}"
        )
    inputs: str = body["inputs"]
    if not inputs:
        raise TgiValidationError("`inputs` cannot be empty")
    truncate = parameters.get("truncate")
    if truncate is not None and (truncate == 0 or truncate > limits.input_limit):
        raise TgiValidationError(
            "`truncate` must be strictly positive and less than "
            f"{limits.input_limit}. Given: {truncate}"
        )
    if parameters.get("grammar") is not None:
        # NOTE: grammar-constrained generation is not simulated; this is the response of a
        # TGI started with --disable-grammar-support.
        raise TgiValidationError("grammar is not supported")

    full_length = input_length(inputs)
    length = min(full_length, truncate) if truncate is not None else full_length
    if max_new_tokens is None:
        max_new_tokens = min(max(limits.max_total_tokens - length, 0), DEFAULT_GENERATION_LENGTH)
    if length + max_new_tokens > limits.max_total_tokens:
        raise TgiValidationError(
            f"`inputs` tokens + `max_new_tokens` must be <= {limits.max_total_tokens}. "
            f"Given: {length} `inputs` tokens and {max_new_tokens} `max_new_tokens`"
        )
    if length > limits.input_limit:
        raise TgiValidationError(
            f"`inputs` must have less than {limits.input_limit} tokens. Given: {length}"
        )

    return_full_text = parameters.get("return_full_text")
    return GenerateRequest(
        inputs=inputs,
        model_input=truncate_input(inputs, length) if length < full_length else inputs,
        input_length=length,
        stream=stream,
        max_new_tokens=max_new_tokens,
        stop=tuple(stop),
        details=bool(parameters.get("details")),
        decoder_input_details=decoder_input_details,
        # TGI's SageMaker route defaults this to true for text-generation models.
        return_full_text=True if return_full_text is None else bool(return_full_text),
        best_of=best_of,
        seed=(seed if seed is not None else zlib.crc32(inputs.encode("utf-8")))
        if sampling
        else None,
    )


def generate(
    request: GenerateRequest,
    sentences: int,
    *,
    non_ascii: bool = False,
    fixed_text: str | None = None,
) -> Generation:
    """Produce tokens until max_new_tokens, the end-of-sequence token or a stop sequence.

    The candidate text is the prompt's summary, or ``fixed_text`` when it is given. The
    checks run in the order of TGI's stopping criteria: length first, then the
    end-of-sequence token, then stop sequences, which stay in the generated text.
    """
    text = (
        fixed_text
        if fixed_text is not None
        else summarize(request.model_input, sentences, non_ascii=non_ascii)
    )
    candidates = [make_token(piece) for piece in split_tokens(text)] + [eos_token()]
    generation = Generation()
    for token in candidates:
        generation.tokens.append(token)
        if not token.special:
            generation.text += token.text
        if len(generation.tokens) >= request.max_new_tokens:
            generation.finish_reason = "length"
            break
        if token.special:
            generation.finish_reason = "eos_token"
            break
        if any(stop in generation.text for stop in request.stop):
            generation.finish_reason = "stop_sequence"
            break
    return generation


class TgiContainer:
    """Serves ``POST /invocations`` the way a TGI container on SageMaker does."""

    def __init__(self, validator: RequestValidator, limits: TgiLimits) -> None:
        self.validator = validator
        self.limits = limits

    def invoke(self, body: bytes, content_type: str | None, faults: Faults) -> ContainerResponse:
        """Validate ``body`` and return the response, with the container-side faults applied."""
        if faults.error == "tgi_validation":
            message = faults.error_message or "injected validation failure"
            return ContainerResponse(
                422,
                "application/json",
                error_body(f"Input validation error: {message}", "validation"),
            )
        if faults.error == "tgi_generation":
            message = faults.error_message or "injected generation failure"
            return ContainerResponse(
                424,
                "application/json",
                error_body(f"Request failed during generation: {message}", "generation"),
            )
        if not _is_json_content_type(content_type):
            return ContainerResponse(
                415, "text/plain", b"Expected request with `Content-Type: application/json`"
            )
        try:
            decoded = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            return ContainerResponse(
                400, "text/plain", f"Failed to parse the request body as JSON: {error}".encode()
            )
        problems = self.validator.problems(decoded)
        structural = [problem for problem in problems if not problem.is_range]
        if structural:
            return ContainerResponse(
                422,
                "text/plain",
                "Failed to deserialize the JSON body into the target type: "
                f"{structural[0].describe()}".encode(),
            )
        stream = bool(decoded.get("stream"))
        try:
            request = validate_request(decoded, self.limits)
        except TgiValidationError as error:
            return self._validation_failure(str(error), stream)
        if problems:
            # TGI accepts these values, but the document forbids them, and the document is
            # the contract the client is checked against.
            return self._validation_failure(problems[0].describe(), stream)

        generation = generate(
            request,
            self.limits.summary_sentences,
            non_ascii=bool(faults.non_ascii),
            fixed_text=faults.fixed_text,
        )
        if request.stream:
            return ContainerResponse(
                200, "text/event-stream", events=self._events(request, generation, faults)
            )
        failed_after = faults.generation_error_after
        if failed_after is not None and failed_after < len(generation.tokens):
            message = faults.error_message or "injected generation failure"
            return ContainerResponse(
                424,
                "application/json",
                error_body(f"Request failed during generation: {message}", "generation"),
            )
        return ContainerResponse(
            200, "application/json", _json_bytes([self._response(request, generation)])
        )

    def _validation_failure(self, message: str, stream: bool) -> ContainerResponse:
        body = {"error": f"Input validation error: {message}", "error_type": "validation"}
        if stream:
            return ContainerResponse(200, "text/event-stream", events=_single_event(body))
        return ContainerResponse(422, "application/json", _json_bytes(body))

    def _response(self, request: GenerateRequest, generation: Generation) -> dict[str, Any]:
        text = (request.inputs if request.return_full_text else "") + generation.text
        response: dict[str, Any] = {"generated_text": text}
        if request.details:
            details: dict[str, Any] = {
                "finish_reason": generation.finish_reason,
                "generated_tokens": len(generation.tokens),
                "seed": request.seed,
                "prefill": _prefill(request) if request.decoder_input_details else [],
                "tokens": [token.to_json() for token in generation.tokens],
            }
            if request.best_of > 1:
                # Generation is deterministic, so every candidate sequence is the same.
                details["best_of_sequences"] = [
                    {"generated_text": text, **details} for _ in range(request.best_of - 1)
                ]
            response["details"] = details
        return response

    async def _events(
        self, request: GenerateRequest, generation: Generation, faults: Faults
    ) -> AsyncIterator[bytes]:
        delay_s = (faults.token_latency_ms or 0) / 1000
        last_index = len(generation.tokens)
        for index, token in enumerate(generation.tokens, start=1):
            if faults.generation_error_after is not None and index > faults.generation_error_after:
                message = faults.error_message or "injected generation failure"
                yield sse_event(
                    {
                        "error": f"Request failed during generation: {message}",
                        "error_type": "generation",
                    }
                )
                return
            if delay_s:
                await asyncio.sleep(delay_s)
            event: dict[str, Any] = {
                "index": index,
                "token": token.to_json(),
                "generated_text": None,
                "details": None,
            }
            if index == last_index:
                event["generated_text"] = (
                    request.inputs if request.return_full_text else ""
                ) + generation.text
                if request.details:
                    event["details"] = {
                        "finish_reason": generation.finish_reason,
                        "generated_tokens": len(generation.tokens),
                        "seed": request.seed,
                        "input_length": request.input_length,
                    }
            yield sse_event(event)


async def _single_event(value: object) -> AsyncIterator[bytes]:
    yield sse_event(value)


def _prefill(request: GenerateRequest) -> list[dict[str, Any]]:
    first: dict[str, Any] = {"id": BOS_TOKEN_ID, "text": BOS_TOKEN_TEXT, "logprob": None}
    rest = [make_token(piece) for piece in split_tokens(request.model_input)]
    return [first] + [
        {"id": token.id, "text": token.text, "logprob": token.logprob} for token in rest
    ]


def _is_json_content_type(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )
