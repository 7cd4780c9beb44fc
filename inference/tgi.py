"""TGI's request payload, its parameter rules and its response shapes, without any I/O."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from inference.base import Generation, GenerationParameters

# TGI's launcher default for --max-stop-sequences.
MAX_STOP_SEQUENCES = 4

# Bytes of UTF-8 text per token assumed by estimate_token_count.
_BYTES_PER_TOKEN_ESTIMATE = 3


def estimate_token_count(text: str) -> int:
    """Estimate how many tokens TGI counts for ``text``, including the BOS token it adds.

    NOTE: no tokenizer is available offline, so this is an estimate, not a count. English
    text commonly runs at about 4 characters per token in the SentencePiece vocabularies of
    Llama 2 and Mistral 7B (a rule of thumb, not measured here). One token per 3 bytes
    therefore over-counts English and other Latin-script text, so a request near the limit
    may be rejected here although TGI would accept it. Text that falls back to byte tokens
    (rare scripts, emoji) can exceed the estimate, and then TGI's own 422 applies.
    """
    return math.ceil(len(text.encode("utf-8")) / _BYTES_PER_TOKEN_ESTIMATE) + 1


def parameter_problems(
    prompt: str,
    parameters: GenerationParameters,
    *,
    max_total_tokens: int | None = None,
    max_input_tokens: int | None = None,
) -> list[str]:
    """List the reasons TGI's router would reject this request, in TGI's terms.

    The rules are TGI's ``Validation::validate`` (router/src/validation.rs): each sampling
    value within its range, at most ``MAX_STOP_SEQUENCES`` stop sequences, a non-empty
    input, and input tokens plus ``max_new_tokens`` within ``max_total_tokens``.
    """
    problems: list[str] = []
    if not prompt:
        problems.append("inputs must not be empty")
    if parameters.temperature is not None and not parameters.temperature > 0:
        problems.append(f"temperature must be greater than 0, got {parameters.temperature}")
    if parameters.top_p is not None and not 0 < parameters.top_p < 1:
        problems.append(f"top_p must be greater than 0 and less than 1, got {parameters.top_p}")
    if parameters.top_k is not None and parameters.top_k <= 0:
        problems.append(f"top_k must be greater than 0, got {parameters.top_k}")
    penalty = parameters.repetition_penalty
    if penalty is not None and not penalty > 0:
        problems.append(f"repetition_penalty must be greater than 0, got {penalty}")
    if parameters.max_new_tokens is not None and parameters.max_new_tokens <= 0:
        problems.append(f"max_new_tokens must be greater than 0, got {parameters.max_new_tokens}")
    if len(parameters.stop) > MAX_STOP_SEQUENCES:
        problems.append(
            f"stop takes at most {MAX_STOP_SEQUENCES} sequences, got {len(parameters.stop)}"
        )
    if any(not sequence for sequence in parameters.stop):
        problems.append("stop sequences must not be empty strings")
    if parameters.seed is not None and parameters.seed < 0:
        problems.append(f"seed must be 0 or greater, got {parameters.seed}")
    problems.extend(_truncate_problems(parameters.truncate, max_input_tokens))
    problems.extend(_grammar_problems(parameters.grammar))
    if not problems:
        problems.extend(
            _token_budget_problems(prompt, parameters, max_total_tokens, max_input_tokens)
        )
    return problems


def _truncate_problems(truncate: int | None, max_input_tokens: int | None) -> list[str]:
    if truncate is None:
        return []
    if truncate <= 0:
        return [f"truncate must be greater than 0, got {truncate}"]
    if max_input_tokens is not None and truncate > max_input_tokens:
        return [f"truncate must be at most max_input_tokens ({max_input_tokens}), got {truncate}"]
    return []


def _grammar_problems(grammar: Mapping[str, Any] | None) -> list[str]:
    if grammar is None:
        return []
    if grammar.get("type") not in ("json", "regex") or "value" not in grammar:
        return ['grammar must be {"type": "json" or "regex", "value": ...}']
    return []


def _token_budget_problems(
    prompt: str,
    parameters: GenerationParameters,
    max_total_tokens: int | None,
    max_input_tokens: int | None,
) -> list[str]:
    estimate = estimate_token_count(prompt)
    # TGI keeps at most `truncate` input tokens, so the budget counts no more than that.
    input_tokens = min(estimate, parameters.truncate) if parameters.truncate else estimate
    problems: list[str] = []
    if max_input_tokens is not None and input_tokens > max_input_tokens:
        problems.append(
            f"inputs are about {input_tokens} tokens (an estimate), more than the endpoint's"
            f" max_input_tokens ({max_input_tokens}); shorten the prompt or set truncate"
        )
    max_new_tokens = parameters.max_new_tokens
    if (
        max_total_tokens is not None
        and max_new_tokens is not None
        and input_tokens + max_new_tokens > max_total_tokens
    ):
        problems.append(
            f"inputs of about {input_tokens} tokens (an estimate) plus max_new_tokens"
            f" ({max_new_tokens}) exceed the endpoint's max_total_tokens"
            f" ({max_total_tokens}); shorten the prompt or lower max_new_tokens"
        )
    return problems


def build_payload(prompt: str, parameters: GenerationParameters, *, stream: bool) -> bytes:
    """Encode a TGI generate request as JSON, a new value on every call.

    ``details`` is always on: for a stream it adds finish_reason to the final event, which
    the client needs to strip a matched stop sequence.
    """
    tgi_parameters: dict[str, Any] = {
        "return_full_text": False,
        "details": True,
    }
    for name in (
        "max_new_tokens",
        "temperature",
        "top_p",
        "top_k",
        "repetition_penalty",
        "truncate",
        "do_sample",
        "seed",
    ):
        value = getattr(parameters, name)
        if value is not None:
            tgi_parameters[name] = value
    if parameters.stop:
        tgi_parameters["stop"] = list(parameters.stop)
    if parameters.grammar is not None:
        tgi_parameters["grammar"] = parameters.grammar
    payload: dict[str, Any] = {"inputs": prompt, "parameters": tgi_parameters}
    if stream:
        payload["stream"] = True
    return json.dumps(payload).encode("utf-8")


def strip_stop_sequence(text: str, stop: tuple[str, ...]) -> str:
    """Remove a stop sequence from the end of ``text``; TGI includes the one that matched."""
    for sequence in sorted(stop, key=len, reverse=True):
        if sequence and text.endswith(sequence):
            return text[: -len(sequence)]
    return text


def parse_generation(body: bytes | str, stop: tuple[str, ...]) -> Generation:
    """Parse TGI's generate response: a list ``[{...}]`` (SageMaker's route) or an object.

    Raises ValueError when the body is not one of these shapes.
    """
    document = json.loads(body)
    if isinstance(document, list):
        if len(document) != 1:
            raise ValueError(f"expected a list of one generation, got {len(document)} items")
        document = document[0]
    if not isinstance(document, dict) or not isinstance(document.get("generated_text"), str):
        raise ValueError("expected an object with a generated_text string")
    details = document.get("details")
    details = details if isinstance(details, dict) else {}
    prefill = details.get("prefill")
    return Generation(
        text=strip_stop_sequence(document["generated_text"], stop),
        finish_reason=details.get("finish_reason"),
        generated_tokens=details.get("generated_tokens"),
        # TGI sends an empty prefill list unless decoder_input_details is requested.
        input_tokens=len(prefill) if isinstance(prefill, list) and prefill else None,
    )
