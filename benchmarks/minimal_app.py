"""Baseline app for benchmarks/synth.py that declares the dev stack in plain aws-cdk-lib.

Every value is hard-coded from the dev profile, and the app loads no config, runs no
validation and adds no cdk-nag checks, so its synth time is the cost of aws-cdk-lib alone
for this template. It builds the same constructs as the package (the ``iam.Role`` L2
construct and L1 resources for the rest) so that the timing difference is the package's
own code rather than a different choice of constructs.
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

REGION = "eu-west-1"
ENDPOINT_NAME = "llm-endpoint-dev"
VARIANT_NAME = "AllTraffic"
IMAGE_REPOSITORY_ARN = (
    "arn:aws:ecr:eu-west-1:763104351884:repository/huggingface-pytorch-tgi-inference"
)
IMAGE_URI = (
    "763104351884.dkr.ecr.eu-west-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
    "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
)


def build_stack(app: cdk.App) -> cdk.Stack:
    """Declare the dev stack's resources and outputs with the dev profile's values."""
    stack = cdk.Stack(
        app,
        "SynthBenchmarkMinimal",
        description="TGI endpoint for mistralai/Mistral-7B-Instruct-v0.2 (dev stage)",
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=REGION),
    )
    # The same construct ids as the package give the same logical ids, which keeps the
    # two templates easy to compare by eye.
    endpoint_scope = Construct(stack, "LlmEndpoint")

    log_group = logs.CfnLogGroup(
        endpoint_scope,
        "LogGroup",
        log_group_name=f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}",
        retention_in_days=14,
    )
    log_group.apply_removal_policy(cdk.RemovalPolicy.DESTROY)

    role = iam.Role(
        endpoint_scope,
        "ExecutionRole",
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description=f"Runs the TGI container of SageMaker endpoint {ENDPOINT_NAME}",
        max_session_duration=cdk.Duration.hours(1),
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PullTgiImage",
            actions=[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            resources=[IMAGE_REPOSITORY_ARN],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="GetEcrToken", actions=["ecr:GetAuthorizationToken"], resources=["*"]
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteEndpointLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[log_group.attr_arn],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PutEndpointMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}},
        )
    )

    model = sagemaker.CfnModel(
        endpoint_scope,
        "Model",
        execution_role_arn=role.role_arn,
        primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
            image=IMAGE_URI,
            mode="SingleModel",
            environment={
                "HF_MODEL_ID": "mistralai/Mistral-7B-Instruct-v0.2",
                "HF_TOKEN": "{{resolve:secretsmanager:hugging-face/hub-token:SecretString:::}}",
                "MAX_INPUT_TOKENS": "3072",
                "MAX_TOTAL_TOKENS": "4096",
                "SM_NUM_GPUS": "1",
            },
        ),
    )
    model.node.add_dependency(role)

    endpoint_config = sagemaker.CfnEndpointConfig(
        endpoint_scope,
        "EndpointConfig",
        production_variants=[
            sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT_NAME,
                model_name=model.attr_model_name,
                instance_type="ml.g5.2xlarge",
                initial_instance_count=1,
                initial_variant_weight=1.0,
                container_startup_health_check_timeout_in_seconds=600,
                model_data_download_timeout_in_seconds=600,
            )
        ],
    )

    endpoint = sagemaker.CfnEndpoint(
        endpoint_scope,
        "Endpoint",
        endpoint_name=ENDPOINT_NAME,
        endpoint_config_name=endpoint_config.attr_endpoint_config_name,
        retain_all_variant_properties=True,
        exclude_retained_variant_properties=[
            sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type=name)
            for name in ("DesiredWeight", "DataCaptureConfig")
        ],
    )
    endpoint.node.add_dependency(log_group)

    autoscaling_scope = Construct(stack, "Autoscaling")
    scalable_target = appscaling.CfnScalableTarget(
        autoscaling_scope,
        "ScalableTarget",
        service_namespace="sagemaker",
        resource_id=f"endpoint/{endpoint.attr_endpoint_name}/variant/{VARIANT_NAME}",
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        min_capacity=1,
        max_capacity=2,
    )
    appscaling.CfnScalingPolicy(
        autoscaling_scope,
        "InvocationsPerInstance",
        policy_name=f"{ENDPOINT_NAME}-invocations-per-instance",
        policy_type="TargetTrackingScaling",
        scaling_target_id=scalable_target.ref,
        target_tracking_scaling_policy_configuration=(
            appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=20,
                predefined_metric_specification=(
                    appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                        predefined_metric_type="SageMakerVariantInvocationsPerInstance",
                    )
                ),
                scale_in_cooldown=900,
                scale_out_cooldown=600,
            )
        ),
    )

    for key, value in {"project": "llm-endpoint", "stage": "dev"}.items():
        cdk.Tags.of(stack).add(key, value)

    cdk.CfnOutput(stack, "EndpointName", value=endpoint.attr_endpoint_name)
    cdk.CfnOutput(stack, "EndpointArn", value=endpoint.ref)
    cdk.CfnOutput(stack, "ExecutionRoleArn", value=role.role_arn)
    cdk.CfnOutput(stack, "Region", value=stack.region)
    return stack


def main() -> None:
    app = cdk.App()
    build_stack(app)
    app.synth()


if __name__ == "__main__":
    main()
