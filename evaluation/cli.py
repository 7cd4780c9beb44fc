"""``python -m evaluation run``: evaluate an endpoint's answers to a dataset, as a release gate.

Exit status: 0 when every gated evaluator met its threshold; 1 when a score is under its
threshold; 2 for invalid arguments or an invalid dataset; 3 when some cases failed to run
(rerun the same command to retry only those); 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import NoRegionError
from pydantic import ValidationError

from evaluation.base import Evaluator
from evaluation.dataset import DatasetError, load_dataset
from evaluation.judge import FAKE_JUDGE_NAME, FakeJudge, Judge
from evaluation.reference import ReferenceEvaluator
from evaluation.report import build_report, render_table, summarize, write_report
from evaluation.rubric import RubricEvaluator
from evaluation.runner import ProgressLog, Runner, progress_path, run_identity
from evaluation.structured import StructuredEvaluator
from inference.base import InferenceClient
from inference.prompts import template_for_model
from inference.sagemaker_tgi import SageMakerTgiClient
from inference.settings import ClientSettings

# The model of the shipped dev and prod profiles.
DEFAULT_MODEL_ID = "mistralai/Mistral-7B-Instruct-v0.2"
DEFAULT_REPORT = Path("evaluation-report.json")

EXIT_PASSED = 0
EXIT_UNDER_THRESHOLD = 1
EXIT_USAGE = 2
EXIT_CASES_FAILED = 3
EXIT_INTERRUPTED = 130


def _score(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation",
        description="Evaluate a SageMaker TGI endpoint's answers to a JSONL dataset.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run a dataset's cases and write a report",
        description="Run every case of a dataset against an endpoint, print a table, write a"
        " JSON report, and exit 1 when an evaluator scores under its threshold. A rerun with"
        " the same arguments resumes: finished cases are read from the progress log next to"
        " the report.",
    )
    run.add_argument("--dataset", type=Path, required=True, help="the JSONL dataset file")
    run.add_argument("--endpoint", required=True, help="the SageMaker endpoint under test")
    run.add_argument(
        "--model-id",
        default=DEFAULT_MODEL_ID,
        help="the endpoint's Hugging Face model id, which selects its prompt template"
        f" (default: {DEFAULT_MODEL_ID})",
    )
    run.add_argument(
        "--judge",
        choices=("endpoint", "fake"),
        default="endpoint",
        help="'endpoint' asks a judge endpoint; 'fake' uses a deterministic word-overlap stand-in"
        " for demos and tests, which compares word sets for reference cases and cannot answer"
        " rubric questions (default: endpoint)",
    )
    run.add_argument(
        "--judge-endpoint",
        help="the SageMaker endpoint of the judge model (default: the endpoint under test)",
    )
    run.add_argument(
        "--judge-model-id",
        help="the judge's Hugging Face model id, for its prompt template (default: --model-id)",
    )
    run.add_argument(
        "--region",
        help="the AWS region of the endpoints (default: AWS_REGION, else boto3's own:"
        " AWS_DEFAULT_REGION or the profile's region)",
    )
    run.add_argument(
        "--min-score",
        type=_score,
        help="the minimum mean score, from 0 to 1, of every evaluator; replaces the"
        " dataset's thresholds",
    )
    run.add_argument(
        "--report",
        type=Path,
        default=DEFAULT_REPORT,
        help=f"where to write the JSON report (default: {DEFAULT_REPORT})",
    )
    run.add_argument(
        "--concurrency",
        type=_positive,
        default=4,
        help="the maximum number of cases in flight at once (default: 4)",
    )
    run.add_argument(
        "--restart",
        action="store_true",
        help="delete the progress log first, so every case runs again",
    )
    return parser


def _client(endpoint: str, region: str | None) -> SageMakerTgiClient:
    # Without --region the client falls back to AWS_REGION and then to boto3's own lookup.
    # endpoint_url stays unset, so boto3 honours AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME.
    return SageMakerTgiClient(ClientSettings(endpoint_name=endpoint, region=region))


def run_command(arguments: argparse.Namespace) -> int:
    if arguments.judge == "fake" and arguments.judge_endpoint:
        print("error: --judge fake and --judge-endpoint exclude each other", file=sys.stderr)
        return EXIT_USAGE
    judge_model_id = arguments.judge_model_id or arguments.model_id
    try:
        dataset = load_dataset(arguments.dataset)
        template = template_for_model(arguments.model_id)
        judge_template = template_for_model(judge_model_id)
        client = _client(arguments.endpoint, arguments.region)
        judge_client: InferenceClient
        if arguments.judge == "fake":
            judge_client = FakeJudge()
        elif arguments.judge_endpoint and arguments.judge_endpoint != arguments.endpoint:
            judge_client = _client(arguments.judge_endpoint, arguments.region)
        else:
            judge_client = client
    except NoRegionError:
        print("error: no AWS region; pass --region or set AWS_REGION", file=sys.stderr)
        return EXIT_USAGE
    except (DatasetError, KeyError, ValidationError) as error:
        message = error.args[0] if isinstance(error, KeyError) else str(error)
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE

    judge = Judge(judge_client, judge_template)
    evaluators: dict[str, Evaluator[Any]] = {
        "structured": StructuredEvaluator(),
        "rubric": RubricEvaluator(judge),
        "reference": ReferenceEvaluator(judge),
    }
    judge_name = FAKE_JUDGE_NAME if arguments.judge == "fake" else judge_client.endpoint_name
    identity = run_identity(
        dataset, arguments.endpoint, arguments.model_id, judge_name, judge_model_id
    )
    progress = ProgressLog(progress_path(arguments.report), identity)
    if arguments.restart:
        progress.clear()
    if arguments.judge == "fake":
        print(
            "note: the judge is the fake word-overlap stand-in, not an LLM; its scores show"
            " how the evaluation works, not the answers' quality",
            file=sys.stderr,
        )

    runner = Runner(client, template, evaluators, concurrency=arguments.concurrency)
    try:
        results = asyncio.run(runner.run(dataset.cases, progress))
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; finished cases are in {progress.path}; rerun the same command"
            " to resume",
            file=sys.stderr,
        )
        sys.stderr.flush()
        # Calls in flight run in the client's worker threads, which the interpreter would
        # join at exit, up to the read timeout. Finished cases are already on disk.
        os._exit(EXIT_INTERRUPTED)

    thresholds: dict[str, float] = {name: value for name, value in dataset.thresholds.items()}
    if arguments.min_score is not None:
        thresholds = {name: arguments.min_score for name in ("structured", "rubric", "reference")}
    summaries = summarize(results, thresholds)
    report = build_report(
        dataset, identity, results, summaries, judge_is_fake=arguments.judge == "fake"
    )
    write_report(arguments.report, report)
    print(render_table(results, summaries))
    print(f"\nreport: {arguments.report}")

    if any(summary.errors for summary in summaries.values()):
        print(
            "error: some cases failed to run; rerun the same command to retry only those",
            file=sys.stderr,
        )
        return EXIT_CASES_FAILED
    return EXIT_PASSED if report["passed"] else EXIT_UNDER_THRESHOLD


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run_command(arguments)
