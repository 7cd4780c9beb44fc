"""Baseline app for benchmarks/synth.py that declares the dev stack in plain aws-cdk-lib.

Every value is hard-coded from the dev profile, and the app loads no config, runs no
validation and adds no cdk-nag checks, so its synth time is the cost of aws-cdk-lib alone
for this template. It uses the package's construct levels: L1 resources for the endpoint and
autoscaling, and L2 constructs with a CDK trigger for the smoke tests. The timing difference
is therefore the package's own code rather than a different choice of constructs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import triggers
from constructs import Construct

REGION = "eu-west-1"
ENDPOINT_NAME = "llm-endpoint-dev"
VARIANT_NAME = "AllTraffic"
LOG_RETENTION_DAYS = 14
IMAGE_REPOSITORY_ARN = (
    "arn:aws:ecr:eu-west-1:763104351884:repository/huggingface-pytorch-tgi-inference"
)
IMAGE_URI = (
    "763104351884.dkr.ecr.eu-west-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
    "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
)

# The package's handler directory, so that both apps stage and hash the same asset.
SMOKE_TEST_RUNTIME_DIR = Path(__file__).resolve().parent.parent / "infra" / "smoke_test" / "runtime"
SMOKE_TEST_METRICS_NAMESPACE = "LlmEndpoint/SmokeTest"
# The function timeout is lambda_timeout_s() of infra/smoke_test/environment.py, and the
# trigger waits 30 s longer for the function's response.
SMOKE_TEST_TIMEOUT_S = 164
TRIGGER_TIMEOUT_S = 194
CANARY_RATE_MINUTES = 15
ALARM_PERIODS = 2
# The id under which aws-cdk-lib 2.275 puts the one trigger provider of a stack.
TRIGGER_PROVIDER_ID = "AWSCDK.TriggerCustomResourceProviderCustomResourceProvider"


@dataclass
class Endpoint:
    """The endpoint resources that the autoscaling, smoke tests and outputs refer to."""

    role: iam.Role
    endpoint_config: sagemaker.CfnEndpointConfig
    endpoint: sagemaker.CfnEndpoint


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
    endpoint = add_endpoint(Construct(stack, "LlmEndpoint"))
    add_autoscaling(Construct(stack, "Autoscaling"), endpoint)
    add_smoke_tests(Construct(stack, "SmokeTests"), endpoint)

    for key, value in {"project": "llm-endpoint", "stage": "dev"}.items():
        cdk.Tags.of(stack).add(key, value)

    cdk.CfnOutput(stack, "EndpointName", value=endpoint.endpoint.attr_endpoint_name)
    cdk.CfnOutput(stack, "EndpointArn", value=endpoint.endpoint.ref)
    cdk.CfnOutput(stack, "ExecutionRoleArn", value=endpoint.role.role_arn)
    cdk.CfnOutput(stack, "Region", value=stack.region)
    return stack


def add_endpoint(scope: Construct) -> Endpoint:
    """Declare the log group, execution role, model, endpoint config and endpoint."""
    log_group = logs.CfnLogGroup(
        scope,
        "LogGroup",
        log_group_name=f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}",
        retention_in_days=LOG_RETENTION_DAYS,
    )
    log_group.apply_removal_policy(cdk.RemovalPolicy.DESTROY)

    role = iam.Role(
        scope,
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
        scope,
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
    model.node.add_dependency(role.node.find_child("DefaultPolicy"))

    endpoint_config = sagemaker.CfnEndpointConfig(
        scope,
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
        scope,
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
    return Endpoint(role=role, endpoint_config=endpoint_config, endpoint=endpoint)


def add_autoscaling(scope: Construct, endpoint: Endpoint) -> None:
    """Declare the scalable target and the target-tracking policy of the variant."""
    scalable_target = appscaling.CfnScalableTarget(
        scope,
        "ScalableTarget",
        service_namespace="sagemaker",
        resource_id=f"endpoint/{endpoint.endpoint.attr_endpoint_name}/variant/{VARIANT_NAME}",
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        min_capacity=1,
        max_capacity=2,
    )
    appscaling.CfnScalingPolicy(
        scope,
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


def add_smoke_tests(scope: Construct, endpoint: Endpoint) -> None:
    """Declare the deploy check with its trigger, and the canary with its schedule and alarm."""
    environment = {
        "ENDPOINT_NAME": endpoint.endpoint.attr_endpoint_name,
        "PROMPT_FAMILY": "mistral-instruct",
        "USE_GRAMMAR": "true",
        "CONNECT_TIMEOUT_S": "5",
        "READ_TIMEOUT_S": "30",
        "MAX_ATTEMPTS": "2",
        "METRICS_NAMESPACE": SMOKE_TEST_METRICS_NAMESPACE,
    }

    deploy_check = add_smoke_test_function(
        scope,
        "DeployCheck",
        "deploy_check.handler",
        f"Runs the deploy-time smoke checks of SageMaker endpoint {ENDPOINT_NAME}",
        endpoint,
        environment,
    )
    trigger = triggers.Trigger(
        scope,
        "DeployCheckTrigger",
        handler=deploy_check,
        invocation_type=triggers.InvocationType.REQUEST_RESPONSE,
        timeout=cdk.Duration.seconds(TRIGGER_TIMEOUT_S),
        execute_after=[endpoint.endpoint],
    )
    provider = cdk.Stack.of(scope).node.find_child(TRIGGER_PROVIDER_ID)
    add_cfn_lint_metadata(provider.node.find_child("Handler"))
    trigger_resource = trigger.node.find_child("Default").node.default_child
    assert isinstance(trigger_resource, cdk.CfnResource)
    trigger_resource.add_property_override(
        "EndpointConfigName", endpoint.endpoint_config.attr_endpoint_config_name
    )

    canary = add_smoke_test_function(
        scope,
        "Canary",
        "canary.handler",
        f"Runs the scheduled smoke checks of SageMaker endpoint {ENDPOINT_NAME}",
        endpoint,
        environment,
    )
    canary.add_to_role_policy(
        iam.PolicyStatement(
            sid="PutSmokeTestMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": SMOKE_TEST_METRICS_NAMESPACE}},
        )
    )
    events.Rule(
        scope,
        "CanarySchedule",
        description=f"Runs the smoke-test canary of {ENDPOINT_NAME}",
        schedule=events.Schedule.rate(cdk.Duration.minutes(CANARY_RATE_MINUTES)),
        targets=[targets.LambdaFunction(canary, retry_attempts=0)],
    )

    key = kms.Key(
        scope,
        "AlarmTopicKey",
        description=f"Encrypts the smoke-test alarm topic of {ENDPOINT_NAME}",
        enable_key_rotation=True,
        removal_policy=cdk.RemovalPolicy.DESTROY,
        pending_window=cdk.Duration.days(7),
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarms",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        )
    )
    topic = sns.Topic(
        scope,
        "AlarmTopic",
        display_name=f"Smoke-test alarms of {ENDPOINT_NAME}",
        master_key=key,
        enforce_ssl=True,
    )

    success = cloudwatch.Metric(
        namespace=SMOKE_TEST_METRICS_NAMESPACE,
        metric_name="Success",
        dimensions_map={"EndpointName": endpoint.endpoint.attr_endpoint_name},
        statistic=cloudwatch.Stats.MINIMUM,
        period=cdk.Duration.minutes(CANARY_RATE_MINUTES),
    )
    alarm = success.create_alarm(
        scope,
        "CanaryAlarm",
        alarm_description=(
            f"The smoke-test canary of SageMaker endpoint {ENDPOINT_NAME} failed or did not"
            f" report in {ALARM_PERIODS} consecutive periods of {CANARY_RATE_MINUTES} minutes"
        ),
        threshold=1,
        comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluation_periods=ALARM_PERIODS,
        datapoints_to_alarm=ALARM_PERIODS,
        treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
    )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    alarm.add_ok_action(cloudwatch_actions.SnsAction(topic))


def add_smoke_test_function(
    scope: Construct,
    name: str,
    handler: str,
    description: str,
    endpoint: Endpoint,
    environment: dict[str, str],
) -> lambda_.Function:
    """Declare one smoke-test function with its own log group and role."""
    log_group = logs.LogGroup(scope, f"{name}Logs", removal_policy=cdk.RemovalPolicy.DESTROY)
    cfn_log_group = log_group.node.default_child
    assert isinstance(cfn_log_group, logs.CfnLogGroup)
    cfn_log_group.retention_in_days = LOG_RETENTION_DAYS

    role = iam.Role(
        scope,
        f"{name}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
        max_session_duration=cdk.Duration.hours(1),
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="InvokeThisEndpoint",
            actions=["sagemaker:InvokeEndpoint"],
            resources=[endpoint.endpoint.ref],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteFunctionLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    function = lambda_.Function(
        scope,
        name,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler=handler,
        code=lambda_.Code.from_asset(str(SMOKE_TEST_RUNTIME_DIR), exclude=["__pycache__", "*.pyc"]),
        role=role,
        description=description,
        environment=environment,
        timeout=cdk.Duration.seconds(SMOKE_TEST_TIMEOUT_S),
        memory_size=256,
        log_group=log_group,
    )
    add_cfn_lint_metadata(function.node.default_child)
    return function


def add_cfn_lint_metadata(resource: object) -> None:
    """Add the cfn-lint W3005 exception that the package adds to each Lambda function."""
    assert isinstance(resource, cdk.CfnResource)
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})


def main() -> None:
    app = cdk.App()
    build_stack(app)
    app.synth()


if __name__ == "__main__":
    main()
