"""The teardown check's record and check steps against moto's in-process AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from deploy_config import load_config, plan_deployment
from rehearsal import teardown_check

REGION = "eu-west-1"
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
# A stack with one role and one log group is enough: the per-type lookups are the
# rehearsal's, which tests/integration covers with every resource type.
TEMPLATE = json.dumps(
    {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": json.loads(TRUST_POLICY)},
            },
            "Logs": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "/aws/sagemaker/Endpoints/llm-endpoint-STAGE"},
            },
        }
    }
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def create_stack(session: boto3.Session, stage: str) -> None:
    session.client("cloudformation").create_stack(
        StackName=f"LlmEndpoint-{stage}", TemplateBody=TEMPLATE.replace("STAGE", stage)
    )


def run(session: boto3.Session, *arguments: str) -> int:
    return teardown_check.main(list(arguments), make_session=lambda region: session)


def test_record_lists_stack_resources(aws: boto3.Session, tmp_path: Path) -> None:
    create_stack(aws, "dev")
    record = tmp_path / "record.json"

    assert run(aws, "--stage", "dev", "--record", str(record)) == 0

    recorded: dict[str, Any] = json.loads(record.read_text())
    assert recorded["stack"] == "LlmEndpoint-dev"
    assert sorted(item["ResourceType"] for item in recorded["resources"]) == [
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
    ]


def test_check_passes_after_delete(aws: boto3.Session, tmp_path: Path) -> None:
    create_stack(aws, "dev")
    record = tmp_path / "record.json"
    run(aws, "--stage", "dev", "--record", str(record))
    aws.client("cloudformation").delete_stack(StackName="LlmEndpoint-dev")

    assert run(aws, "--stage", "dev", "--check", str(record), "--wait", "0") == 0


def test_check_lists_leftovers(
    aws: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create_stack(aws, "dev")
    record = tmp_path / "record.json"
    run(aws, "--stage", "dev", "--record", str(record))

    status = run(aws, "--stage", "dev", "--check", str(record), "--wait", "0")

    assert status == teardown_check.EXIT_LEFTOVERS
    errors = capsys.readouterr().err
    assert "AWS::IAM::Role" in errors
    assert "AWS::Logs::LogGroup /aws/sagemaker/Endpoints/llm-endpoint-dev" in errors


def test_check_ignores_kept_prod_log_group(aws: boto3.Session, tmp_path: Path) -> None:
    """The prod profile keeps its log group after a delete, so it is no leftover."""
    create_stack(aws, "prod")
    record = tmp_path / "record.json"
    run(aws, "--stage", "prod", "--record", str(record))
    aws.client("cloudformation").delete_stack(StackName="LlmEndpoint-prod")
    # moto deletes the log group with the stack; recreate it as CloudFormation's Retain would.
    aws.client("logs").create_log_group(logGroupName="/aws/sagemaker/Endpoints/llm-endpoint-prod")

    assert run(aws, "--stage", "prod", "--check", str(record), "--wait", "0") == 0


def test_check_waits_before_failing(aws: boto3.Session, tmp_path: Path) -> None:
    create_stack(aws, "dev")
    record = tmp_path / "record.json"
    run(aws, "--stage", "dev", "--record", str(record))
    sleeps: list[float] = []

    def delete_while_waiting(seconds: float) -> None:
        sleeps.append(seconds)
        aws.client("cloudformation").delete_stack(StackName="LlmEndpoint-dev")

    deployment = plan_deployment(load_config(stage="dev"))
    status = teardown_check.check(aws, deployment, record, wait_s=60, sleep=delete_while_waiting)

    assert status == 0
    assert sleeps == [teardown_check.POLL_INTERVAL_S]


def test_record_of_missing_stack_is_empty(aws: boto3.Session, tmp_path: Path) -> None:
    record = tmp_path / "record.json"

    assert run(aws, "--stage", "dev", "--record", str(record)) == 0
    assert json.loads(record.read_text()) == {"stack": "LlmEndpoint-dev", "resources": []}


def test_check_rejects_other_stage_record(aws: boto3.Session, tmp_path: Path) -> None:
    record = tmp_path / "record.json"
    run(aws, "--stage", "dev", "--record", str(record))

    assert run(aws, "--stage", "prod", "--check", str(record)) == teardown_check.EXIT_INVALID


def test_check_without_record_fails(aws: boto3.Session, tmp_path: Path) -> None:
    status = run(aws, "--stage", "dev", "--check", str(tmp_path / "missing.json"))

    assert status == teardown_check.EXIT_INVALID


def test_unknown_stage_rejected(
    aws: boto3.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run(aws, "--stage", "staging", "--record", str(tmp_path / "record.json"))

    assert status == teardown_check.EXIT_INVALID
    assert "no profile for stage 'staging'" in capsys.readouterr().err
