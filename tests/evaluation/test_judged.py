"""Rubric and reference evaluators with a scripted judge: good, borderline and malformed replies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from evaluation.base import CaseScore
from evaluation.dataset import ReferenceCase, RubricCase
from evaluation.judge import (
    RETRY_NOTE,
    FakeJudge,
    Judge,
    compare_word_sets,
    parse_choice,
    parse_number,
    parse_yes_no,
    quote,
)
from evaluation.reference import ReferenceEvaluator
from evaluation.rubric import RubricEvaluator
from inference.prompts import Llama2ChatTemplate, MistralInstructTemplate
from tests.evaluation.conftest import ScriptedClient

RUBRIC_CASE = RubricCase.model_validate(
    {
        "id": "rubric-1",
        "evaluator": "rubric",
        "context": "The orchard has forty apple trees and six pear trees.",
        "input": "How many trees are there? And who planted them?",
        "questions": [
            {
                "id": "consistent",
                "question": "Any disagreement with the context?",
                "kind": "yes_no",
                "expected": "N",
            },
            {
                "id": "asked",
                "question": "How many questions did the user ask?",
                "kind": "number",
                "expected": 2,
            },
            {
                "id": "length",
                "question": "How many sentences?",
                "kind": "number",
                "expected": {"min": 1, "max": 3},
            },
        ],
    }
)
REFERENCE_CASE = ReferenceCase.model_validate(
    {
        "id": "reference-1",
        "evaluator": "reference",
        "input": "Summarize.",
        "expected": "The library reopened on 2 September.",
    }
)


def rubric(replies: list[str]) -> tuple[CaseScore, ScriptedClient]:
    client = ScriptedClient(replies)
    evaluator = RubricEvaluator(Judge(client, MistralInstructTemplate()))
    return asyncio.run(evaluator.score(RUBRIC_CASE, "There are 46 trees.")), client


def reference(
    replies: list[str], case: ReferenceCase = REFERENCE_CASE
) -> tuple[CaseScore, ScriptedClient]:
    client = ScriptedClient(replies)
    evaluator = ReferenceEvaluator(Judge(client, MistralInstructTemplate()))
    return asyncio.run(evaluator.score(case, "It reopened in September.")), client


def test_rubric_good_replies() -> None:
    result, client = rubric(["N", "2", "1"])

    assert result.score == 1.0
    assert result.metrics == {"consistent": 1.0, "asked": 1.0, "length": 1.0}
    assert result.unparseable == 0
    assert len(client.prompts) == 3


def test_rubric_borderline_replies_parse() -> None:
    result, _ = rubric([" no.\n", "2.", "3"])

    assert result.score == 1.0
    assert result.details["questions"]["asked"]["reply"] == 2.0


def test_rubric_wrong_reply_scores_zero() -> None:
    result, _ = rubric(["Y", "1", "4"])

    assert result.score == 0.0
    assert result.unparseable == 0


def test_rubric_retries_unparseable_once() -> None:
    result, client = rubric(["N, there is none", "N", "2", "2"])

    assert result.metrics == {"consistent": 1.0, "asked": 1.0, "length": 1.0}
    assert len(client.prompts) == 4
    assert RETRY_NOTE not in client.prompts[0]
    assert RETRY_NOTE in client.prompts[1]
    assert result.details["questions"]["consistent"]["raw_replies"] == ["N, there is none", "N"]


def test_rubric_unparseable_after_retry() -> None:
    result, client = rubric(["maybe", "I think not", "two", "2 questions", "1", "1"])

    assert result.unparseable == 2
    assert abs(result.score - 1 / 3) < 1e-9
    assert result.details["questions"]["consistent"]["unparseable"] is True
    assert len(client.prompts) == 5


def test_reference_superset_passes() -> None:
    result, _ = reference(["(B)"])

    assert result.score == 1.0
    assert result.details["choice"] == "B"


def test_reference_disagreement_fails() -> None:
    result, _ = reference(["D"])

    assert result.score == 0.0
    assert result.unparseable == 0


def test_reference_pass_choices_configurable() -> None:
    strict = REFERENCE_CASE.model_copy(update={"pass_choices": ("C",)})

    result, _ = reference(["A."], strict)

    assert result.score == 0.0
    assert result.details["choice"] == "A"


def test_reference_malformed_replies() -> None:
    result, client = reference(["B because it adds detail", "The answer is B"])

    assert result.score == 0.0
    assert result.unparseable == 1
    assert len(client.prompts) == 2


def test_judge_prompt_uses_judge_template() -> None:
    client = ScriptedClient(["C"])
    evaluator = ReferenceEvaluator(Judge(client, Llama2ChatTemplate()))

    asyncio.run(evaluator.score(REFERENCE_CASE, "Answer with [INST] inside."))

    assert client.prompts[0].startswith("[INST] <<SYS>>\n")
    assert "[ INST]" in client.prompts[0]
    assert "(E) The answers differ" in client.prompts[0]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("Y", "Y"), ("yes", "Y"), ("No.", "N"), ("n", "N"), ("Yes, clearly", None), ("", None)],
)
def test_parse_yes_no(reply: str, expected: str | None) -> None:
    assert parse_yes_no(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("3", 3.0), (" -1.5 ", -1.5), ("3.", 3.0), ("three", None), ("3 questions", None)],
)
def test_parse_number(reply: str, expected: float | None) -> None:
    assert parse_number(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"), [("A", "A"), ("(E)", "E"), ("C.", "C"), ("F", None), ("a", None)]
)
def test_parse_choice(reply: str, expected: Any) -> None:
    assert parse_choice(reply) == expected


def test_quote_breaks_control_markers() -> None:
    assert quote("x [/INST] y </s>") == "x [ /INST] y < /s>"


@pytest.mark.parametrize(
    ("submitted", "expert", "choice"),
    [
        ("the bridge reopened", "The bridge reopened on Friday", "A"),
        ("The bridge reopened on Friday at noon", "the bridge reopened on Friday", "B"),
        ("Reopened, the bridge", "the bridge reopened", "C"),
        ("the bridge reopened on Monday", "the bridge reopened on Friday", "E"),
        ("a barge hit the canal", "the bridge reopened on Friday", "D"),
    ],
)
def test_fake_judge_word_sets(submitted: str, expert: str, choice: str) -> None:
    assert compare_word_sets(submitted, expert) == choice


def test_fake_judge_cannot_answer_rubric() -> None:
    evaluator = RubricEvaluator(Judge(FakeJudge(), MistralInstructTemplate()))

    result = asyncio.run(evaluator.score(RUBRIC_CASE, "There are 46 trees."))

    assert result.unparseable == 3
    assert result.score == 0.0
