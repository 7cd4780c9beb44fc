"""Target tracking on the endpoint variant's invocations per instance."""

from __future__ import annotations

from aws_cdk import aws_applicationautoscaling as appscaling
from constructs import Construct

from deploy_config import Deployment
from deploy_config.plan import VARIANT_NAME


class EndpointAutoscaling(Construct):
    """Scalable target and target-tracking policy for one endpoint variant.

    The resource id is built from the endpoint's name attribute, so CloudFormation creates
    the target after the endpoint and deregisters it before deleting the endpoint.
    The L1 resources leave out ``RoleARN``, so Application Auto Scaling uses its
    service-linked role for SageMaker; the L2 construct would create an extra role.

    NOTE: SageMaker rejects an endpoint update that changes the instance type of a variant
    registered with Application Auto Scaling. Changing ``endpoint.instance_type`` of a
    deployed stage therefore takes two deploys: one with ``autoscaling.enabled: false``
    and the new instance type, then one that turns autoscaling back on.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        endpoint_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = deployment.config.autoscaling
        self.scalable_target = appscaling.CfnScalableTarget(
            self,
            "ScalableTarget",
            service_namespace="sagemaker",
            resource_id=f"endpoint/{endpoint_name}/variant/{VARIANT_NAME}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=settings.min_capacity,
            max_capacity=settings.max_capacity,
        )
        # SageMakerVariantInvocationsPerInstance is the per-minute invocation count that
        # real-time endpoints publish; backlog metrics exist only for asynchronous endpoints.
        self.scaling_policy = appscaling.CfnScalingPolicy(
            self,
            "InvocationsPerInstance",
            policy_name=f"{deployment.endpoint_name}-invocations-per-instance",
            policy_type="TargetTrackingScaling",
            scaling_target_id=self.scalable_target.ref,
            target_tracking_scaling_policy_configuration=(
                appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                    target_value=deployment.target_invocations_per_instance,
                    predefined_metric_specification=(
                        appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                            predefined_metric_type="SageMakerVariantInvocationsPerInstance",
                        )
                    ),
                    scale_in_cooldown=deployment.scale_in_cooldown_s,
                    scale_out_cooldown=deployment.scale_out_cooldown_s,
                )
            ),
        )
