"""Fixtures: the handlers imported as Lambda imports them, fake AWS settings and local servers.

The handlers run in this process with unmocked boto3 against the local SageMaker runtime
and, for metrics, an in-process moto server, both on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.smoke_test.environment import RUNTIME_DIR
from rehearsal.runtime import Faults, LocalRuntime

# Lambda puts the package root on sys.path and imports the handler modules by their file
# names, and the handlers import `smoke_checks` the same way.
if str(RUNTIME_DIR) not in sys.path:
    sys.path.insert(0, str(RUNTIME_DIR))

ENDPOINT = "llm-endpoint-dev"
REGION = "eu-west-1"
PASSING_JSON = '{"products": ["printer", "scanner", "router"]}'


@dataclass(frozen=True)
class FakeContext:
    """The one attribute of Lambda's context object that the handlers read."""

    aws_request_id: str = "test-request-0001"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep every AWS setting of the developer's shell out, and no metadata lookups."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime(endpoints=[ENDPOINT]) as running:
        yield running


@pytest.fixture
def handler_env(runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Set the handlers' environment as the construct does for a Mistral endpoint.

    Grammar is off because the local runtime answers a `grammar` parameter as a TGI
    started with --disable-grammar-support does; tests that send it turn it on.
    """
    runtime.clear_faults()
    settings = {
        "ENDPOINT_NAME": ENDPOINT,
        "PROMPT_FAMILY": "mistral-instruct",
        "USE_GRAMMAR": "false",
        "CONNECT_TIMEOUT_S": "2",
        "READ_TIMEOUT_S": "5",
        "MAX_ATTEMPTS": "2",
        "METRICS_NAMESPACE": "LlmEndpoint/SmokeTest",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime.endpoint_url,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def queue_answers(runtime: LocalRuntime, *answers: Faults) -> None:
    """Queue one fault set per invocation, in the order the checks call the endpoint."""
    for faults in answers:
        runtime.add_faults(faults, count=1, endpoint=ENDPOINT)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def cloudwatch_client(moto_url: str) -> Any:
    return boto3.client(
        "cloudwatch",
        region_name=REGION,
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
