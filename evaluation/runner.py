"""Run a dataset's cases against an endpoint with bounded concurrency, resuming finished cases.

Finished cases go to an append-only JSONL progress log next to the report, one line per
case, keyed by the run key (a hash of the dataset's SHA-256, the endpoint, the judge and
their models) and the case id. A rerun with the same key skips those cases. A case whose
inference failed is not logged, so a rerun tries it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from evaluation.base import CaseScore, Evaluator
from evaluation.dataset import Dataset, ReferenceCase, RubricCase, StructuredCase
from inference.base import GenerationParameters, InferenceClient
from inference.errors import InferenceError
from inference.prompts import PromptError, PromptTemplate

logger = logging.getLogger(__name__)

AnyCase = StructuredCase | RubricCase | ReferenceCase
PROGRESS_BAR_WIDTH = 30


@dataclass(frozen=True)
class CaseResult:
    """One case's outcome: a score, or an error when the case could not be run."""

    case_id: str
    evaluator: str
    score: float
    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    unparseable: int = 0
    answer: str | None = None
    error: str | None = None
    # True when the result came from the progress log of an earlier, interrupted run.
    resumed: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> CaseResult:
        return cls(**values)


@dataclass(frozen=True)
class RunIdentity:
    """The dataset, endpoint and judge of a run. Runs with the same key share finished cases."""

    dataset_sha256: str
    endpoint: str
    model_id: str
    judge: str
    judge_model_id: str

    @property
    def key(self) -> str:
        encoded = json.dumps(asdict(self), sort_keys=True).encode("utf-8")
        return hashlib.sha256(encoded).hexdigest()


class ProgressLog:
    """The append-only JSONL file of finished case results."""

    def __init__(self, path: Path, identity: RunIdentity) -> None:
        self.path = path
        self.identity = identity

    def finished(self) -> dict[str, CaseResult]:
        """Return the results this run key already finished, by case id; the last line wins."""
        results: dict[str, CaseResult] = {}
        if not self.path.exists():
            return results
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    entry = json.loads(line)
                    if entry.get("run_key") != self.identity.key:
                        continue
                    result = CaseResult.from_json(entry["result"])
                except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                    # An interrupted write leaves a partial last line; that case reruns.
                    logger.warning("%s:%d: skipped an unreadable progress line", self.path, number)
                    continue
                results[result.case_id] = result
        return results

    def append(self, result: CaseResult) -> None:
        entry = {
            "run_key": self.identity.key,
            "dataset_sha256": self.identity.dataset_sha256,
            "case_id": result.case_id,
            "result": result.to_json(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write call per line, flushed at once, so an interruption loses at most the
        # line being written.
        with self.path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


class ProgressBar:
    """Finished cases out of all, on stderr: a redrawn line on a terminal, else a line per case."""

    def __init__(self, total: int, done: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = done
        self.stream = stream if stream is not None else sys.stderr
        self.redraw = self.stream.isatty()

    def start(self) -> None:
        if self.done:
            self.stream.write(f"resumed {self.done} finished case(s) from the progress log\n")
        self._draw("")

    def advance(self, result: CaseResult) -> None:
        self.done += 1
        outcome = f"error: {result.error}" if result.error else f"score {result.score:.2f}"
        self._draw(f"{result.case_id}: {outcome}")

    def finish(self) -> None:
        if self.redraw:
            self.stream.write("\n")
        self.stream.flush()

    def _draw(self, note: str) -> None:
        filled = PROGRESS_BAR_WIDTH * self.done // self.total if self.total else PROGRESS_BAR_WIDTH
        bar = "#" * filled + "." * (PROGRESS_BAR_WIDTH - filled)
        line = f"[{bar}] {self.done}/{self.total} {note}".rstrip()
        if self.redraw:
            self.stream.write("\r\x1b[K" + line)
        elif note:
            self.stream.write(line + "\n")
        self.stream.flush()


@dataclass
class Runner:
    """Everything one run needs: the endpoint under test, its template, and the evaluators."""

    client: InferenceClient
    template: PromptTemplate
    evaluators: Mapping[str, Evaluator[Any]]
    concurrency: int = 4

    async def run(
        self, cases: Sequence[AnyCase], progress: ProgressLog, bar: ProgressBar | None = None
    ) -> list[CaseResult]:
        """Evaluate every case that ``progress`` has not finished; return results in case order."""
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        finished = progress.finished()
        pending = [case for case in cases if case.id not in finished]
        bar = bar or ProgressBar(len(cases), 0)
        bar.done = len(cases) - len(pending)
        bar.start()
        slots = asyncio.Semaphore(self.concurrency)

        async def evaluate(case: AnyCase) -> CaseResult:
            async with slots:
                result = await self.evaluate(case)
            if result.error is None:
                progress.append(result)
            bar.advance(result)
            return result

        fresh = {result.case_id: result for result in await _gather(map(evaluate, pending))}
        bar.finish()
        resumed = {case_id: _as_resumed(result) for case_id, result in finished.items()}
        return [fresh.get(case.id) or resumed[case.id] for case in cases]

    async def evaluate(self, case: AnyCase) -> CaseResult:
        """Send one case to the endpoint and score the answer; errors become an error result."""
        evaluator = self.evaluators[case.evaluator]
        answer: str | None = None
        try:
            prompt = self.template.render(evaluator.messages(case))
            parameters = GenerationParameters(
                max_new_tokens=case.max_new_tokens, stop=self.template.stop_sequences
            )
            answer = (await self.client.agenerate(prompt, parameters)).text.strip()
            verdict: CaseScore = await evaluator.score(case, answer)
        except (InferenceError, PromptError) as error:
            logger.warning(
                "case %s on endpoint %s failed: %s: %s",
                case.id,
                getattr(error, "endpoint_name", self.client.endpoint_name),
                type(error).__name__,
                error,
            )
            return CaseResult(
                case_id=case.id,
                evaluator=case.evaluator,
                score=0.0,
                answer=answer,
                error=f"{type(error).__name__}: {error}",
            )
        return CaseResult(
            case_id=case.id,
            evaluator=case.evaluator,
            score=verdict.score,
            metrics=verdict.metrics,
            details=verdict.details,
            unparseable=verdict.unparseable,
            answer=answer,
        )


async def _gather(tasks: Any) -> list[CaseResult]:
    return list(await asyncio.gather(*tasks))


def _as_resumed(result: CaseResult) -> CaseResult:
    values = result.to_json()
    values["resumed"] = True
    return CaseResult.from_json(values)


def run_identity(
    dataset: Dataset, endpoint: str, model_id: str, judge: str, judge_model_id: str
) -> RunIdentity:
    return RunIdentity(
        dataset_sha256=dataset.sha256,
        endpoint=endpoint,
        model_id=model_id,
        judge=judge,
        judge_model_id=judge_model_id,
    )


def progress_path(report_path: Path) -> Path:
    """Return the progress log's path: the report's, with ``.progress.jsonl`` as suffix."""
    return report_path.with_name(report_path.stem + ".progress.jsonl")
