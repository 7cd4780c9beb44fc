"""The release gate's evaluation commands for a stage."""

from __future__ import annotations

from pathlib import Path

from release.evaluation_gate import EXAMPLES_DIR, gate_commands


def test_gate_runs_every_example_dataset(tmp_path: Path) -> None:
    commands = gate_commands("dev", tmp_path)

    datasets = [Path(command[command.index("--dataset") + 1]) for command in commands]
    assert datasets == sorted(EXAMPLES_DIR.glob("*.jsonl"))
    assert len(datasets) >= 2


def test_gate_targets_stage_endpoint(tmp_path: Path) -> None:
    for command in gate_commands("prod", tmp_path):
        assert command[0] == "run"
        assert command[command.index("--endpoint") + 1] == "llm-endpoint-prod"
        assert command[command.index("--model-id") + 1] == "mistralai/Mistral-7B-Instruct-v0.2"
        assert command[command.index("--region") + 1] == "eu-west-1"
        assert command[command.index("--report") + 1].startswith(str(tmp_path))


def test_gate_passes_min_score(tmp_path: Path) -> None:
    commands = gate_commands("dev", tmp_path, min_score=0.75)

    assert all(command[-2:] == ["--min-score", "0.75"] for command in commands)
