"""The smoke-test Lambdas' environment and time budget, computed from a deployment.

Kept apart from the CDK construct so that the rehearsal can run the handlers in-process
with the same environment without loading the CDK.
"""

from __future__ import annotations

from pathlib import Path

from deploy_config import Deployment
from deploy_config.validation import parse_version

RUNTIME_DIR = Path(__file__).parent / "runtime"
METRICS_NAMESPACE = "LlmEndpoint/SmokeTest"
# TGI 1.4.3 added the `grammar` generate parameter (TGI's guide "Guidance": "available
# starting from version 1.4.3").
GRAMMAR_MIN_TGI_VERSION = (1, 4, 3)

CONNECT_TIMEOUT_S = 5
# NOTE: an estimate, not a measurement. A 16- or 48-token generation should take a few
# seconds on a warm endpoint, and the rest is headroom for the first requests after a deploy.
READ_TIMEOUT_S = 30
# One retry, for throttling, 5xx responses and read timeouts.
MAX_ATTEMPTS = 2
CHECK_COUNT = 2
# botocore's standard retry mode waits at most this long before its one retry.
MAX_RETRY_BACKOFF_S = 2
# Time left after the last possible timeout to log the failure and, for the canary,
# publish its metrics, so that Lambda does not stop the function first.
REPORT_MARGIN_S = 20


def lambda_timeout_s() -> int:
    """Return the function timeout that covers every attempt of both checks and the report."""
    per_check = MAX_ATTEMPTS * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) + MAX_RETRY_BACKOFF_S
    return CHECK_COUNT * per_check + REPORT_MARGIN_S


def uses_grammar(deployment: Deployment) -> bool:
    return parse_version(deployment.config.tgi.version) >= GRAMMAR_MIN_TGI_VERSION


def handler_environment(deployment: Deployment, endpoint_name: str) -> dict[str, str]:
    """Build the environment both handlers read (``smoke_checks.Settings``)."""
    return {
        "ENDPOINT_NAME": endpoint_name,
        "PROMPT_FAMILY": deployment.facts.prompt_family,
        "USE_GRAMMAR": "true" if uses_grammar(deployment) else "false",
        "CONNECT_TIMEOUT_S": str(CONNECT_TIMEOUT_S),
        "READ_TIMEOUT_S": str(READ_TIMEOUT_S),
        "MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "METRICS_NAMESPACE": METRICS_NAMESPACE,
    }
