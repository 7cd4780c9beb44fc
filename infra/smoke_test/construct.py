"""The smoke-test Lambdas: a deploy-time check that can roll a deploy back, and a canary."""

from __future__ import annotations

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack, triggers
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from deploy_config import Deployment
from infra.llm_endpoint import LlmEndpoint
from infra.smoke_test.environment import (
    METRICS_NAMESPACE,
    RUNTIME_DIR,
    handler_environment,
    lambda_timeout_s,
)

# The handlers use only the standard library and the runtime's boto3. The tests run them
# on the project's Python 3.11, not on this runtime.
HANDLER_RUNTIME = lambda_.Runtime.PYTHON_3_13
# Time for the trigger provider to get the handler's response after its timeout.
TRIGGER_MARGIN_S = 30
# The id under which aws-cdk-lib 2.275 puts the one trigger provider of a stack.
TRIGGER_PROVIDER_ID = "AWSCDK.TriggerCustomResourceProviderCustomResourceProvider"
# Consecutive failed canary periods before the alarm fires: one failure can be a
# transient error that a retry did not cover, two in a row are not.
ALARM_PERIODS = 2


class SmokeTests(Construct):
    """The deploy check behind a CDK trigger, and the scheduled canary with its alarm.

    The deploy-check function always exists. Which other parts exist follows
    ``smoke_test`` in the config: ``deploy_check`` adds the trigger that runs the function
    during a deploy, and ``canary`` adds the scheduled function, its alarm and the alarm
    topic.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
        llm_endpoint: LlmEndpoint,
    ) -> None:
        super().__init__(scope, construct_id)
        self.deployment = deployment
        self.llm_endpoint = llm_endpoint
        self.environment = handler_environment(deployment, llm_endpoint.endpoint_name)
        settings = deployment.config.smoke_test

        # The function exists with or without the trigger, so that the checks can also be
        # run on demand with `aws lambda invoke`.
        self.deploy_check = self._function(
            "DeployCheck",
            "deploy_check.handler",
            f"Runs the deploy-time smoke checks of SageMaker endpoint {deployment.endpoint_name}",
        )
        self.trigger: triggers.Trigger | None = None
        if settings.deploy_check:
            self.trigger = self._trigger(self.deploy_check)

        self.canary: lambda_.Function | None = None
        self.alarm: cloudwatch.Alarm | None = None
        self.topic: sns.Topic | None = None
        if settings.canary:
            self.canary = self._function(
                "Canary",
                "canary.handler",
                f"Runs the scheduled smoke checks of SageMaker endpoint {deployment.endpoint_name}",
            )
            self.canary.add_to_role_policy(
                iam.PolicyStatement(
                    sid="PutSmokeTestMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
                )
            )
            self._schedule(self.canary, settings.canary_rate_minutes)
            self.topic = self._alarm_topic(settings.alarm_email)
            self.alarm = self._alarm(settings.canary_rate_minutes, self.topic)

    @property
    def functions(self) -> list[lambda_.Function]:
        return [self.deploy_check] + ([self.canary] if self.canary is not None else [])

    def _function(self, name: str, handler: str, description: str) -> lambda_.Function:
        config = self.deployment.config
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            removal_policy=(
                RemovalPolicy.RETAIN if config.logs.keep_on_delete else RemovalPolicy.DESTROY
            ),
        )
        # The L2 construct takes a RetentionDays name, but the config contains the number
        # of days that CloudWatch accepts, so the number goes on the L1 resource.
        cfn_log_group = log_group.node.default_child
        assert isinstance(cfn_log_group, logs.CfnLogGroup)
        cfn_log_group.retention_in_days = config.logs.retention_days

        # A role without the managed basic-execution policy, which allows writing to any
        # log group of the account.
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
            max_session_duration=Duration.hours(1),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeThisEndpoint",
                actions=["sagemaker:InvokeEndpoint"],
                resources=[self.llm_endpoint.endpoint.ref],
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
            self,
            name,
            runtime=HANDLER_RUNTIME,
            handler=handler,
            # Bytecode that a local test run leaves in the directory would change the
            # asset's hash, and with it the function, on every synth.
            code=lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=["__pycache__", "*.pyc"]),
            role=role,
            description=description,
            environment=self.environment,
            timeout=Duration.seconds(lambda_timeout_s()),
            memory_size=256,
            log_group=log_group,
        )
        suppress_redundant_depends_on(function.node.default_child)
        return function

    def _trigger(self, function: lambda_.Function) -> triggers.Trigger:
        trigger = triggers.Trigger(
            self,
            "DeployCheckTrigger",
            handler=function,
            invocation_type=triggers.InvocationType.REQUEST_RESPONSE,
            timeout=Duration.seconds(lambda_timeout_s() + TRIGGER_MARGIN_S),
            # CloudFormation creates and updates AWS::SageMaker::Endpoint only once it is
            # InService, so the checks run against an endpoint that can serve.
            execute_after=[self.llm_endpoint.endpoint],
        )
        # The trigger runs again when its properties change. Without this property it would
        # run only when the function changes, and a deploy of a new model or TGI version,
        # which creates a new endpoint config, would go unchecked.
        provider = Stack.of(self).node.try_find_child(TRIGGER_PROVIDER_ID)
        if provider is not None:
            suppress_redundant_depends_on(provider.node.try_find_child("Handler"))
        resource = trigger.node.find_child("Default").node.default_child
        assert isinstance(resource, CfnResource)
        resource.add_property_override(
            "EndpointConfigName", self.llm_endpoint.endpoint_config.attr_endpoint_config_name
        )
        return trigger

    def _schedule(self, function: lambda_.Function, rate_minutes: int) -> None:
        events.Rule(
            self,
            "CanarySchedule",
            description=f"Runs the smoke-test canary of {self.deployment.endpoint_name}",
            schedule=events.Schedule.rate(Duration.minutes(rate_minutes)),
            # A failed run is reported through the metrics, not retried: the next run
            # comes at the next rate interval.
            targets=[targets.LambdaFunction(function, retry_attempts=0)],
        )

    def _alarm_topic(self, email: str | None) -> sns.Topic:
        # CloudWatch can publish to an encrypted topic only when the key policy lets it use
        # the key, which an AWS managed key (alias/aws/sns) does not allow.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts the smoke-test alarm topic of {self.deployment.endpoint_name}",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
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
            self,
            "AlarmTopic",
            display_name=f"Smoke-test alarms of {self.deployment.endpoint_name}",
            master_key=key,
            enforce_ssl=True,
        )
        if email is not None:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic

    def _alarm(self, rate_minutes: int, topic: sns.Topic) -> cloudwatch.Alarm:
        success = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name="Success",
            dimensions_map={"EndpointName": self.llm_endpoint.endpoint_name},
            statistic=cloudwatch.Stats.MINIMUM,
            period=Duration.minutes(rate_minutes),
        )
        alarm = success.create_alarm(
            self,
            "CanaryAlarm",
            alarm_description=(
                f"The smoke-test canary of SageMaker endpoint {self.deployment.endpoint_name} "
                f"failed or did not report in {ALARM_PERIODS} consecutive periods of "
                f"{rate_minutes} minutes"
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=ALARM_PERIODS,
            datapoints_to_alarm=ALARM_PERIODS,
            # A canary that stops reporting (schedule disabled, function failing before it
            # publishes, metrics denied) leaves the endpoint unwatched, which should alarm
            # like a failed check.
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        alarm.add_ok_action(cloudwatch_actions.SnsAction(topic))
        return alarm


def suppress_redundant_depends_on(resource: object) -> None:
    """Tell cfn-lint to accept a function's DependsOn on the role its Role property names.

    aws-cdk-lib writes that DependsOn for every Lambda function, next to the reference, and
    cfn-lint reports the pair as W3005. The dependency is redundant, not wrong.
    """
    if isinstance(resource, CfnResource):
        resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
