"""Lambda handler of the smoke-test canary, which an EventBridge schedule invokes.

It runs the deploy check's two checks and publishes the outcome to CloudWatch, where an
alarm watches it. A failed check is a metric value, not an exception, so that Lambda's
own Errors metric keeps meaning a fault in this code.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import boto3

# Lambda imports this file as a top-level module, with smoke_checks beside it. mypy checks
# the file inside the project, where smoke_checks has its package path.
if TYPE_CHECKING:
    from infra.smoke_test.runtime import smoke_checks
else:
    import smoke_checks

SUCCESS_METRIC = "Success"
CHECK_SUCCESS_METRIC = "CheckSuccess"
LATENCY_METRIC = "Latency"


def handler(event: Any, context: Any) -> dict[str, Any]:
    request_id = str(getattr(context, "aws_request_id", "local"))
    settings = smoke_checks.Settings.from_environment()
    return run_canary(
        settings,
        request_id,
        smoke_checks.runtime_client(settings),
        boto3.client("cloudwatch"),
        metrics_namespace(),
    )


def metrics_namespace() -> str:
    namespace = os.environ.get("METRICS_NAMESPACE", "")
    if not namespace:
        raise smoke_checks.SettingsError(
            "the environment variable METRICS_NAMESPACE is missing or empty"
        )
    return namespace


def run_canary(
    settings: smoke_checks.Settings,
    request_id: str,
    client: Any,
    cloudwatch: Any | None,
    namespace: str,
) -> dict[str, Any]:
    """Run both checks and publish their metrics; ``cloudwatch=None`` publishes nothing.

    Returns the outcome of each check for the invocation's response.
    """
    smoke_checks.log("canary_started", settings, request_id)
    results = smoke_checks.run_checks(client, settings)
    for result in results:
        smoke_checks.log_result(result, settings, request_id)
    passed = all(result.passed for result in results)

    if cloudwatch is not None:
        cloudwatch.put_metric_data(
            Namespace=namespace, MetricData=metric_data(settings.endpoint_name, results)
        )
        smoke_checks.log(
            "metrics_published", settings, request_id, namespace=namespace, success=int(passed)
        )
    else:
        smoke_checks.log("metrics_skipped", settings, request_id, reason="no CloudWatch client")

    smoke_checks.log("canary_passed" if passed else "canary_failed", settings, request_id)
    return {
        "endpoint": settings.endpoint_name,
        "passed": passed,
        "checks": {
            result.name: {"passed": result.passed, "latency_ms": result.latency_ms}
            for result in results
        },
    }


def metric_data(
    endpoint_name: str, results: list[smoke_checks.CheckResult]
) -> list[dict[str, Any]]:
    """Build the canary's data points: overall success, and success and latency per check."""
    endpoint = {"Name": "EndpointName", "Value": endpoint_name}
    data: list[dict[str, Any]] = [
        {
            "MetricName": SUCCESS_METRIC,
            "Dimensions": [endpoint],
            "Value": 1.0 if all(result.passed for result in results) else 0.0,
            "Unit": "Count",
        }
    ]
    for result in results:
        dimensions = [endpoint, {"Name": "Check", "Value": result.name}]
        data.append(
            {
                "MetricName": CHECK_SUCCESS_METRIC,
                "Dimensions": dimensions,
                "Value": 1.0 if result.passed else 0.0,
                "Unit": "Count",
            }
        )
        data.append(
            {
                "MetricName": LATENCY_METRIC,
                "Dimensions": dimensions,
                "Value": result.latency_ms,
                "Unit": "Milliseconds",
            }
        )
    return data
