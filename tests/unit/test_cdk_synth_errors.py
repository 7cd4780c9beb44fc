"""`cdk synth` with an invalid config prints the same problem lines as the check command.

Runs the real CDK CLI from node_modules once and the check command once, in an environment
with fake credentials whose AWS calls could only reach a closed port on 127.0.0.1.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from rehearsal.cdk_env import offline_cdk_environment

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INVALID_CONFIG = {
    "tgi": {"max_total_tokens": 3000},
    "endpoint": {"instance_type": "ml.m5.xlarge"},
    "autoscaling": {"min_capacity": 3},
}


@dataclass(frozen=True)
class Runs:
    synth: subprocess.CompletedProcess[str]
    check: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Run `cdk synth` and the check command once each on the same invalid file."""
    directory = tmp_path_factory.mktemp("synth")
    path = directory / "invalid.yaml"
    path.write_text(yaml.safe_dump(INVALID_CONFIG), encoding="utf-8")
    environment = offline_cdk_environment(directory / "cdk-home")

    synth = subprocess.run(
        [
            "npx",
            "--no-install",
            "cdk",
            "synth",
            "--no-notices",
            "-q",
            "-c",
            f"config={path}",
            "-o",
            str(directory / "cdk.out"),
        ],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    check = subprocess.run(
        [sys.executable, "-m", "deploy_config", "check", str(path)],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Runs(synth=synth, check=check)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error: ")]


def test_synth_invalid_config_fails(runs: Runs) -> None:
    assert runs.synth.returncode != 0


def test_synth_errors_match_check(runs: Runs) -> None:
    # The check command's stderr contains only problem lines, so it is the expected list.
    assert runs.check.returncode == 2
    assert error_lines(runs.check.stderr) == runs.check.stderr.splitlines()
    assert error_lines(runs.synth.stderr) == error_lines(runs.check.stderr)


def test_synth_reports_every_problem(runs: Runs) -> None:
    assert len(error_lines(runs.synth.stderr)) == 3


def test_synth_prints_no_traceback(runs: Runs) -> None:
    assert "Traceback" not in runs.synth.stderr
    assert "Traceback" not in runs.synth.stdout
