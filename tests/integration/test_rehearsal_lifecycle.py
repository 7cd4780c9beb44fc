"""The rehearsal's deploy, check and destroy with the real CDK CLI against a local moto server."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy_config import load_config, plan_deployment
from rehearsal.lifecycle import (
    FAKE_TOKEN,
    Rehearsal,
    RehearsalError,
    find_leftovers,
)
from rehearsal.local_aws import LocalAws

pytestmark = pytest.mark.integration

# The endpoint's execution role and log group, and a role and a log group for each of the
# two smoke-test functions.
STACK_RESOURCE_TYPES = [
    *["AWS::IAM::Role"] * 3,
    *["AWS::Logs::LogGroup"] * 3,
    "AWS::SageMaker::Endpoint",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::Model",
]


def test_dev_stage_lifecycle(tmp_path: Path) -> None:
    messages: list[str] = []
    deployment = plan_deployment(load_config(stage="dev"))
    rehearsal = Rehearsal(stage="dev", say=messages.append, work_dir=tmp_path)

    with LocalAws(deployment.config.region, tmp_path) as aws:
        resources = rehearsal.deploy(aws, deployment)
        rehearsal.check_deployed(aws, deployment)
        # Before the destroy, the leftover check must see every resource it looks for.
        found_before = sorted(entry.split(" ")[0] for entry in find_leftovers(aws, resources))
        rehearsal.destroy(aws, deployment, resources)
        found_after = find_leftovers(aws, resources)

    assert sorted(resource["ResourceType"] for resource in resources) == STACK_RESOURCE_TYPES
    assert found_before == STACK_RESOURCE_TYPES
    assert found_after == []
    assert rehearsal.outputs["EndpointName"] == "llm-endpoint-dev"
    assert rehearsal.outputs["EndpointArn"].endswith(":endpoint/llm-endpoint-dev")
    assert rehearsal.outputs["ExecutionRoleArn"].startswith("arn:aws:iam::123456789012:role/")
    assert rehearsal.outputs["Region"] == "eu-west-1"
    assert any("is InService on ml.g5.2xlarge" in message for message in messages)


def test_whole_rehearsal_summarizes_and_leaks_no_token(tmp_path: Path) -> None:
    """The full run, as `make rehearse` does it, with a fake token in the local secret."""
    messages: list[str] = []
    rehearsal = Rehearsal(stage="dev", say=messages.append, work_dir=tmp_path)

    rehearsal.run()

    cloud_assembly = tmp_path / "cdk.out"
    assert rehearsal.summary["summary"].strip() != ""
    assert rehearsal.summary["endpoint"] == "llm-endpoint-dev"
    assert any(message.startswith("summary (") for message in messages)

    files = [path for path in Path(cloud_assembly).rglob("*") if path.is_file()]

    assert files, "the rehearsal wrote no cloud assembly"
    assert [str(path) for path in files if FAKE_TOKEN in path.read_text(errors="replace")] == []


def test_destroy_reports_leftover_resource(tmp_path: Path) -> None:
    deployment = plan_deployment(load_config(stage="dev"))
    rehearsal = Rehearsal(stage="dev", say=lambda message: None, work_dir=tmp_path)

    with LocalAws(deployment.config.region, tmp_path) as aws:
        resources = rehearsal.deploy(aws, deployment)
        # A role that CloudFormation no longer manages stands in for a failed delete.
        role = next(item for item in resources if item["ResourceType"] == "AWS::IAM::Role")
        aws.client("iam").create_role(
            RoleName="stray-role", AssumeRolePolicyDocument='{"Version": "2012-10-17"}'
        )
        stray = {**role, "PhysicalResourceId": "stray-role"}

        with pytest.raises(RehearsalError, match="AWS::IAM::Role stray-role"):
            rehearsal.destroy(aws, deployment, [*resources, stray])
