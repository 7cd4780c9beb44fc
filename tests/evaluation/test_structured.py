"""The structured evaluator: JSON parsing, schema validation and the field-by-field match."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from evaluation.dataset import StructuredCase
from evaluation.structured import StructuredEvaluator, parse_json_answer, structured_case

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "tags", "steps", "price"],
    "properties": {
        "name": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "steps": {"type": "array", "items": {"type": "string"}},
        "price": {"type": "number"},
        "paid": {"type": "boolean"},
    },
}
EXPECTED = {"name": "Seeing Saturn", "tags": ["sky", "talk"], "steps": ["a", "b"], "price": 4.5}


def make_case(**fields: Any) -> StructuredCase:
    values: dict[str, Any] = {
        "id": "case-1",
        "evaluator": "structured",
        "input": "Extract the event.",
        "schema": SCHEMA,
        "expected": EXPECTED,
        "tolerance": {"absolute": 0.01},
        **fields,
    }
    return StructuredCase.model_validate(values)


def score(answer: str, case: StructuredCase | None = None) -> Any:
    return asyncio.run(StructuredEvaluator().score(case or make_case(), answer))


def test_exact_answer_scores_one() -> None:
    result = score(
        '{"name": "Seeing Saturn", "tags": ["sky", "talk"], "steps": ["a", "b"], "price": 4.5}'
    )

    assert result.score == 1.0
    assert result.metrics == {"valid_json": 1.0, "schema_valid": 1.0, "field_match": 1.0}
    assert result.details["mismatched_fields"] == []


def test_borderline_answer_normalized() -> None:
    # Set order, case, spacing, a final dot and a number within tolerance all still match.
    answer = (
        '```json\n{"name": " seeing  SATURN.", "tags": ["talk", "Sky"], "steps": ["A", "b"],'
        ' "price": 4.505}\n```'
    )

    result = score(answer)

    assert result.score == 1.0
    assert result.details["json_source"] == "code_fence"


def test_partial_match_lists_fields() -> None:
    answer = '{"name": "Saturn", "tags": ["sky", "moon"], "steps": ["b", "a", "c"], "price": 4.6}'

    result = score(answer)

    paths = {field["path"] for field in result.details["mismatched_fields"]}
    assert paths == {"/name", "/tags", "/steps/0", "/steps/1", "/steps/2", "/price"}
    # Only tags scores above 0 (Jaccard index 1/3), out of five expected fields and one extra.
    assert abs(result.metrics["field_match"] - (1 / 3) / 6) < 1e-9
    assert result.metrics["schema_valid"] == 1.0


def test_malformed_answer_scores_zero() -> None:
    result = score('Here is the JSON: {"name": "Seeing Saturn"}')

    assert result.score == 0.0
    assert result.metrics == {"valid_json": 0.0, "schema_valid": 0.0, "field_match": 0.0}


def test_schema_violation_scores_zero() -> None:
    answer = (
        '{"name": "Seeing Saturn", "tags": ["sky", "talk"], "steps": ["a", "b"], "price": "4.5"}'
    )

    result = score(answer)

    assert result.score == 0.0
    assert result.metrics["valid_json"] == 1.0
    assert result.metrics["schema_valid"] == 0.0
    assert result.metrics["field_match"] == 0.8
    assert result.details["schema_problems"] == ["/price: '4.5' is not of type 'number'"]


def test_bool_never_matches_number() -> None:
    case = make_case(
        expected={**EXPECTED, "paid": True},
    )

    result = score(
        '{"name": "Seeing Saturn", "tags": ["sky", "talk"], "steps": ["a", "b"], "price": 4.5,'
        ' "paid": 1}',
        case,
    )

    assert result.details["mismatched_fields"][0]["path"] == "/paid"


def test_parse_json_answer_rejects_prose() -> None:
    assert parse_json_answer('{"a": 1}') == ({"a": 1}, "answer")
    assert parse_json_answer('Sure: {"a": 1}') == (None, None)
    assert parse_json_answer("```\n[1, 2]\n```") == ([1, 2], "code_fence")


class Speaker(BaseModel):
    name: str
    topics: set[str]


class Event(BaseModel):
    title: str
    speaker: Speaker | None
    seats: int


def test_pydantic_model_sets_compared_as_sets() -> None:
    expected = Event(title="Fix It", speaker=Speaker(name="Ada", topics={"a", "b", "c"}), seats=20)
    case = structured_case("event", "Extract the event.", Event, expected)

    result = score(
        '{"title": "fix it", "speaker": {"name": "Ada", "topics": ["c", "a"]}, "seats": 20}', case
    )

    assert result.metrics["schema_valid"] == 1.0
    topics = result.details["mismatched_fields"]
    assert [field["path"] for field in topics] == ["/speaker/topics"]
    assert abs(topics[0]["score"] - 2 / 3) < 1e-9
