"""The stack of one stage: the endpoint, its autoscaling, its smoke tests and its outputs."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from deploy_config import Deployment
from infra.autoscaling import EndpointAutoscaling
from infra.llm_endpoint import LlmEndpoint
from infra.nag import acknowledge_endpoint_findings, acknowledge_smoke_test_findings
from infra.smoke_test.construct import SmokeTests


class LlmEndpointStack(Stack):
    """One stage's TGI endpoint on SageMaker, named after the stage."""

    def __init__(
        self, scope: Construct, construct_id: str, *, deployment: Deployment, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=(
                f"TGI endpoint for {deployment.config.model.id} ({deployment.stage} stage)"
            ),
            **kwargs,
        )

        self.llm_endpoint = LlmEndpoint(self, "LlmEndpoint", deployment=deployment)
        if deployment.config.autoscaling.enabled:
            EndpointAutoscaling(
                self,
                "Autoscaling",
                deployment=deployment,
                endpoint_name=self.llm_endpoint.endpoint_name,
            )

        acknowledge_endpoint_findings(self.llm_endpoint)
        self.smoke_tests = SmokeTests(
            self, "SmokeTests", deployment=deployment, llm_endpoint=self.llm_endpoint
        )
        acknowledge_smoke_test_findings(self.smoke_tests)
        for key, value in deployment.config.tags.items():
            Tags.of(self).add(key, value)

        CfnOutput(self, "EndpointName", value=self.llm_endpoint.endpoint_name)
        CfnOutput(self, "EndpointArn", value=self.llm_endpoint.endpoint.ref)
        CfnOutput(self, "ExecutionRoleArn", value=self.llm_endpoint.role.role_arn)
        CfnOutput(self, "Region", value=self.region)
