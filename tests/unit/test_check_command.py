"""`python -m deploy_config check FILE` run as a user runs it, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deploy_config.errors import HF_TOKEN_PATTERN
from deploy_config.images import tgi_image_uri
from deploy_config.settings import ENV_PREFIX

WriteConfig = Callable[[dict[str, Any]], Path]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FAKE_TOKEN = "hf_" + "abcdefghij" * 3 + "wxyz"


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)
    }
    return subprocess.run(
        [sys.executable, "-m", "deploy_config", "check", str(path)],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def output_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_valid_file_exits_zero(write_config: WriteConfig) -> None:
    result = run_check(write_config({"tgi": {"max_batch_prefill_tokens": 4096}}))

    assert result.returncode == 0
    assert result.stderr == ""


def test_valid_file_prints_image(write_config: WriteConfig) -> None:
    result = run_check(write_config({"region": "us-east-1"}))

    assert f"image:       {tgi_image_uri('3.3.6', 'us-east-1')}" in output_lines(result.stdout)


def test_valid_file_prints_environment(write_config: WriteConfig) -> None:
    result = run_check(write_config({"tgi": {"max_batch_prefill_tokens": 4096}}))
    lines = output_lines(result.stdout)

    assert "container environment:" in lines
    assert "HF_MODEL_ID=mistralai/Mistral-7B-Instruct-v0.2" in lines
    assert "MAX_BATCH_PREFILL_TOKENS=4096" in lines
    assert (
        "HF_TOKEN=**** (from Secrets Manager secret 'hugging-face/hub-token' at deploy time)"
        in lines
    )


def test_valid_file_prints_no_token(write_config: WriteConfig) -> None:
    result = run_check(write_config({}))

    assert HF_TOKEN_PATTERN.search(result.stdout) is None


def test_valid_file_prints_memory_and_price(write_config: WriteConfig) -> None:
    result = run_check(write_config({}))
    lines = output_lines(result.stdout)

    assert (
        "GPU memory:  estimated 16.0 GiB (weights 13.5, KV cache 0.5 for 4096 tokens, "
        "overhead 2.0) against 24.0 GiB on 1 GPU"
    ) in lines
    assert any(
        line.startswith("price:       $1.51/h on demand for 1 instance(s)") for line in lines
    )


def test_invalid_file_exits_two(write_config: WriteConfig) -> None:
    path = write_config({"tgi": {"max_total_tokens": 3000}, "autoscaling": {"min_capacity": 3}})

    result = run_check(path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_invalid_file_one_line_each(write_config: WriteConfig) -> None:
    path = write_config({"tgi": {"max_total_tokens": 3000}, "autoscaling": {"min_capacity": 3}})

    result = run_check(path)

    assert result.stderr.splitlines() == [
        "error: tgi.max_input_tokens: must be less than tgi.max_total_tokens (3000), got 3072; "
        "lower it or raise max_total_tokens",
        "error: autoscaling.min_capacity: must be at most endpoint.initial_instance_count (1), "
        "got 3",
    ]


def test_token_in_tags_never_printed(write_config: WriteConfig) -> None:
    result = run_check(write_config({"tags": {"owner": FAKE_TOKEN}}))

    assert result.returncode == 2
    assert FAKE_TOKEN not in result.stdout
    assert FAKE_TOKEN not in result.stderr
    assert "Traceback" not in result.stderr


def test_token_in_tags_reported_masked(write_config: WriteConfig) -> None:
    result = run_check(write_config({"tags": {"owner": FAKE_TOKEN}}))

    assert result.stderr.splitlines() == [
        "error: tags.owner: looks like a Hugging Face token ('hf_****'); store the token in "
        "AWS Secrets Manager and set model.hf_token_secret to the secret's name or ARN"
    ]
