"""cdk-nag AwsSolutions findings this package accepts, each with its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations

from infra.llm_endpoint import LlmEndpoint
from infra.smoke_test.construct import SmokeTests


def acknowledge_endpoint_findings(endpoint: LlmEndpoint) -> None:
    Validations.of(endpoint.role).acknowledge(
        Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            reason=(
                "ecr:GetAuthorizationToken has no resource-level permissions, and "
                "cloudwatch:PutMetricData is limited by a condition on the endpoint "
                "metrics namespace instead"
            ),
        ),
    )


def acknowledge_smoke_test_findings(smoke_tests: SmokeTests) -> None:
    for function in smoke_tests.functions:
        Validations.of(function).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-L1",
                reason=(
                    "the handlers are pinned to the Python 3.13 runtime they were written "
                    "for; a newer runtime is adopted by changing HANDLER_RUNTIME after the "
                    "handlers have run on it"
                ),
            ),
        )
    if smoke_tests.canary is not None and smoke_tests.canary.role is not None:
        Validations.of(smoke_tests.canary.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "cloudwatch:PutMetricData has no resource-level permissions; a "
                    "condition limits it to the smoke-test metrics namespace"
                ),
            ),
        )
