"""The JSONL dataset format: one evaluation case per line, plus an optional thresholds line.

A case line is an object with ``id``, ``evaluator`` ("structured", "rubric" or
"reference"), ``input`` (the user's message to the endpoint), an optional ``context`` (a
document placed before the input) and the fields of its evaluator:

- structured: ``schema`` (a JSON schema the answer must match), ``expected`` (the ideal
  JSON value) and an optional ``tolerance`` (``{"absolute": 0.0, "relative": 1e-6}``);
- rubric: ``questions``, each ``{"id", "question", "kind": "yes_no" | "number",
  "expected"}`` with ``expected`` "Y" or "N" for yes_no, and a number or
  ``{"min": X, "max": Y}`` for number;
- reference: ``expected`` (the expert's answer) and an optional ``pass_choices`` (the
  judge's choices A to E that pass, default A, B, C and E).

Every case may also set ``system`` (a system message) and ``max_new_tokens`` (default 512).
A line ``{"thresholds": {"structured": 0.8, ...}}`` sets the minimum mean score of each
evaluator; at most one such line is allowed. Blank lines and lines starting with ``#`` are
skipped.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

EvaluatorName = Literal["structured", "rubric", "reference"]
EVALUATOR_NAMES: tuple[EvaluatorName, ...] = ("structured", "rubric", "reference")
Choice = Literal["A", "B", "C", "D", "E"]
# The reference choices that mean "consistent with the expert answer": subset, superset,
# same details, or differences that do not matter. Only D, a disagreement, fails.
DEFAULT_PASS_CHOICES: tuple[Choice, ...] = ("A", "B", "C", "E")
DEFAULT_MAX_NEW_TOKENS = 512


class DatasetError(ValueError):
    """A dataset file that cannot be read, or a line that is not a valid case."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Tolerance(_Strict):
    """How far an answer's number may be from the expected one and still match.

    A number matches when ``|actual - expected| <= max(absolute, relative * |expected|)``.
    """

    absolute: float = Field(default=0.0, ge=0)
    relative: float = Field(default=1e-6, ge=0)


class NumberRange(_Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _check_bounds(self) -> NumberRange:
        if self.min is None and self.max is None:
            raise ValueError("a range needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) must not be greater than max ({self.max})")
        return self

    def contains(self, value: float) -> bool:
        if self.min is not None and value < self.min:
            return False
        return self.max is None or value <= self.max


class RubricQuestion(_Strict):
    """One question the judge answers about an answer, with the reply that scores 1."""

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    kind: Literal["yes_no", "number"]
    expected: Literal["Y", "N"] | float | NumberRange

    @model_validator(mode="after")
    def _check_expected_kind(self) -> RubricQuestion:
        if self.kind == "yes_no" and self.expected not in ("Y", "N"):
            raise ValueError(f"question {self.id}: a yes_no question expects 'Y' or 'N'")
        if self.kind == "number" and isinstance(self.expected, str):
            raise ValueError(
                f'question {self.id}: a number question expects a number or {{"min": X, "max": Y}}'
            )
        return self

    def is_expected(self, reply: str | float) -> bool:
        """Return whether a parsed judge reply is the expected one."""
        if isinstance(self.expected, NumberRange):
            return isinstance(reply, float) and self.expected.contains(reply)
        if isinstance(self.expected, float):
            return isinstance(reply, float) and math.isclose(reply, self.expected)
        return reply == self.expected


class _CaseBase(_Strict):
    id: str = Field(min_length=1)
    input: str = Field(min_length=1)
    context: str | None = None
    system: str | None = None
    max_new_tokens: int = Field(default=DEFAULT_MAX_NEW_TOKENS, gt=0)


class StructuredCase(_CaseBase):
    evaluator: Literal["structured"]
    json_schema: dict[str, Any] = Field(alias="schema")
    expected: Any
    tolerance: Tolerance = Tolerance()

    @field_validator("json_schema")
    @classmethod
    def _check_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            raise ValueError(f"schema is not a valid JSON schema: {error.message}") from error
        return schema

    @model_validator(mode="after")
    def _check_expected_matches_schema(self) -> StructuredCase:
        # An expected value that breaks its own schema would make every answer fail.
        problems = list(Draft202012Validator(self.json_schema).iter_errors(self.expected))
        if problems:
            raise ValueError(f"expected does not match schema: {problems[0].message}")
        return self


class RubricCase(_CaseBase):
    evaluator: Literal["rubric"]
    questions: list[RubricQuestion] = Field(min_length=1)

    @field_validator("questions")
    @classmethod
    def _check_unique_ids(cls, questions: list[RubricQuestion]) -> list[RubricQuestion]:
        ids = [question.id for question in questions]
        duplicates = sorted({name for name in ids if ids.count(name) > 1})
        if duplicates:
            raise ValueError(f"question ids must be unique, repeated: {', '.join(duplicates)}")
        return questions


class ReferenceCase(_CaseBase):
    evaluator: Literal["reference"]
    expected: str = Field(min_length=1)
    pass_choices: tuple[Choice, ...] = DEFAULT_PASS_CHOICES


Case = Annotated[StructuredCase | RubricCase | ReferenceCase, Field(discriminator="evaluator")]
_CASE_ADAPTER: TypeAdapter[StructuredCase | RubricCase | ReferenceCase] = TypeAdapter(Case)


class _ThresholdsLine(_Strict):
    thresholds: dict[EvaluatorName, Annotated[float, Field(ge=0, le=1)]]


@dataclass(frozen=True)
class Dataset:
    """The cases of one file, its thresholds, and the SHA-256 of its bytes."""

    path: Path
    sha256: str
    cases: Sequence[StructuredCase | RubricCase | ReferenceCase]
    thresholds: dict[EvaluatorName, float]


def load_dataset(path: Path) -> Dataset:
    """Read and validate a JSONL dataset; raise DatasetError naming the line of a problem."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DatasetError(f"cannot read dataset {path}: {error.strerror}") from error
    cases: list[StructuredCase | RubricCase | ReferenceCase] = []
    thresholds: dict[EvaluatorName, float] | None = None
    seen: dict[str, int] = {}
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}:{number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{where}: invalid JSON: {error}") from error
        if isinstance(value, dict) and "thresholds" in value:
            if thresholds is not None:
                raise DatasetError(f"{where}: a second thresholds line; keep one")
            thresholds = _parse(_ThresholdsLine, value, where).thresholds
            continue
        case = _parse_case(value, where)
        if case.id in seen:
            raise DatasetError(f"{where}: case id {case.id!r} repeats line {seen[case.id]}")
        seen[case.id] = number
        cases.append(case)
    if not cases:
        raise DatasetError(f"{path}: the dataset contains no cases")
    return Dataset(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        cases=cases,
        thresholds=thresholds or {},
    )


def _parse_case(value: object, where: str) -> StructuredCase | RubricCase | ReferenceCase:
    try:
        return _CASE_ADAPTER.validate_python(value)
    except ValidationError as error:
        raise DatasetError(f"{where}: invalid case: {_first_problem(error)}") from error


def _parse(model: type[_ThresholdsLine], value: object, where: str) -> _ThresholdsLine:
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise DatasetError(f"{where}: invalid thresholds: {_first_problem(error)}") from error


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    location = ".".join(str(part) for part in problem["loc"])
    return f"{location}: {problem['msg']}" if location else str(problem["msg"])
