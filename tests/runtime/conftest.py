"""Fixtures: fake AWS settings, one runtime per module and boto3 clients aimed at it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from rehearsal.runtime import LocalRuntime

ENDPOINT = "llm-endpoint-dev"
REGION = "eu-west-1"
DOCUMENT = (
    "The harbour bridge opened in 1932 after eight years of work. "
    "It carries rail, road and foot traffic between the two shores. "
    "Its arch spans five hundred metres. "
    "Painting it takes a crew of twelve about ten years."
)
PROMPT = f"[INST] <<SYS>>You summarize.<</SYS>>\n\nSummarize this text.\n\n{DOCUMENT} [/INST]"

ClientFactory = Callable[..., Any]


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep every AWS setting of the developer's shell out, and no metadata lookups."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime(endpoints=[ENDPOINT]) as running:
        yield running


@pytest.fixture(autouse=True)
def empty_fault_queue(request: pytest.FixtureRequest) -> None:
    if "runtime" in request.fixturenames:
        request.getfixturevalue("runtime").clear_faults()


def make_client(endpoint_url: str, max_attempts: int = 1) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": max_attempts, "mode": "standard"}),
    )


@pytest.fixture
def client(runtime: LocalRuntime) -> Any:
    """A client that does not retry, so each call shows the first response."""
    return make_client(runtime.endpoint_url)
