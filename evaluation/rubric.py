"""Rubric: a judge model answers Y/N or number questions about an answer that has no ideal."""

from __future__ import annotations

from typing import Any

from evaluation.base import CaseScore, Evaluator
from evaluation.dataset import RubricCase, RubricQuestion
from evaluation.judge import (
    NUMBER_FORMAT,
    YES_NO_FORMAT,
    Judge,
    Verdict,
    parse_number,
    parse_yes_no,
    rubric_prompt,
)


class RubricEvaluator(Evaluator[RubricCase]):
    """Ask the judge every question of the case, one request per question.

    A question scores 1 when the judge's parsed reply is the expected one, and 0 when it is
    another reply or stays unparseable after the retry. The case score is the mean over its
    questions; each question's score is also a metric named by its id.
    """

    name = "rubric"

    def __init__(self, judge: Judge) -> None:
        self.judge = judge

    async def score(self, case: RubricCase, answer: str) -> CaseScore:
        metrics: dict[str, float] = {}
        details: dict[str, Any] = {}
        unparseable = 0
        for question in case.questions:
            verdict = await self._ask(case, question, answer)
            passed = verdict.value is not None and question.is_expected(verdict.value)
            metrics[question.id] = 1.0 if passed else 0.0
            unparseable += verdict.value is None
            details[question.id] = {
                "question": question.question,
                "expected": _expected_json(question),
                "reply": verdict.value,
                "raw_replies": list(verdict.replies),
                "unparseable": verdict.value is None,
            }
        return CaseScore(
            score=sum(metrics.values()) / len(metrics),
            metrics=metrics,
            details={"questions": details},
            unparseable=unparseable,
        )

    async def _ask(
        self, case: RubricCase, question: RubricQuestion, answer: str
    ) -> Verdict[str] | Verdict[float]:
        body = rubric_prompt(case.input, case.context, answer, question.question)
        if question.kind == "yes_no":
            return await self.judge.ask(body, YES_NO_FORMAT, parse_yes_no, case_id=case.id)
        return await self.judge.ask(body, NUMBER_FORMAT, parse_number, case_id=case.id)


def _expected_json(question: RubricQuestion) -> Any:
    expected = question.expected
    return expected if isinstance(expected, str | float) else expected.model_dump()
