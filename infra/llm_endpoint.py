"""The SageMaker real-time endpoint that serves one model with TGI."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from deploy_config import Deployment
from deploy_config.images import parse_ecr_image
from deploy_config.plan import VARIANT_NAME, token_reference

# The namespace of the per-instance metrics (CPU, GPU and memory use) that an endpoint's
# instances publish through the execution role.
ENDPOINT_METRICS_NAMESPACE = "/aws/sagemaker/Endpoints"


class LlmEndpoint(Construct):
    """Execution role, model, endpoint config, endpoint and the endpoint's log group.

    The model and the endpoint config get names from CloudFormation, so that a new model or
    instance type creates new ones and then updates the endpoint in place. The endpoint and
    its log group have fixed names, because SageMaker writes to
    ``/aws/sagemaker/Endpoints/<endpoint name>`` and the group must exist before the
    endpoint starts.
    """

    def __init__(self, scope: Construct, construct_id: str, *, deployment: Deployment) -> None:
        super().__init__(scope, construct_id)
        config = deployment.config

        self.log_group = logs.CfnLogGroup(
            self,
            "LogGroup",
            log_group_name=deployment.log_group_name,
            retention_in_days=config.logs.retention_days,
        )
        self.log_group.apply_removal_policy(
            RemovalPolicy.RETAIN if config.logs.keep_on_delete else RemovalPolicy.DESTROY
        )
        self.role = self._execution_role(deployment)

        secret = config.model.hf_token_secret
        token = token_reference(secret) if secret is not None else None
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=deployment.image_uri,
                mode="SingleModel",
                environment=deployment.container_environment(token),
            ),
        )
        # The role's policy must exist before SageMaker checks that the role can pull the
        # image; the role itself is already a dependency through ExecutionRoleArn.
        self.model.node.add_dependency(self.role.node.find_child("DefaultPolicy"))

        endpoint_settings = config.endpoint
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    model_name=self.model.attr_model_name,
                    instance_type=endpoint_settings.instance_type,
                    initial_instance_count=endpoint_settings.initial_instance_count,
                    initial_variant_weight=1.0,
                    container_startup_health_check_timeout_in_seconds=(
                        deployment.startup_health_check_timeout_s
                    ),
                    model_data_download_timeout_in_seconds=deployment.model_download_timeout_s,
                    volume_size_in_gb=endpoint_settings.volume_size_gb,
                )
            ],
        )

        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=deployment.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            # An update with a new endpoint config keeps the instance count that autoscaling
            # set, instead of resetting it to the config's initial count.
            retain_all_variant_properties=True,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type=name)
                for name in ("DesiredWeight", "DataCaptureConfig")
            ],
        )
        self.endpoint.node.add_dependency(self.log_group)

    @property
    def endpoint_name(self) -> str:
        return self.endpoint.attr_endpoint_name

    def _execution_role(self, deployment: Deployment) -> iam.Role:
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs the TGI container of SageMaker endpoint {deployment.endpoint_name}",
            max_session_duration=Duration.hours(1),
        )
        image = parse_ecr_image(deployment.image_uri)
        assert image is not None, "validation accepts only ECR image URIs"
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PullTgiImage",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                resources=[image.repository_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="GetEcrToken",
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteEndpointLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[self.log_group.attr_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PutEndpointMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": ENDPOINT_METRICS_NAMESPACE}},
            )
        )
        return role
