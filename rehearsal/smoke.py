"""Run both smoke-test handlers in this process against the local SageMaker runtime.

moto deploys the smoke-test functions but cannot run their code without Docker, and its
CloudFormation cannot create the CDK trigger that runs the deploy check. The rehearsal
therefore deploys without the trigger and calls :func:`run_smoke_checks` instead, which
imports the handlers from ``infra/smoke_test/runtime`` as Lambda would and gives them the
environment the stack gives the functions.

Two things differ from a deployed function, and the output says so:

- the local runtime's model writes an extractive summary, never JSON, so every answer is
  the fixed text of a passing model, queued through the runtime's ``fixed_text`` fault;
- the local runtime answers TGI's ``grammar`` parameter as a TGI started with
  ``--disable-grammar-support`` does, so the structured-output check runs prompt-only.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from deploy_config import load_config, plan_deployment
from infra.smoke_test.environment import RUNTIME_DIR, handler_environment

# The answer of a model that passes both checks.
PASSING_ANSWER = '{"products": ["printer", "scanner", "router"]}'
# Two handlers, two checks each, one call per check when nothing fails.
QUEUED_ANSWERS = 4
CONTROL_TIMEOUT_S = 10


class SmokeCheckError(Exception):
    """Raised when a handler reports a failed check against the local runtime."""


def run_smoke_checks(
    endpoint_name: str,
    runtime_url: str,
    say: Callable[[str], None],
    *,
    stage: str = "dev",
    metrics_endpoint_url: str | None = None,
) -> None:
    """Run the deploy check and the canary once each against the runtime at ``runtime_url``.

    ``stage`` selects the config whose prompt family the handlers get. With
    ``metrics_endpoint_url`` (a moto server) the canary publishes its metrics there;
    without it the canary publishes none. Raises ``SmokeCheckError`` when a check fails.
    """
    say(
        "moto cannot run Lambda code without Docker, so the handlers run in this process "
        "against the local SageMaker runtime"
    )
    deployment = plan_deployment(load_config(stage=stage))
    environment = handler_environment(deployment, endpoint_name)
    environment["USE_GRAMMAR"] = "false"
    say(
        "the local runtime does not simulate grammar-constrained generation, so the "
        "structured-output check runs prompt-only; its answers are a queued fixed JSON "
        "text, because the runtime's model writes summaries"
    )
    queue_fixed_answers(runtime_url, endpoint_name, PASSING_ANSWER, QUEUED_ANSWERS)

    overrides = {
        **environment,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": deployment.config.region,
        "AWS_DEFAULT_REGION": deployment.config.region,
    }
    with patched_environment(overrides), handler_modules() as modules:
        smoke_checks, deploy_check, canary = modules
        context = LocalContext("rehearsal-deploy-check")
        try:
            deploy_check.handler({}, context)
        except smoke_checks.ChecksFailedError as failure:
            raise SmokeCheckError(f"deploy check failed: {failure}") from failure
        say(f"deploy check passed on {endpoint_name}")

        settings = smoke_checks.Settings.from_environment()
        cloudwatch = None
        if metrics_endpoint_url is not None:
            import boto3

            cloudwatch = boto3.client("cloudwatch", endpoint_url=metrics_endpoint_url)
        result = canary.run_canary(
            settings,
            "rehearsal-canary",
            smoke_checks.runtime_client(settings),
            cloudwatch,
            environment["METRICS_NAMESPACE"],
        )
        if not result["passed"]:
            raise SmokeCheckError(f"canary failed: {json.dumps(result['checks'])}")
        where = (
            f"published its metrics to {metrics_endpoint_url}"
            if cloudwatch is not None
            else "published no metrics (no metrics endpoint given)"
        )
        say(f"canary passed on {endpoint_name} and {where}")


class LocalContext:
    """The part of Lambda's context object that the handlers read."""

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id


def queue_fixed_answers(runtime_url: str, endpoint_name: str, text: str, count: int) -> None:
    """Make the runtime answer the next ``count`` invocations of the endpoint with ``text``."""
    body = json.dumps(
        {"faults": {"fixed_text": text}, "count": count, "endpoint": endpoint_name}
    ).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - the local runtime's URL, given by the caller
        f"{runtime_url}/_rehearsal/faults",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=CONTROL_TIMEOUT_S) as response:  # noqa: S310
        if response.status != 201:
            raise SmokeCheckError(
                f"the local runtime rejected the fixed answers with HTTP {response.status}"
            )


@contextmanager
def patched_environment(overrides: dict[str, str]) -> Iterator[None]:
    """Set ``overrides`` in ``os.environ`` and restore every changed variable afterwards."""
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def handler_modules() -> Iterator[tuple[Any, ...]]:
    """Import the handler modules by file name, as Lambda does, and undo the path change."""
    added = str(RUNTIME_DIR) not in sys.path
    if added:
        sys.path.insert(0, str(RUNTIME_DIR))
    try:
        modules: list[ModuleType] = [
            importlib.import_module(name) for name in ("smoke_checks", "deploy_check", "canary")
        ]
        yield tuple(modules)
    finally:
        if added:
            sys.path.remove(str(RUNTIME_DIR))
