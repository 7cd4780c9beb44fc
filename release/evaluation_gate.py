"""The release gate between the dev and prod deploys: evaluate a stage's endpoint.

``python -m release.evaluation_gate --stage dev [--report-dir DIR] [--min-score X]`` runs each
example dataset under ``evaluation/examples`` against the stage's endpoint, with the model id
from the stage's config choosing the prompt templates, and exits with the first non-zero
status of ``python -m evaluation run`` (1 when a score is under its threshold).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy_config import ConfigError, load_config
from evaluation.cli import main as evaluation_main

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "evaluation" / "examples"
EXIT_INVALID = 2


def gate_commands(stage: str, report_dir: Path, min_score: float | None = None) -> list[list[str]]:
    """Return the ``evaluation run`` argument lists the gate runs for a stage."""
    config = load_config(stage=stage)
    endpoint_name = config.endpoint.name or f"llm-endpoint-{stage}"
    commands = []
    for dataset in sorted(EXAMPLES_DIR.glob("*.jsonl")):
        arguments = [
            "run",
            "--dataset",
            str(dataset),
            "--endpoint",
            endpoint_name,
            "--model-id",
            config.model.id,
            "--region",
            config.region,
            "--report",
            str(report_dir / f"evaluation-{stage}-{dataset.stem}.json"),
        ]
        if min_score is not None:
            arguments += ["--min-score", str(min_score)]
        commands.append(arguments)
    return commands


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m release.evaluation_gate",
        description="Evaluate a stage's endpoint with the example datasets.",
    )
    parser.add_argument("--stage", required=True, help="stage whose endpoint is evaluated")
    parser.add_argument(
        "--report-dir", type=Path, default=Path("cdk.out"), help="where the JSON reports go"
    )
    parser.add_argument(
        "--min-score", type=float, help="one threshold for every evaluator, from 0 to 1"
    )
    arguments = parser.parse_args(argv)
    try:
        commands = gate_commands(arguments.stage, arguments.report_dir, arguments.min_score)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    arguments.report_dir.mkdir(parents=True, exist_ok=True)

    status = 0
    for command in commands:
        print(f"evaluation run on {command[2]}", file=sys.stderr)
        result = evaluation_main(command)
        status = status or result
    return status


if __name__ == "__main__":
    sys.exit(main())
