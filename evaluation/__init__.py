"""Evaluate an endpoint's answers: structured checks, rubric questions and reference comparison.

``python -m evaluation run --dataset FILE --endpoint NAME`` runs a JSONL dataset (format in
``evaluation.dataset``) and writes a JSON report (format in ``evaluation.report``).
"""

from evaluation.base import CaseScore, Evaluator
from evaluation.dataset import (
    Dataset,
    DatasetError,
    ReferenceCase,
    RubricCase,
    RubricQuestion,
    StructuredCase,
    Tolerance,
    load_dataset,
)
from evaluation.judge import FakeJudge, Judge, Verdict
from evaluation.reference import ReferenceEvaluator
from evaluation.rubric import RubricEvaluator
from evaluation.runner import CaseResult, ProgressLog, Runner
from evaluation.structured import StructuredEvaluator, structured_case

__all__ = [
    "CaseResult",
    "CaseScore",
    "Dataset",
    "DatasetError",
    "Evaluator",
    "FakeJudge",
    "Judge",
    "ProgressLog",
    "ReferenceCase",
    "ReferenceEvaluator",
    "RubricCase",
    "RubricEvaluator",
    "RubricQuestion",
    "Runner",
    "StructuredCase",
    "StructuredEvaluator",
    "Tolerance",
    "Verdict",
    "load_dataset",
    "structured_case",
]
