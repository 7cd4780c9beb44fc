"""Template assertions for the endpoint stack: every resource and the properties that matter."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from deploy_config.plan import token_reference
from tests.infra.conftest import synth_template

SMOKE_TEST_ID_PREFIXES = ("SmokeTests", "AWSCDKTrigger")
DLC_REPOSITORY_ARN = (
    "arn:aws:ecr:eu-west-1:763104351884:repository/huggingface-pytorch-tgi-inference"
)
CUSTOM_REPOSITORY_ARN = "arn:aws:ecr:eu-west-1:111122223333:repository/team/tgi"
TGI_IMAGE = (
    "763104351884.dkr.ecr.eu-west-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
    "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
)


def test_resource_counts(dev_template: Template) -> None:
    dev_template.resource_count_is("AWS::SageMaker::Model", 1)
    dev_template.resource_count_is("AWS::SageMaker::EndpointConfig", 1)
    dev_template.resource_count_is("AWS::SageMaker::Endpoint", 1)
    # One role and log group for the endpoint, one of each for the two smoke-test
    # functions, and the CDK trigger provider's role; tests/smoke_test checks those.
    dev_template.resource_count_is("AWS::IAM::Role", 4)
    dev_template.resource_count_is("AWS::Logs::LogGroup", 3)
    dev_template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 1)
    dev_template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 1)


def test_model_image_and_environment(dev_template: Template) -> None:
    dev_template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                "Image": TGI_IMAGE,
                "Mode": "SingleModel",
                "Environment": {
                    "HF_MODEL_ID": "mistralai/Mistral-7B-Instruct-v0.2",
                    "SM_NUM_GPUS": "1",
                    "MAX_INPUT_TOKENS": "3072",
                    "MAX_TOTAL_TOKENS": "4096",
                    "HF_TOKEN": token_reference("hugging-face/hub-token"),
                },
            },
        },
    )


def test_model_has_no_fixed_name(dev_template: Template) -> None:
    dev_template.has_resource_properties("AWS::SageMaker::Model", {"ModelName": Match.absent()})
    dev_template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig", {"EndpointConfigName": Match.absent()}
    )


def test_optional_environment_only_when_set() -> None:
    template = synth_template(
        stage="dev",
        model={"revision": "abc123", "quantize": "eetq", "hf_token_secret": "hub-token"},
        tgi={"max_batch_prefill_tokens": 4096, "max_batch_total_tokens": 8192},
    )

    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                "Environment": {
                    "HF_MODEL_REVISION": "abc123",
                    "HF_MODEL_QUANTIZE": "eetq",
                    "MAX_BATCH_PREFILL_TOKENS": "4096",
                    "MAX_BATCH_TOTAL_TOKENS": "8192",
                }
            }
        },
    )


def test_unset_optional_environment_absent(dev_template: Template) -> None:
    dev_template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                "Environment": {
                    "HF_MODEL_REVISION": Match.absent(),
                    "HF_MODEL_QUANTIZE": Match.absent(),
                    "MAX_BATCH_PREFILL_TOKENS": Match.absent(),
                    "MAX_BATCH_TOTAL_TOKENS": Match.absent(),
                }
            }
        },
    )


def test_endpoint_config_variant(dev_template: Template) -> None:
    dev_template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "InstanceType": "ml.g5.2xlarge",
                    "InitialInstanceCount": 1,
                    "InitialVariantWeight": 1,
                    "ContainerStartupHealthCheckTimeoutInSeconds": 600,
                    "ModelDataDownloadTimeoutInSeconds": 600,
                    "VolumeSizeInGB": Match.absent(),
                    "ModelName": {"Fn::GetAtt": [Match.any_value(), "ModelName"]},
                }
            ]
        },
    )


def test_configured_timeouts_reach_variant() -> None:
    template = synth_template(
        stage="dev",
        endpoint={"startup_health_check_timeout_s": 1800, "model_download_timeout_s": 1200},
    )

    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like(
                    {
                        "ContainerStartupHealthCheckTimeoutInSeconds": 1800,
                        "ModelDataDownloadTimeoutInSeconds": 1200,
                    }
                )
            ]
        },
    )


def test_endpoint_keeps_scaled_instance_count(dev_template: Template) -> None:
    dev_template.has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "EndpointName": "llm-endpoint-dev",
            "EndpointConfigName": {"Fn::GetAtt": [Match.any_value(), "EndpointConfigName"]},
            "RetainAllVariantProperties": True,
            "ExcludeRetainedVariantProperties": [
                {"VariantPropertyType": "DesiredWeight"},
                {"VariantPropertyType": "DataCaptureConfig"},
            ],
        },
    )


def test_endpoint_created_after_log_group(dev_template: Template) -> None:
    log_group_id = _logical_id(dev_template, "AWS::Logs::LogGroup")

    dev_template.has_resource(
        "AWS::SageMaker::Endpoint", {"DependsOn": Match.array_with([log_group_id])}
    )


def test_execution_role_trusts_sagemaker(dev_template: Template) -> None:
    dev_template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "sagemaker.amazonaws.com"},
                    }
                ]
            },
            "ManagedPolicyArns": Match.absent(),
        },
    )


def test_execution_role_policy_is_scoped(dev_template: Template) -> None:
    log_group_id = _logical_id(dev_template, "AWS::Logs::LogGroup")

    dev_template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Sid": "PullTgiImage",
                        "Effect": "Allow",
                        "Action": [
                            "ecr:BatchCheckLayerAvailability",
                            "ecr:BatchGetImage",
                            "ecr:GetDownloadUrlForLayer",
                        ],
                        "Resource": DLC_REPOSITORY_ARN,
                    },
                    {
                        "Sid": "GetEcrToken",
                        "Effect": "Allow",
                        "Action": "ecr:GetAuthorizationToken",
                        "Resource": "*",
                    },
                    {
                        "Sid": "WriteEndpointLogs",
                        "Effect": "Allow",
                        "Action": [
                            "logs:CreateLogStream",
                            "logs:PutLogEvents",
                            "logs:DescribeLogStreams",
                        ],
                        "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
                    },
                    {
                        "Sid": "PutEndpointMetrics",
                        "Effect": "Allow",
                        "Action": "cloudwatch:PutMetricData",
                        "Resource": "*",
                        "Condition": {
                            "StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}
                        },
                    },
                ],
            },
        },
    )


def test_role_never_reads_token_secret(dev_template: Template) -> None:
    policies = dev_template.find_resources("AWS::IAM::Policy")

    assert "secretsmanager" not in str(policies)


def test_custom_image_repository_in_policy() -> None:
    template = synth_template(
        stage="dev",
        tgi={"image_uri": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/tgi:3.3.6-custom"},
    )

    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "PullTgiImage",
                                "Resource": CUSTOM_REPOSITORY_ARN,
                            }
                        )
                    ]
                )
            }
        },
    )


def test_dev_log_group_removed_with_stack(dev_template: Template) -> None:
    dev_template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {
                "LogGroupName": "/aws/sagemaker/Endpoints/llm-endpoint-dev",
                "RetentionInDays": 14,
            },
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
        },
    )


def test_prod_log_group_kept_on_delete(prod_template: Template) -> None:
    prod_template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {
                "LogGroupName": "/aws/sagemaker/Endpoints/llm-endpoint-prod",
                "RetentionInDays": 365,
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_scalable_target_on_endpoint_variant(dev_template: Template) -> None:
    endpoint_id = _logical_id(dev_template, "AWS::SageMaker::Endpoint")

    dev_template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "ServiceNamespace": "sagemaker",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MinCapacity": 1,
            "MaxCapacity": 2,
            "ResourceId": {
                "Fn::Join": [
                    "",
                    [
                        "endpoint/",
                        {"Fn::GetAtt": [endpoint_id, "EndpointName"]},
                        "/variant/AllTraffic",
                    ],
                ]
            },
            # Without RoleARN, Application Auto Scaling uses its service-linked role.
            "RoleARN": Match.absent(),
        },
    )


def test_scaling_policy_tracks_invocations(prod_template: Template) -> None:
    target_id = _logical_id(prod_template, "AWS::ApplicationAutoScaling::ScalableTarget")

    prod_template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "ScalingTargetId": {"Ref": target_id},
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 20,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
                "ScaleInCooldown": 1800,
                "ScaleOutCooldown": 600,
            },
        },
    )


def test_configured_scaling_target_value() -> None:
    template = synth_template(
        stage="dev",
        autoscaling={"target_invocations_per_instance": 45, "scale_out_cooldown_s": 120},
    )

    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {"TargetValue": 45, "ScaleOutCooldown": 120}
            )
        },
    )


def test_autoscaling_can_be_turned_off() -> None:
    template = synth_template(stage="dev", autoscaling={"enabled": False})

    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 0)
    template.resource_count_is("AWS::SageMaker::Endpoint", 1)


def test_outputs(dev_template: Template) -> None:
    endpoint_id = _logical_id(dev_template, "AWS::SageMaker::Endpoint")
    role_id = _logical_id(dev_template, "AWS::IAM::Role")

    dev_template.has_output(
        "EndpointName", {"Value": {"Fn::GetAtt": [endpoint_id, "EndpointName"]}}
    )
    dev_template.has_output("EndpointArn", {"Value": {"Ref": endpoint_id}})
    dev_template.has_output("ExecutionRoleArn", {"Value": {"Fn::GetAtt": [role_id, "Arn"]}})
    dev_template.has_output("Region", {"Value": "eu-west-1"})


def test_config_tags_on_taggable_resources(dev_template: Template) -> None:
    expected_tags = Match.array_with(
        [{"Key": "project", "Value": "llm-endpoint"}, {"Key": "stage", "Value": "dev"}]
    )

    for resource_type in (
        "AWS::SageMaker::Model",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::Endpoint",
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
    ):
        dev_template.has_resource_properties(resource_type, {"Tags": expected_tags})


def _logical_id(template: Template, resource_type: str) -> str:
    """Return the one logical id of a type outside the smoke tests, found by type.

    The smoke tests' resources and the CDK trigger provider's have ids that start with
    their constructs' ids, so they are left out here.
    """
    resources = [
        name
        for name in template.find_resources(resource_type)
        if not name.startswith(SMOKE_TEST_ID_PREFIXES)
    ]
    assert len(resources) == 1, f"expected one {resource_type}, found {len(resources)}"
    return resources[0]
