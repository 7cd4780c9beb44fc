"""Validate generate request bodies against TGI's OpenAPI document.

The document is OpenAPI 3.0 (``nullable``) mixed with JSON Schema 2020-12 numbers for
``exclusiveMinimum``, as TGI's generator writes it. ``nullable: true`` is rewritten into a
type that also admits ``null`` so that a 2020-12 validator reads the rest unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

# TGI's OpenAPI document (TGI 3.3.6-dev0, Apache-2.0) is kept in shared/ beside the
# clone, locally and in CI; TGI_OPENAPI_PATH points elsewhere.
DEFAULT_OPENAPI_PATH = Path(
    os.environ.get("TGI_OPENAPI_PATH")
    or Path(__file__).resolve().parents[2].parent / "shared/reference/tgi-openapi.json"
)
# The body schema of TGI's /invocations route for the generate form (not chat or completions).
REQUEST_SCHEMA = "CompatGenerateRequest"
# Keywords whose failures TGI's own parameter rules also catch, with their own messages.
RANGE_KEYWORDS = frozenset(
    {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "maxItems"}
)


@dataclass(frozen=True)
class SchemaProblem:
    """One validation failure: the JSON path as dotted text, the keyword and the message."""

    path: str
    keyword: str
    message: str

    @property
    def is_range(self) -> bool:
        return self.keyword in RANGE_KEYWORDS

    def describe(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def _admit_null(node: Any) -> Any:
    if isinstance(node, list):
        return [_admit_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _admit_null(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is not True:
        return converted
    if isinstance(converted.get("type"), str):
        converted["type"] = [converted["type"], "null"]
        return converted
    return {"anyOf": [{"type": "null"}, converted]}


class RequestValidator:
    """A validator for ``CompatGenerateRequest`` bodies built from the OpenAPI document."""

    def __init__(self, openapi_path: Path = DEFAULT_OPENAPI_PATH) -> None:
        try:
            document = json.loads(openapi_path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f"TGI's OpenAPI document was not found at {openapi_path}; "
                "set TGI_OPENAPI_PATH or pass its path with --openapi"
            ) from error
        schemas = _admit_null(document["components"]["schemas"])
        if REQUEST_SCHEMA not in schemas:
            raise ValueError(f"{openapi_path} has no components/schemas/{REQUEST_SCHEMA}")
        self.openapi_path = openapi_path
        self.version = str(document.get("info", {}).get("version", "unknown"))
        self._validator = Draft202012Validator(
            {"$ref": f"#/components/schemas/{REQUEST_SCHEMA}", "components": {"schemas": schemas}}
        )

    def problems(self, body: object) -> list[SchemaProblem]:
        """Return every failure of ``body`` against the request schema, in path order."""
        errors: list[ValidationError] = sorted(
            self._validator.iter_errors(body), key=lambda error: [str(part) for part in error.path]
        )
        return [
            SchemaProblem(
                path=".".join(str(part) for part in error.path),
                keyword=str(error.validator),
                message=error.message,
            )
            for error in errors
        ]
