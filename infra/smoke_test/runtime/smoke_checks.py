"""The two smoke checks of a TGI endpoint on SageMaker, shared by the deploy check and the canary.

This directory is the Lambda deployment package: it runs on the Lambda Python 3.13 runtime
with the standard library and the runtime's boto3 only, so it imports nothing from this
project. The handlers import this module as the top-level module ``smoke_checks``.

Settings come from the function's environment (see ``Settings.from_environment``), which
the CDK construct in ``infra/smoke_test`` writes from the deployment config.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

# Enough for a few words: the generation check needs non-empty text, not a long answer.
GENERATION_MAX_NEW_TOKENS = 16
# Enough for the expected JSON object with a little whitespace.
STRUCTURED_MAX_NEW_TOKENS = 48
# At most this many characters of an answer go into a log line or a failure message.
EXCERPT_CHARS = 80

GENERATION_QUESTION = "Name one primary colour. Answer with one word."
# The structured-output check asks for the products named in this sentence.
PRODUCT_SENTENCE = "The invoice lists one printer, one scanner and one router."
EXPECTED_PRODUCTS = frozenset({"printer", "scanner", "router"})
STRUCTURED_SYSTEM = "You extract data from text and answer with one JSON object and nothing else."
STRUCTURED_QUESTION = (
    'List the products named in the following sentence as JSON of the form {"products": '
    '["..."]}, each product as a singular noun without article or number.\n\n' + PRODUCT_SENTENCE
)
PRODUCTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "products": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": 10,
        }
    },
    "required": ["products"],
}
# Words a model may put before a product name although the prompt asks it not to.
_LEADING_WORDS = frozenset({"a", "an", "the", "one"})

PROMPT_FAMILIES = ("mistral-instruct", "llama2-chat")


class SettingsError(ValueError):
    """Raised when the function's environment lacks a setting or has an invalid one."""


@dataclass(frozen=True)
class Settings:
    """What the checks need to know about the endpoint and their time budget."""

    endpoint_name: str
    prompt_family: str
    use_grammar: bool
    connect_timeout_s: int
    read_timeout_s: int
    max_attempts: int

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environment`` (``os.environ`` by default)."""
        values = os.environ if environment is None else environment
        family = _required(values, "PROMPT_FAMILY")
        if family not in PROMPT_FAMILIES:
            raise SettingsError(
                f"PROMPT_FAMILY must be one of {', '.join(PROMPT_FAMILIES)}, got {family!r}"
            )
        grammar = _required(values, "USE_GRAMMAR")
        if grammar not in ("true", "false"):
            raise SettingsError(f"USE_GRAMMAR must be true or false, got {grammar!r}")
        return cls(
            endpoint_name=_required(values, "ENDPOINT_NAME"),
            prompt_family=family,
            use_grammar=grammar == "true",
            connect_timeout_s=_positive_int(values, "CONNECT_TIMEOUT_S"),
            read_timeout_s=_positive_int(values, "READ_TIMEOUT_S"),
            max_attempts=_positive_int(values, "MAX_ATTEMPTS"),
        )


def _required(values: Mapping[str, str], name: str) -> str:
    value = values.get(name, "")
    if not value:
        raise SettingsError(f"the environment variable {name} is missing or empty")
    return value


def _positive_int(values: Mapping[str, str], name: str) -> int:
    text = _required(values, name)
    try:
        number = int(text)
    except ValueError:
        raise SettingsError(f"{name} must be a positive integer, got {text!r}") from None
    if number < 1:
        raise SettingsError(f"{name} must be a positive integer, got {number}")
    return number


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check; ``excerpt`` is the start of the answer, never all of it."""

    name: str
    passed: bool
    latency_ms: float
    reason: str = ""
    excerpt: str = ""

    def failure_message(self, endpoint_name: str) -> str:
        return (
            f"smoke check {self.name} failed on endpoint {endpoint_name}: {self.reason}; "
            f"answer excerpt: {self.excerpt!r}"
        )


class ChecksFailedError(Exception):
    """Raised by the deploy check so that its Lambda invocation, and with it the deploy, fails."""


class InvocationError(Exception):
    """A failed call: the reason, how long it took and any body the endpoint returned."""

    def __init__(self, reason: str, latency_ms: float, body: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.latency_ms = latency_ms
        self.body = body


def render_prompt(family: str, user: str, system: str | None = None) -> str:
    """Render one user turn in the prompt format of the model's family.

    The same formats as ``inference/prompts.py``, which this package cannot import: Mistral
    Instruct has no system role and takes the system text before the user's, separated by
    a blank line; Llama 2 chat wraps it in ``<<SYS>>`` tags. TGI's tokenizer adds ``<s>``.
    """
    if family == "mistral-instruct":
        content = f"{system}\n\n{user}" if system else user
        return f"[INST] {content} [/INST]"
    if family == "llama2-chat":
        content = f"<<SYS>>\n{system}\n<</SYS>>\n\n{user.strip()}" if system else user.strip()
        return f"[INST] {content} [/INST]"
    raise SettingsError(f"unknown prompt family {family!r}")


def generation_request(settings: Settings) -> dict[str, Any]:
    return {
        "inputs": render_prompt(settings.prompt_family, GENERATION_QUESTION),
        "parameters": {
            "max_new_tokens": GENERATION_MAX_NEW_TOKENS,
            "return_full_text": False,
        },
    }


def structured_request(settings: Settings) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "max_new_tokens": STRUCTURED_MAX_NEW_TOKENS,
        "return_full_text": False,
    }
    if settings.use_grammar:
        # TGI 1.4.3 and later constrain the generation to this JSON schema.
        parameters["grammar"] = {"type": "json", "value": PRODUCTS_SCHEMA}
    return {
        "inputs": render_prompt(settings.prompt_family, STRUCTURED_QUESTION, STRUCTURED_SYSTEM),
        "parameters": parameters,
    }


def runtime_client(settings: Settings) -> Any:
    """Create the SageMaker Runtime client with the settings' timeouts and attempts.

    Standard retry mode retries throttling, 5xx answers and read timeouts, but not the
    model's own errors (ModelError), so a broken model fails at the first attempt.
    """
    config = Config(
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
    )
    return boto3.client("sagemaker-runtime", config=config)


def excerpt(text: str) -> str:
    """Return the start of ``text``, marked with an ellipsis when it was cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


def invoke(client: Any, endpoint_name: str, body: dict[str, Any]) -> tuple[str, float]:
    """Call the endpoint once; return the generated text and the latency in milliseconds.

    Raises ``InvocationError`` with a one-line reason for every way the call can fail.
    """
    started = time.monotonic()
    try:
        response = client.invoke_endpoint(
            EndpointName=endpoint_name,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps(body).encode("utf-8"),
        )
        payload = response["Body"].read()
    except (ReadTimeoutError, ConnectTimeoutError) as error:
        raise InvocationError(f"timed out: {error}", _elapsed_ms(started)) from error
    except EndpointConnectionError as error:
        raise InvocationError(f"connection failed: {error}", _elapsed_ms(started)) from error
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code", "unknown")
        message = details.get("Message") or ""
        raise InvocationError(f"{code}: {message}".rstrip(": "), _elapsed_ms(started)) from error
    except BotoCoreError as error:
        raise InvocationError(f"invocation failed: {error}", _elapsed_ms(started)) from error
    latency_ms = _elapsed_ms(started)
    text = payload.decode("utf-8", errors="replace")
    try:
        decoded = json.loads(text)
        generated = decoded[0]["generated_text"] if isinstance(decoded, list) else None
    except (json.JSONDecodeError, KeyError, IndexError, TypeError):
        generated = None
    if not isinstance(generated, str):
        raise InvocationError(
            'the response is not TGI\'s [{"generated_text": ...}] list', latency_ms, text
        )
    return generated, latency_ms


def _elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def check_generation(client: Any, settings: Settings) -> CheckResult:
    """Pass when a short generation returns text that is not only whitespace."""
    name = "generation"
    try:
        text, latency_ms = invoke(client, settings.endpoint_name, generation_request(settings))
    except InvocationError as error:
        return CheckResult(name, False, error.latency_ms, error.reason, excerpt(error.body))
    if not text.strip():
        return CheckResult(
            name, False, latency_ms, "the model returned empty text", text[:EXCERPT_CHARS]
        )
    return CheckResult(name, True, latency_ms, excerpt=excerpt(text))


def check_structured_output(client: Any, settings: Settings) -> CheckResult:
    """Pass when the answer is a JSON object whose products are the expected ones."""
    name = "structured_output"
    try:
        text, latency_ms = invoke(client, settings.endpoint_name, structured_request(settings))
    except InvocationError as error:
        return CheckResult(name, False, error.latency_ms, error.reason, excerpt(error.body))
    short = excerpt(text)
    try:
        answer = json.loads(text)
    except json.JSONDecodeError as error:
        return CheckResult(name, False, latency_ms, f"the answer is not valid JSON: {error}", short)
    products = answer.get("products") if isinstance(answer, dict) else None
    if not isinstance(products, list) or not all(isinstance(item, str) for item in products):
        return CheckResult(
            name, False, latency_ms, 'the answer has no "products" list of strings', short
        )
    found = {normalize_product(item) for item in products}
    if found != EXPECTED_PRODUCTS:
        return CheckResult(
            name,
            False,
            latency_ms,
            f"expected products {sorted(EXPECTED_PRODUCTS)}, got {sorted(found)}",
            short,
        )
    return CheckResult(name, True, latency_ms, excerpt=short)


def normalize_product(name: str) -> str:
    """Lower-case a product name and drop a leading article or "one"."""
    words = name.casefold().replace(".", " ").split()
    while words and words[0] in _LEADING_WORDS:
        words = words[1:]
    return " ".join(words)


def run_checks(client: Any, settings: Settings) -> list[CheckResult]:
    """Run both checks, the second one also when the first failed."""
    return [check_generation(client, settings), check_structured_output(client, settings)]


def log(event: str, settings: Settings | None, request_id: str, **fields: Any) -> None:
    """Write one JSON line to stdout, which Lambda sends to the function's log group."""
    record: dict[str, Any] = {
        "event": event,
        "endpoint": settings.endpoint_name if settings is not None else None,
        "request_id": request_id,
    }
    record.update(fields)
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def log_result(result: CheckResult, settings: Settings, request_id: str) -> None:
    log(
        "check_passed" if result.passed else "check_failed",
        settings,
        request_id,
        check=result.name,
        latency_ms=result.latency_ms,
        reason=result.reason or None,
        excerpt=result.excerpt,
    )
