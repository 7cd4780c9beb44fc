"""Per-evaluator summaries, the JSON report and the table printed at the end of a run.

The report is a JSON object (``REPORT_FORMAT_VERSION`` 1):

- ``format_version``: 1;
- ``passed``: true when every gated evaluator met its threshold and no case failed to run;
- ``dataset``: ``{"path", "sha256", "cases"}``;
- ``endpoint``: ``{"name", "model_id"}``; ``judge``: ``{"name", "model_id", "fake"}``;
- ``run_key``: the key of finished cases in the progress log;
- ``evaluators``: by name, ``{"cases", "scored", "errors", "unparseable", "score",
  "threshold", "passed", "metrics"}``, where ``score`` is the mean case score of the scored
  cases (null when none), ``threshold`` is null for an evaluator with no threshold, and
  ``metrics`` contains the mean of each named sub-score;
- ``cases``: one object per case in dataset order, as ``CaseResult.to_json`` writes it:
  ``{"case_id", "evaluator", "score", "metrics", "details", "unparseable", "answer",
  "error", "resumed"}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evaluation.dataset import EVALUATOR_NAMES, Dataset
from evaluation.runner import CaseResult, RunIdentity

REPORT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class EvaluatorSummary:
    cases: int
    scored: int
    errors: int
    unparseable: int
    score: float | None
    threshold: float | None
    passed: bool
    metrics: dict[str, float]


def summarize(
    results: Sequence[CaseResult], thresholds: Mapping[str, float]
) -> dict[str, EvaluatorSummary]:
    """Summarize the results of each evaluator that has cases, in a fixed order."""
    summaries: dict[str, EvaluatorSummary] = {}
    for name in EVALUATOR_NAMES:
        own = [result for result in results if result.evaluator == name]
        if not own:
            continue
        scored = [result for result in own if result.error is None]
        score = sum(result.score for result in scored) / len(scored) if scored else None
        threshold = thresholds.get(name)
        errors = len(own) - len(scored)
        # An evaluator with failed cases does not pass: its score leaves those cases out.
        passed = errors == 0 and (threshold is None or (score is not None and score >= threshold))
        summaries[name] = EvaluatorSummary(
            cases=len(own),
            scored=len(scored),
            errors=errors,
            unparseable=sum(result.unparseable for result in scored),
            score=score,
            threshold=threshold,
            passed=passed,
            metrics=_mean_metrics(scored),
        )
    return summaries


def _mean_metrics(results: Sequence[CaseResult]) -> dict[str, float]:
    values: dict[str, list[float]] = {}
    for result in results:
        for name, value in result.metrics.items():
            values.setdefault(name, []).append(value)
    return {name: sum(items) / len(items) for name, items in values.items()}


def build_report(
    dataset: Dataset,
    identity: RunIdentity,
    results: Sequence[CaseResult],
    summaries: Mapping[str, EvaluatorSummary],
    *,
    judge_is_fake: bool,
) -> dict[str, Any]:
    return {
        "format_version": REPORT_FORMAT_VERSION,
        "passed": all(summary.passed for summary in summaries.values()),
        "dataset": {
            "path": str(dataset.path),
            "sha256": dataset.sha256,
            "cases": len(dataset.cases),
        },
        "endpoint": {"name": identity.endpoint, "model_id": identity.model_id},
        "judge": {
            "name": identity.judge,
            "model_id": identity.judge_model_id,
            "fake": judge_is_fake,
        },
        "run_key": identity.key,
        "evaluators": {name: asdict(summary) for name, summary in summaries.items()},
        "cases": [result.to_json() for result in results],
    }


def write_report(path: Path, report: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written to a temporary file first, so a reader never sees half a report.
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    temporary.replace(path)


def render_table(results: Sequence[CaseResult], summaries: Mapping[str, EvaluatorSummary]) -> str:
    """Render one row per case, then one row per evaluator, as fixed-width text."""
    case_rows = [["case", "evaluator", "score", "note"]]
    for result in results:
        case_rows.append(
            [result.case_id, result.evaluator, _number(result.score), _case_note(result)]
        )
    summary_rows = [
        ["evaluator", "cases", "score", "threshold", "result", "errors", "unparseable", "metrics"]
    ]
    for name, summary in summaries.items():
        metrics = ", ".join(f"{key} {value:.2f}" for key, value in summary.metrics.items())
        summary_rows.append(
            [
                name,
                str(summary.cases),
                _number(summary.score),
                _number(summary.threshold),
                "pass" if summary.passed else "FAIL",
                str(summary.errors),
                str(summary.unparseable),
                metrics,
            ]
        )
    return _format(case_rows) + "\n\n" + _format(summary_rows)


def _case_note(result: CaseResult) -> str:
    notes: list[str] = []
    if result.error:
        notes.append(f"error: {result.error[:100]}")
    if result.unparseable:
        notes.append(f"unparseable judge replies: {result.unparseable}")
    if result.resumed:
        notes.append("resumed")
    return "; ".join(notes)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _format(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)
