"""`cdk synth` with an invalid config prints the same problem lines as the check command.

Runs the real CDK CLI from node_modules once and the check command once, with fake
credentials and no other AWS_ variables, so that no real AWS credentials are used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from deploy_config.settings import ENV_PREFIX

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INVALID_CONFIG = {
    "tgi": {"max_total_tokens": 3000},
    "endpoint": {"instance_type": "ml.m5.xlarge"},
    "autoscaling": {"min_capacity": 3},
}

pytestmark = pytest.mark.skipif(
    shutil.which("npx") is None or not (PROJECT_ROOT / "node_modules" / ".bin" / "cdk").exists(),
    reason="needs Node.js and the CDK CLI from `npm ci` in the project root",
)


@dataclass(frozen=True)
class Runs:
    synth: subprocess.CompletedProcess[str]
    check: subprocess.CompletedProcess[str]


def offline_environment() -> dict[str, str]:
    """Return this process's environment without AWS_, CDK_ and LLM_DEPLOY_ variables."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "CDK_", ENV_PREFIX))
    }
    environment.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            "CDK_DEFAULT_ACCOUNT": "123456789012",
            "CDK_DEFAULT_REGION": "eu-west-1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        }
    )
    return environment


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Run `cdk synth` and the check command once each on the same invalid file."""
    directory = tmp_path_factory.mktemp("synth")
    path = directory / "invalid.yaml"
    path.write_text(yaml.safe_dump(INVALID_CONFIG), encoding="utf-8")
    environment = offline_environment()

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
