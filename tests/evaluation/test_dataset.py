"""Loading the JSONL dataset format, and the shipped examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evaluation.dataset import DatasetError, StructuredCase, load_dataset

EXAMPLES = Path(__file__).resolve().parents[2] / "evaluation" / "examples"


def write_lines(path: Path, *lines: Any) -> Path:
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["summarization.jsonl", "extraction.jsonl"])
def test_examples_load(name: str) -> None:
    dataset = load_dataset(EXAMPLES / name)

    assert dataset.cases
    assert dataset.thresholds
    assert len(dataset.sha256) == 64


def test_invalid_case_names_line(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "cases.jsonl",
        {"id": "a", "evaluator": "reference", "input": "x", "expected": "y"},
        {"id": "b", "evaluator": "rubric", "input": "x", "questions": []},
    )

    with pytest.raises(DatasetError, match=r"cases\.jsonl:2: invalid case: rubric\.questions"):
        load_dataset(path)


def test_duplicate_case_id_rejected(tmp_path: Path) -> None:
    case = {"id": "a", "evaluator": "reference", "input": "x", "expected": "y"}
    path = write_lines(tmp_path / "cases.jsonl", case, case)

    with pytest.raises(DatasetError, match="case id 'a' repeats line 1"):
        load_dataset(path)


def test_expected_must_match_schema(tmp_path: Path) -> None:
    case = {
        "id": "s",
        "evaluator": "structured",
        "input": "x",
        "schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "expected": {"n": "one"},
    }
    path = write_lines(tmp_path / "cases.jsonl", case)

    with pytest.raises(DatasetError, match="expected does not match schema"):
        load_dataset(path)


def test_yes_no_question_needs_y_or_n(tmp_path: Path) -> None:
    question = {"id": "q", "question": "Correct?", "kind": "yes_no", "expected": 1}
    case = {"id": "r", "evaluator": "rubric", "input": "x", "questions": [question]}
    path = write_lines(tmp_path / "cases.jsonl", case)

    with pytest.raises(DatasetError, match="expects 'Y' or 'N'"):
        load_dataset(path)


def test_thresholds_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        "# a comment\n\n"
        '{"thresholds": {"structured": 0.9}}\n'
        '{"id": "s", "evaluator": "structured", "input": "x", "schema": {"type": "integer"},'
        ' "expected": 3}\n',
        encoding="utf-8",
    )

    dataset = load_dataset(path)

    assert dataset.thresholds == {"structured": 0.9}
    assert isinstance(dataset.cases[0], StructuredCase)
