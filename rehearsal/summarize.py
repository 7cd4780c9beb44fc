"""The rehearsal's call path: the service, the client and the local SageMaker runtime.

After the stack is deployed into moto, a document goes through the same pieces an
application uses: ``python -m service`` in a child process, ``SageMakerTgiClient`` inside
it, and the local runtime at ``runtime_url``, which the caller starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deploy_config import Deployment
from rehearsal.local_aws import LocalAws, free_port

SAMPLE_DOCUMENT = Path(__file__).parent / "samples" / "gettysburg-address.txt"
SERVICE_START_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 60.0


class SummaryFailedError(Exception):
    """Raised when the service does not start or does not return a summary."""


@contextmanager
def running_service(
    aws: LocalAws, deployment: Deployment, runtime_url: str, log_path: Path
) -> Iterator[str]:
    """Run ``python -m service`` on a free 127.0.0.1 port and yield its base URL."""
    port = free_port()
    environment = aws.environment()
    environment.update(
        {
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime_url,
            "LLM_CLIENT_ENDPOINT_NAME": deployment.endpoint_name,
            "LLM_CLIENT_REGION": deployment.config.region,
            "LLM_CLIENT_MAX_INPUT_TOKENS": str(deployment.config.tgi.max_input_tokens),
            "LLM_CLIENT_MAX_TOTAL_TOKENS": str(deployment.config.tgi.max_total_tokens),
            "LLM_SERVICE_MODEL_ID": deployment.config.model.id,
        }
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_for_health(base_url, process, log_path)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def summarize_sample(
    aws: LocalAws,
    deployment: Deployment,
    runtime_url: str,
    work_dir: Path,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Summarize the sample document through the service and return the response body."""
    document = SAMPLE_DOCUMENT.read_text(encoding="utf-8")
    with running_service(aws, deployment, runtime_url, work_dir / "service.log") as url:
        say(f"service on {url}; summarizing {SAMPLE_DOCUMENT.name} ({len(document)} characters)")
        body = _post_json(f"{url}/summarize", {"document": document, "max_new_tokens": 80})
    say(f"summary ({body['finish_reason']}, {body['generated_tokens']} tokens): {body['summary']}")
    return body


def _post_json(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - a loopback URL built above
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:  # noqa: S310
            body: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise SummaryFailedError(
            f"POST {url} failed with HTTP {error.code}: {error.read()[:500]!r}"
        ) from error
    return body


def _wait_for_health(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVICE_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SummaryFailedError(
                f"the service exited with code {process.returncode}; see {log_path}"
            )
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2):  # noqa: S310
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise SummaryFailedError(
        f"the service did not respond on {base_url} within {SERVICE_START_TIMEOUT_S:.0f} s; "
        f"see {log_path}"
    )
