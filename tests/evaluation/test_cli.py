"""``python -m evaluation run`` against the local SageMaker runtime, with the fake judge.

The runtime's "model" returns the leading sentences of the prompt's document, so summaries
are extractive and JSON extraction fails; the fake judge compares word sets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evaluation.cli import EXIT_CASES_FAILED, EXIT_PASSED, EXIT_UNDER_THRESHOLD, EXIT_USAGE, main
from evaluation.runner import progress_path
from rehearsal.runtime import Faults, LocalRuntime

EXAMPLES = Path(__file__).resolve().parents[2] / "evaluation" / "examples"
DOCUMENTS = [
    "The ferry runs every hour from May. A second boat joins the route. Tickets cost six euros.",
    "The bridge reopened on Friday. Engineers replaced a cracked beam. Barges must slow down.",
    "The orchard has forty apple trees. Pupils pick the fruit in September. Juice is sold.",
    "The library reopened in September. A lift now reaches the upper floor. Hours are longer.",
]


def write_reference_dataset(path: Path) -> Path:
    lines: list[dict[str, Any]] = [{"thresholds": {"reference": 0.5}}]
    for index, document in enumerate(DOCUMENTS):
        lines.append(
            {
                "id": f"case-{index}",
                "evaluator": "reference",
                "context": document,
                "input": "Summarize the text above.",
                # The runtime's extractive summary is the document itself, a superset: B.
                "expected": document.split(". ")[0],
                "max_new_tokens": 100,
            }
        )
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


def run(dataset: Path, report: Path, endpoint: str, *options: str) -> int:
    return main(
        [
            "run",
            "--dataset",
            str(dataset),
            "--endpoint",
            endpoint,
            "--judge",
            "fake",
            "--report",
            str(report),
            "--concurrency",
            "2",
            *options,
        ]
    )


def invocations(runtime: LocalRuntime, endpoint: str) -> int:
    return sum(1 for item in runtime.invocations() if item.endpoint == endpoint)


def read_report(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


@pytest.mark.usefixtures("runtime_url")
def test_report_format(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"

    status = run(write_reference_dataset(tmp_path / "cases.jsonl"), report_path, "ep-format")

    assert status == EXIT_PASSED
    report = read_report(report_path)
    assert report["format_version"] == 1
    assert report["passed"] is True
    assert report["dataset"]["cases"] == 4
    assert report["endpoint"] == {
        "name": "ep-format",
        "model_id": "mistralai/Mistral-7B-Instruct-v0.2",
    }
    assert report["judge"]["fake"] is True
    summary = report["evaluators"]["reference"]
    assert summary == {
        "cases": 4,
        "scored": 4,
        "errors": 0,
        "unparseable": 0,
        "score": 1.0,
        "threshold": 0.5,
        "passed": True,
        "metrics": {"pass": 1.0},
    }
    case = report["cases"][0]
    assert set(case) == {
        "case_id",
        "evaluator",
        "score",
        "metrics",
        "details",
        "unparseable",
        "answer",
        "error",
        "resumed",
    }
    assert case["details"]["choice"] == "B"
    assert case["answer"].startswith("The ferry runs every hour")


@pytest.mark.usefixtures("runtime_url")
def test_examples_under_threshold_exit_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run(EXAMPLES / "extraction.jsonl", tmp_path / "report.json", "ep-extract")

    assert status == EXIT_UNDER_THRESHOLD
    summary = read_report(tmp_path / "report.json")["evaluators"]["structured"]
    assert summary["metrics"]["valid_json"] == 0.0
    assert summary["passed"] is False
    assert "structured  3      0.00   0.80       FAIL" in capsys.readouterr().out


@pytest.mark.usefixtures("runtime_url")
def test_min_score_replaces_thresholds(tmp_path: Path) -> None:
    dataset = write_reference_dataset(tmp_path / "cases.jsonl")

    assert run(dataset, tmp_path / "low.json", "ep-min", "--min-score", "0") == EXIT_PASSED
    report = read_report(tmp_path / "low.json")
    assert report["evaluators"]["reference"]["threshold"] == 0.0


def test_resume_skips_finished_cases(
    tmp_path: Path, runtime: LocalRuntime, runtime_url: str
) -> None:
    endpoint = "ep-resume"
    dataset = write_reference_dataset(tmp_path / "cases.jsonl")
    report_path = tmp_path / "report.json"
    # Two of the four cases fail in the first run, as an interrupted run leaves them.
    runtime.add_faults(Faults(error="tgi_generation"), count=2, endpoint=endpoint)

    first = run(dataset, report_path, endpoint, "--concurrency", "1")

    assert first == EXIT_CASES_FAILED
    assert invocations(runtime, endpoint) == 4
    finished = progress_path(report_path).read_text(encoding="utf-8").splitlines()
    assert len(finished) == 2

    second = run(dataset, report_path, endpoint)

    assert second == EXIT_PASSED
    assert invocations(runtime, endpoint) == 6
    cases = read_report(report_path)["cases"]
    assert [case["resumed"] for case in cases] == [False, False, True, True]


def test_restart_and_changed_dataset_rerun(
    tmp_path: Path, runtime: LocalRuntime, runtime_url: str
) -> None:
    endpoint = "ep-restart"
    dataset = write_reference_dataset(tmp_path / "cases.jsonl")
    report_path = tmp_path / "report.json"
    run(dataset, report_path, endpoint)
    assert invocations(runtime, endpoint) == 4

    run(dataset, report_path, endpoint)
    assert invocations(runtime, endpoint) == 4

    run(dataset, report_path, endpoint, "--restart")
    assert invocations(runtime, endpoint) == 8

    with dataset.open("a", encoding="utf-8") as extra:
        extra.write("# an edit changes the dataset's hash\n")
    run(dataset, report_path, endpoint)
    assert invocations(runtime, endpoint) == 12


def test_partial_progress_line_reruns_case(
    tmp_path: Path, runtime: LocalRuntime, runtime_url: str
) -> None:
    endpoint = "ep-partial"
    dataset = write_reference_dataset(tmp_path / "cases.jsonl")
    report_path = tmp_path / "report.json"
    run(dataset, report_path, endpoint)
    log = progress_path(report_path)
    lines = log.read_text(encoding="utf-8").splitlines()
    # An interruption during the last write leaves half a line.
    log.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:40], encoding="utf-8")

    assert run(dataset, report_path, endpoint) == EXIT_PASSED
    assert invocations(runtime, endpoint) == 5


def test_unknown_model_id_is_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = write_reference_dataset(tmp_path / "cases.jsonl")

    status = run(dataset, tmp_path / "r.json", "ep", "--model-id", "acme/unknown")

    assert status == EXIT_USAGE
    assert "model acme/unknown is not in the catalog" in capsys.readouterr().err


def test_invalid_dataset_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = tmp_path / "cases.jsonl"
    dataset.write_text("{not json\n", encoding="utf-8")

    assert run(dataset, tmp_path / "r.json", "ep") == EXIT_USAGE
    assert "cases.jsonl:1: invalid JSON" in capsys.readouterr().err


def test_structured_fixed_reply_scores(
    tmp_path: Path, runtime: LocalRuntime, runtime_url: str
) -> None:
    endpoint = "ep-fixed"
    good = (
        '{"name": "Seeing Saturn", "date": "2025-01-14",'
        ' "speakers": ["Tomas Berg", "ines ward"], "price_eur": 4.5}'
    )
    runtime.add_faults(Faults(fixed_text=good), count=1, endpoint=endpoint)
    dataset = tmp_path / "one.jsonl"
    dataset.write_text(
        (EXAMPLES / "extraction.jsonl").read_text(encoding="utf-8").splitlines()[2] + "\n",
        encoding="utf-8",
    )

    status = run(dataset, tmp_path / "report.json", endpoint, "--min-score", "0.9")

    assert status == EXIT_PASSED
    case = read_report(tmp_path / "report.json")["cases"][0]
    assert case["case_id"] == "extract-event-talk"
    assert case["metrics"] == {"valid_json": 1.0, "schema_valid": 1.0, "field_match": 1.0}
