"""Structured answers: parse the JSON, validate it against the schema, compare it field by field.

Arrays whose schema sets ``uniqueItems`` (what pydantic writes for ``set`` and ``frozenset``
fields) are compared as sets, other arrays position by position. Strings match after
Unicode NFKC normalization, case folding, collapsing whitespace and stripping surrounding
punctuation; numbers match within the case's tolerance.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel

from evaluation.base import CaseScore, Evaluator
from evaluation.dataset import StructuredCase, Tolerance
from inference.prompts import Message

# A Markdown code fence around the whole answer, as models often write JSON.
_CODE_FENCE = re.compile(r"\A```[A-Za-z0-9_-]*[ \t]*\n(?P<body>.*?)\n?```\Z", re.DOTALL)
_SURROUNDING_PUNCTUATION = " \t\n.,;:!?\"'"
_MISSING = object()


@dataclass(frozen=True)
class FieldMatch:
    """The match score of one expected field, from 0 to 1, at a JSON-pointer-like path."""

    path: str
    score: float
    expected: Any
    actual: Any


def structured_case(
    case_id: str,
    prompt: str,
    model: type[BaseModel],
    expected: BaseModel,
    **fields: Any,
) -> StructuredCase:
    """Build a structured case whose schema comes from a pydantic model.

    ``expected`` is an instance of ``model``; it is stored as its JSON form, so set fields
    become arrays that the schema marks ``uniqueItems``.
    """
    return StructuredCase.model_validate(
        {
            "id": case_id,
            "evaluator": "structured",
            "input": prompt,
            "schema": model.model_json_schema(),
            "expected": expected.model_dump(mode="json"),
            **fields,
        }
    )


def parse_json_answer(answer: str) -> tuple[Any, str | None]:
    """Return the JSON value of an answer and where it was found, or ``(None, None)``.

    The whole answer must be JSON, or one Markdown code fence around it must contain only
    JSON; JSON embedded in prose does not count.
    """
    text = answer.strip()
    candidates = [(text, "answer")]
    fence = _CODE_FENCE.match(text)
    if fence is not None:
        candidates.append((fence.group("body"), "code_fence"))
    for candidate, source in candidates:
        try:
            return json.loads(candidate), source
        except json.JSONDecodeError:
            continue
    return None, None


def normalize_string(value: str) -> str:
    folded = unicodedata.normalize("NFKC", value).casefold()
    return " ".join(folded.split()).strip(_SURROUNDING_PUNCTUATION)


def compare_fields(
    expected: Any, actual: Any, schema: Mapping[str, Any], tolerance: Tolerance
) -> list[FieldMatch]:
    """Compare ``actual`` with ``expected`` and return one match per expected field.

    A missing field scores 0, and so does each extra element of an ordered array. Extra
    object keys in ``actual`` are not counted: the schema decides whether they are allowed.
    """
    return _compare(expected, actual, schema, schema, "", tolerance)


def _compare(
    expected: Any,
    actual: Any,
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    path: str,
    tolerance: Tolerance,
) -> list[FieldMatch]:
    schema = _resolve(schema, root)
    if isinstance(expected, dict) and expected:
        actual_object = actual if isinstance(actual, dict) else {}
        properties = schema.get("properties", {})
        matches: list[FieldMatch] = []
        for key, value in expected.items():
            matches.extend(
                _compare(
                    value,
                    actual_object.get(key, _MISSING),
                    properties.get(key, {}),
                    root,
                    f"{path}/{key}",
                    tolerance,
                )
            )
        return matches
    if isinstance(expected, list) and schema.get("uniqueItems"):
        score = _set_similarity(expected, actual, tolerance)
        return [FieldMatch(path or "/", score, expected, _visible(actual))]
    if isinstance(expected, list) and expected:
        return _compare_ordered(expected, actual, schema, root, path, tolerance)
    score = 1.0 if _values_match(expected, actual, tolerance) else 0.0
    return [FieldMatch(path or "/", score, expected, _visible(actual))]


def _compare_ordered(
    expected: list[Any],
    actual: Any,
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    path: str,
    tolerance: Tolerance,
) -> list[FieldMatch]:
    actual_items = actual if isinstance(actual, list) else []
    item_schema = schema.get("items", {})
    matches: list[FieldMatch] = []
    for index, value in enumerate(expected):
        item = actual_items[index] if index < len(actual_items) else _MISSING
        matches.extend(_compare(value, item, item_schema, root, f"{path}/{index}", tolerance))
    for index in range(len(expected), len(actual_items)):
        matches.append(FieldMatch(f"{path}/{index}", 0.0, None, actual_items[index]))
    return matches


def _set_similarity(expected: list[Any], actual: Any, tolerance: Tolerance) -> float:
    """Return the Jaccard index of two arrays read as sets, elements matched with tolerance."""
    if not isinstance(actual, list):
        return 0.0
    unmatched = list(actual)
    matched = 0
    for value in expected:
        for index, candidate in enumerate(unmatched):
            if _values_match(value, candidate, tolerance):
                matched += 1
                del unmatched[index]
                break
    union = len(expected) + len(actual) - matched
    return matched / union if union else 1.0


def _values_match(expected: Any, actual: Any, tolerance: Tolerance) -> bool:
    if actual is _MISSING:
        return False
    # bool is a subclass of int in Python, but true must not match 1 in JSON.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        allowed = max(tolerance.absolute, tolerance.relative * abs(expected))
        return abs(actual - expected) <= allowed
    if isinstance(expected, str) and isinstance(actual, str):
        return normalize_string(expected) == normalize_string(actual)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            _values_match(left, right, tolerance)
            for left, right in zip(expected, actual, strict=True)
        )
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            _values_match(expected[key], actual[key], tolerance) for key in expected
        )
    return bool(expected == actual)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local ``$ref`` and pick the non-null branch of ``anyOf``/``oneOf``.

    pydantic writes nested models as ``$ref`` to ``#/$defs/Name`` and optional fields as
    ``anyOf`` with ``{"type": "null"}``. The branch matters only for ``uniqueItems``,
    ``properties`` and ``items``, which this comparison reads.
    """
    for _ in range(32):  # a bound, because a schema may refer to itself
        reference = schema.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/"):
            target: Any = root
            for part in reference[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            schema = target if isinstance(target, Mapping) else {}
            continue
        branches = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(branches, list):
            non_null = [b for b in branches if isinstance(b, Mapping) and b.get("type") != "null"]
            if non_null:
                schema = non_null[0]
                continue
        break
    return schema


def _visible(value: Any) -> Any:
    return None if value is _MISSING else value


class StructuredEvaluator(Evaluator[StructuredCase]):
    """Score a JSON answer: valid JSON, valid against the schema, and matching field by field.

    The case score is the field match when the answer is valid JSON that matches the
    schema, and 0 otherwise. The three metrics are reported separately either way.
    """

    name = "structured"

    def messages(self, case: StructuredCase) -> list[Message]:
        messages = super().messages(case)
        schema = json.dumps(case.json_schema, separators=(",", ":"))
        instruction = (
            f"{messages[-1].content}\n\nAnswer with a single JSON value that matches this JSON"
            f" schema, and nothing else:\n{schema}"
        )
        return [*messages[:-1], Message(role="user", content=instruction)]

    async def score(self, case: StructuredCase, answer: str) -> CaseScore:
        return score_structured(case, answer)


def score_structured(case: StructuredCase, answer: str) -> CaseScore:
    value, source = parse_json_answer(answer)
    if source is None:
        return CaseScore(
            score=0.0,
            metrics={"valid_json": 0.0, "schema_valid": 0.0, "field_match": 0.0},
            details={"problem": "the answer is not JSON"},
        )
    problems = sorted(
        Draft202012Validator(case.json_schema).iter_errors(value), key=lambda e: list(e.path)
    )
    matches = compare_fields(case.expected, value, case.json_schema, case.tolerance)
    field_match = sum(match.score for match in matches) / len(matches)
    schema_valid = not problems
    return CaseScore(
        score=field_match if schema_valid else 0.0,
        metrics={
            "valid_json": 1.0,
            "schema_valid": 1.0 if schema_valid else 0.0,
            "field_match": field_match,
        },
        details={
            "json_source": source,
            "schema_problems": [
                f"/{'/'.join(str(part) for part in problem.path)}: {problem.message}"
                for problem in problems[:10]
            ],
            "mismatched_fields": [
                {
                    "path": match.path,
                    "score": match.score,
                    "expected": match.expected,
                    "actual": match.actual,
                }
                for match in matches
                if match.score < 1.0
            ],
        },
    )
