"""A scripted judge, fake AWS settings and one local SageMaker runtime per module."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from inference.base import Generation, GenerationParameters, InferenceClient
from rehearsal.runtime import LocalRuntime


class ScriptedClient(InferenceClient):
    """An InferenceClient that returns scripted replies in order and records every prompt."""

    def __init__(self, replies: Sequence[str] | Callable[[str], str], name: str = "judge") -> None:
        self.endpoint_name = name
        self._replies = replies
        self.prompts: list[str] = []

    def generate(self, prompt: str, parameters: GenerationParameters | None = None) -> Generation:
        self.prompts.append(prompt)
        if callable(self._replies):
            text = self._replies(prompt)
        else:
            text = self._replies[len(self.prompts) - 1]
        return Generation(
            text=text, finish_reason="eos_token", generated_tokens=1, input_tokens=None
        )

    def stream(self, prompt: str, parameters: GenerationParameters | None = None) -> Iterator[str]:
        yield self.generate(prompt, parameters).text


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's AWS settings out; every request goes to a runtime on 127.0.0.1."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "LLM_CLIENT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    # A closed port, so a client built without the runtime fails at once.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://127.0.0.1:9")


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime() as running:
        yield running


@pytest.fixture
def runtime_url(runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    runtime.clear_faults()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", runtime.endpoint_url)
    yield runtime.endpoint_url
    runtime.clear_faults()
