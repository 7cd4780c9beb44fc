"""Lambda handler of the deploy-time smoke test, which a CDK trigger invokes during a deploy.

The trigger runs once the endpoint is InService. An exception here makes the invocation
fail, the trigger's custom resource then fails, and CloudFormation rolls the deploy back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Lambda imports this file as a top-level module, with smoke_checks beside it. mypy checks
# the file inside the project, where smoke_checks has its package path.
if TYPE_CHECKING:
    from infra.smoke_test.runtime import smoke_checks
else:
    import smoke_checks


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Run both checks; raise ``ChecksFailedError`` naming every failed check."""
    request_id = str(getattr(context, "aws_request_id", "local"))
    settings = smoke_checks.Settings.from_environment()
    smoke_checks.log("deploy_check_started", settings, request_id)
    client = smoke_checks.runtime_client(settings)

    results = smoke_checks.run_checks(client, settings)
    for result in results:
        smoke_checks.log_result(result, settings, request_id)

    failures = [result for result in results if not result.passed]
    if failures:
        smoke_checks.log(
            "deploy_check_failed", settings, request_id, failed=[r.name for r in failures]
        )
        raise smoke_checks.ChecksFailedError(
            " | ".join(result.failure_message(settings.endpoint_name) for result in failures)
        )
    smoke_checks.log("deploy_check_passed", settings, request_id)
    return {
        "endpoint": settings.endpoint_name,
        "checks": {result.name: result.latency_ms for result in results},
    }
