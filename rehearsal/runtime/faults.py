"""Fault specifications, their JSON form and the queue the control route fills.

The JSON form is documented in the package docstring (``rehearsal.runtime``).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from typing import Any, Literal, cast

from jsonschema import Draft202012Validator

ErrorFault = Literal[
    "throttling",
    "model_not_ready",
    "service_unavailable",
    "internal_failure",
    "tgi_validation",
    "tgi_generation",
    "invocation_timeout",
]
StreamException = Literal["ModelStreamError", "InternalStreamFailure"]

_NON_NEGATIVE_INTEGER = {"type": "integer", "minimum": 0}
_POSITIVE_INTEGER = {"type": "integer", "minimum": 1}

FAULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "latency_ms": _NON_NEGATIVE_INTEGER,
        "token_latency_ms": _NON_NEGATIVE_INTEGER,
        "error": {"enum": list(ErrorFault.__args__)},  # type: ignore[attr-defined]
        "error_message": {"type": "string"},
        "chunk_bytes": _POSITIVE_INTEGER,
        "chunk_offsets": {"type": "array", "items": _POSITIVE_INTEGER},
        "non_ascii": {"type": "boolean"},
        "generation_error_after": _NON_NEGATIVE_INTEGER,
        "stream_exception": {"enum": list(StreamException.__args__)},  # type: ignore[attr-defined]
        "stream_exception_after": _NON_NEGATIVE_INTEGER,
        "stream_error_code": {"type": "string"},
        "fixed_text": {"type": "string"},
    },
}
_FAULTS_VALIDATOR = Draft202012Validator(FAULTS_SCHEMA)

CONTROL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["faults"],
    "properties": {
        "faults": {"type": "object"},
        "count": _POSITIVE_INTEGER,
        "endpoint": {"type": "string", "minLength": 1},
    },
}
_CONTROL_VALIDATOR = Draft202012Validator(CONTROL_SCHEMA)


class FaultSpecError(ValueError):
    """Raised for a fault specification that is not valid JSON or breaks its schema."""


@dataclass(frozen=True)
class Faults:
    """Faults to inject into one invocation; ``None`` fields inject nothing."""

    latency_ms: int | None = None
    token_latency_ms: int | None = None
    error: ErrorFault | None = None
    error_message: str | None = None
    chunk_bytes: int | None = None
    chunk_offsets: tuple[int, ...] | None = None
    non_ascii: bool | None = None
    generation_error_after: int | None = None
    stream_exception: StreamException | None = None
    stream_exception_after: int | None = None
    stream_error_code: str | None = None
    fixed_text: str | None = None

    def overlay(self, other: Faults) -> Faults:
        """Return these faults with every field that ``other`` sets replaced by its value."""
        changes = {
            field.name: getattr(other, field.name)
            for field in dataclasses.fields(other)
            if getattr(other, field.name) is not None
        }
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """Return the fields that are set, in the JSON form ``parse_faults`` reads."""
        result: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None:
                result[field.name] = list(value) if isinstance(value, tuple) else value
        return result

    def is_empty(self) -> bool:
        return not self.to_json()


def faults_from_mapping(values: object) -> Faults:
    """Build ``Faults`` from a decoded JSON object, or raise ``FaultSpecError``."""
    errors = sorted(_FAULTS_VALIDATOR.iter_errors(values), key=lambda error: list(error.path))
    if errors:
        error = errors[0]
        where = "/".join(str(part) for part in error.path) or "faults"
        raise FaultSpecError(f"invalid fault specification at {where}: {error.message}")
    mapping = cast(dict[str, Any], values)
    if "chunk_offsets" in mapping:
        mapping = {**mapping, "chunk_offsets": tuple(mapping["chunk_offsets"])}
    return Faults(**mapping)


def parse_faults(text: str) -> Faults:
    """Parse the JSON form of a fault specification."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise FaultSpecError(f"fault specification is not valid JSON: {error}") from error
    return faults_from_mapping(values)


def faults_from_custom_attributes(value: str | None) -> Faults:
    """Read faults from an ``X-Amzn-SageMaker-Custom-Attributes`` value.

    Only a value that starts with ``{`` is a fault specification; any other value is an
    opaque attribute string, as SageMaker treats it, and injects nothing.
    """
    if value is None or not value.lstrip().startswith("{"):
        return Faults()
    return parse_faults(value)


@dataclass
class QueuedFaults:
    """Faults that apply to the next ``remaining`` invocations of ``endpoint`` (any if None)."""

    faults: Faults
    remaining: int
    endpoint: str | None

    def to_json(self) -> dict[str, Any]:
        return {"faults": self.faults.to_json(), "count": self.remaining, "endpoint": self.endpoint}


def queued_from_control_body(values: object) -> QueuedFaults:
    """Build a queue entry from the body of ``POST /_rehearsal/faults``."""
    errors = list(_CONTROL_VALIDATOR.iter_errors(values))
    if errors:
        raise FaultSpecError(f"invalid fault request: {errors[0].message}")
    mapping = cast(dict[str, Any], values)
    return QueuedFaults(
        faults=faults_from_mapping(mapping["faults"]),
        remaining=int(mapping.get("count", 1)),
        endpoint=mapping.get("endpoint"),
    )


class FaultQueue:
    """First-in, first-out fault entries; each invocation consumes from the first that matches.

    A lock guards the entries because tests add faults from their own thread while the
    server's event loop consumes them.
    """

    def __init__(self) -> None:
        self._entries: list[QueuedFaults] = []
        self._lock = threading.Lock()

    def add(self, entry: QueuedFaults) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [entry.to_json() for entry in self._entries]

    def take(self, endpoint: str) -> Faults:
        """Consume one use of the first entry for ``endpoint``; empty faults if none matches."""
        with self._lock:
            for entry in self._entries:
                if entry.endpoint is None or entry.endpoint == endpoint:
                    entry.remaining -= 1
                    if entry.remaining == 0:
                        self._entries.remove(entry)
                    return entry.faults
        return Faults()
