"""Reference comparison: a judge model compares the meaning of an answer with an expert's."""

from __future__ import annotations

from evaluation.base import CaseScore, Evaluator
from evaluation.dataset import ReferenceCase
from evaluation.judge import CHOICE_FORMAT, Judge, parse_choice, reference_prompt


class ReferenceEvaluator(Evaluator[ReferenceCase]):
    """Ask the judge for one of the choices A to E; the case passes when it is in ``pass_choices``.

    The case score is 1 for a passing choice and 0 for any other choice or for a reply that
    stays unparseable after the retry.
    """

    name = "reference"

    def __init__(self, judge: Judge) -> None:
        self.judge = judge

    async def score(self, case: ReferenceCase, answer: str) -> CaseScore:
        body = reference_prompt(case.input, case.expected, answer)
        verdict = await self.judge.ask(body, CHOICE_FORMAT, parse_choice, case_id=case.id)
        passed = verdict.value is not None and verdict.value in case.pass_choices
        return CaseScore(
            score=1.0 if passed else 0.0,
            metrics={"pass": 1.0 if passed else 0.0},
            details={
                "choice": verdict.value,
                "pass_choices": list(case.pass_choices),
                "raw_replies": list(verdict.replies),
                "unparseable": verdict.value is None,
            },
            unparseable=0 if verdict.value is not None else 1,
        )
