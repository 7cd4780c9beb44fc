"""Template assertions for the smoke tests: trigger order, schedule, alarm, permissions, logs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.smoke_test.environment import lambda_timeout_s
from tests.infra.conftest import synth_template

ENDPOINT_REF = {"Ref": Match.string_like_regexp(r"^LlmEndpoint[0-9A-F]+$")}


@pytest.fixture(scope="module")
def dev_template() -> Template:
    return synth_template(stage="dev")


@pytest.fixture(scope="module")
def prod_template() -> Template:
    return synth_template(stage="prod")


def resources(template: Template, resource_type: str) -> dict[str, Any]:
    return dict(template.find_resources(resource_type))


def logical_id(template: Template, resource_type: str, prefix: str) -> str:
    [name] = [name for name in resources(template, resource_type) if name.startswith(prefix)]
    return name


def test_trigger_runs_after_endpoint(dev_template: Template) -> None:
    endpoint = logical_id(dev_template, "AWS::SageMaker::Endpoint", "LlmEndpoint")
    [trigger] = resources(dev_template, "Custom::Trigger").values()

    assert trigger["DependsOn"] == [endpoint]
    assert trigger["Properties"]["InvocationType"] == "RequestResponse"


def test_trigger_reruns_on_new_endpoint_config(dev_template: Template) -> None:
    config = logical_id(dev_template, "AWS::SageMaker::EndpointConfig", "LlmEndpoint")
    [trigger] = resources(dev_template, "Custom::Trigger").values()

    assert trigger["Properties"]["EndpointConfigName"] == {
        "Fn::GetAtt": [config, "EndpointConfigName"]
    }


def test_trigger_waits_longer_than_function(dev_template: Template) -> None:
    [trigger] = resources(dev_template, "Custom::Trigger").values()

    assert int(trigger["Properties"]["Timeout"]) > lambda_timeout_s() * 1000


def test_trigger_invokes_deploy_check(dev_template: Template) -> None:
    version = logical_id(dev_template, "AWS::Lambda::Version", "SmokeTestsDeployCheckCurrent")
    [trigger] = resources(dev_template, "Custom::Trigger").values()

    assert trigger["Properties"]["HandlerArn"] == {"Ref": version}


def test_functions_run_python_handlers(dev_template: Template) -> None:
    for handler in ("deploy_check.handler", "canary.handler"):
        dev_template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": handler,
                "Runtime": "python3.13",
                "Timeout": lambda_timeout_s(),
                "Environment": {
                    "Variables": {
                        "PROMPT_FAMILY": "mistral-instruct",
                        "USE_GRAMMAR": "true",
                        "ENDPOINT_NAME": {"Fn::GetAtt": [Match.any_value(), "EndpointName"]},
                    }
                },
            },
        )


def test_llama_stage_passes_its_prompt_family() -> None:
    template = synth_template(
        stage="dev",
        model={"id": "meta-llama/Llama-2-7b-chat-hf", "hf_token_secret": "hub-token"},
    )

    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": {"PROMPT_FAMILY": "llama2-chat"}}},
    )


def test_old_tgi_uses_prompt_only_json() -> None:
    template = synth_template(stage="dev", tgi={"version": "1.4.2"})

    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "canary.handler", "Environment": {"Variables": {"USE_GRAMMAR": "false"}}},
    )


def test_canary_schedule_from_config(dev_template: Template, prod_template: Template) -> None:
    dev_template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(15 minutes)",
            "Targets": [
                {
                    "Arn": {"Fn::GetAtt": [Match.string_like_regexp("^SmokeTestsCanary"), "Arn"]},
                    "RetryPolicy": {"MaximumRetryAttempts": 0},
                }
            ],
        },
    )
    prod_template.has_resource_properties(
        "AWS::Events::Rule", {"ScheduleExpression": "rate(5 minutes)"}
    )


def test_alarm_on_canary_success(dev_template: Template) -> None:
    topic = logical_id(dev_template, "AWS::SNS::Topic", "SmokeTestsAlarmTopic")

    dev_template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "LlmEndpoint/SmokeTest",
            "MetricName": "Success",
            "Dimensions": [
                {
                    "Name": "EndpointName",
                    "Value": {"Fn::GetAtt": [Match.any_value(), "EndpointName"]},
                }
            ],
            "Statistic": "Minimum",
            "Period": 900,
            "Threshold": 1,
            "ComparisonOperator": "LessThanThreshold",
            "EvaluationPeriods": 2,
            "DatapointsToAlarm": 2,
            "TreatMissingData": "breaching",
            "AlarmActions": [{"Ref": topic}],
        },
    )


def test_topic_encrypted_and_ssl_only(dev_template: Template) -> None:
    key = logical_id(dev_template, "AWS::KMS::Key", "SmokeTestsAlarmTopicKey")

    dev_template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}}
    )
    dev_template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": "sns:Publish",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ]
            }
        },
    )
    dev_template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            }
                        )
                    ]
                )
            },
        },
    )


def test_no_subscription_without_email(dev_template: Template) -> None:
    dev_template.resource_count_is("AWS::SNS::Subscription", 0)


def test_email_subscription_from_config() -> None:
    template = synth_template(stage="dev", smoke_test={"alarm_email": "oncall@example.com"})

    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


def test_deploy_check_role_invokes_endpoint_only(dev_template: Template) -> None:
    log_group = logical_id(dev_template, "AWS::Logs::LogGroup", "SmokeTestsDeployCheckLogs")
    role = logical_id(dev_template, "AWS::IAM::Role", "SmokeTestsDeployCheckRole")

    dev_template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Sid": "InvokeThisEndpoint",
                        "Effect": "Allow",
                        "Action": "sagemaker:InvokeEndpoint",
                        "Resource": ENDPOINT_REF,
                    },
                    {
                        "Sid": "WriteFunctionLogs",
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
                    },
                ]
            },
        },
    )


def test_canary_role_puts_metrics_in_namespace(dev_template: Template) -> None:
    role = logical_id(dev_template, "AWS::IAM::Role", "SmokeTestsCanaryRole")

    dev_template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role}],
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {"Action": "sagemaker:InvokeEndpoint", "Resource": ENDPOINT_REF}
                    ),
                    Match.object_like({"Sid": "WriteFunctionLogs"}),
                    {
                        "Sid": "PutSmokeTestMetrics",
                        "Effect": "Allow",
                        "Action": "cloudwatch:PutMetricData",
                        "Resource": "*",
                        "Condition": {
                            "StringEquals": {"cloudwatch:namespace": "LlmEndpoint/SmokeTest"}
                        },
                    },
                ]
            },
        },
    )


def test_function_roles_have_no_managed_policy(dev_template: Template) -> None:
    for prefix in ("SmokeTestsDeployCheckRole", "SmokeTestsCanaryRole"):
        role = resources(dev_template, "AWS::IAM::Role")[
            logical_id(dev_template, "AWS::IAM::Role", prefix)
        ]

        assert "ManagedPolicyArns" not in role["Properties"]


def test_functions_log_to_stack_log_groups(dev_template: Template) -> None:
    for name in ("DeployCheck", "Canary"):
        log_group = logical_id(dev_template, "AWS::Logs::LogGroup", f"SmokeTests{name}Logs")
        function = resources(dev_template, "AWS::Lambda::Function")[
            logical_id(dev_template, "AWS::Lambda::Function", f"SmokeTests{name}")
        ]

        assert function["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": log_group}}


def test_log_groups_follow_stage_settings(dev_template: Template, prod_template: Template) -> None:
    for template, retention, policy in (
        (dev_template, 14, "Delete"),
        (prod_template, 365, "Retain"),
    ):
        groups = [
            group
            for name, group in resources(template, "AWS::Logs::LogGroup").items()
            if name.startswith("SmokeTests")
        ]

        assert len(groups) == 2
        assert {group["Properties"]["RetentionInDays"] for group in groups} == {retention}
        assert {group["DeletionPolicy"] for group in groups} == {policy}


def test_deploy_check_off_keeps_function() -> None:
    template = synth_template(stage="dev", smoke_test={"deploy_check": False})

    template.resource_count_is("Custom::Trigger", 0)
    template.has_resource_properties("AWS::Lambda::Function", {"Handler": "deploy_check.handler"})


def test_canary_off_removes_schedule_and_alarm() -> None:
    template = synth_template(stage="dev", smoke_test={"canary": False})

    template.resource_count_is("AWS::Events::Rule", 0)
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.resource_count_is("AWS::SNS::Topic", 0)
    template.resource_count_is("AWS::KMS::Key", 0)
    assert not [
        name
        for name in resources(template, "AWS::Lambda::Function")
        if name.startswith("SmokeTestsCanary")
    ]
