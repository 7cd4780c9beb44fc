"""cdk-nag AwsSolutions findings this package accepts, each with its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations

from infra.llm_endpoint import LlmEndpoint


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
