"""Deploy and destroy one stage with the real CDK CLI against a local moto server.

What moto cannot show, and where this rehearsal stands in for it:

- moto's own list of endpoint instance types predates the g5 family, so the server runs
  with botocore's instance-type enum instead (see ``rehearsal.moto_server``);
- moto's CloudFormation skips Application Auto Scaling resources, so nothing is registered
  here; template tests cover the scalable target and the scaling policy;
- moto does not resolve ``{{resolve:secretsmanager:...}}`` references, so the model's
  ``HF_TOKEN`` stays the reference string, which also shows the token never left the secret.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from deploy_config import Deployment, load_config, plan_deployment
from deploy_config.plan import token_reference
from rehearsal.local_aws import ACCOUNT, LocalAws
from rehearsal.runtime import LocalRuntime
from rehearsal.smoke import SmokeCheckError, run_smoke_checks
from rehearsal.summarize import SummaryFailedError, summarize_sample

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORK_DIR = PROJECT_DIR / ".rehearsal"
# A fake token for the local secret; a test checks it never reaches cdk.out.
FAKE_TOKEN = "hf_" + "rehearsal" * 4
CDK_TIMEOUT_S = 600

# The resource types whose leftovers the teardown check looks for.
CHECKED_TYPES = (
    "AWS::SageMaker::Model",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::Endpoint",
    "AWS::IAM::Role",
    "AWS::Logs::LogGroup",
)


# The error codes with which SageMaker describe calls and IAM GetRole report a missing resource.
NOT_FOUND_CODES = frozenset({"ValidationException", "NoSuchEntity"})


class AwsClients(Protocol):
    """Anything that makes boto3 clients: a ``boto3.Session`` or a ``LocalAws``."""

    # `Any` rather than `str`, because boto3-stubs types Session.client with one overload per
    # service name literal, and no overload accepts a plain str.
    def client(self, service: Any, /) -> Any: ...


class RehearsalError(Exception):
    """Raised when a step of the rehearsal finds the stack in the wrong state."""


@dataclass
class Rehearsal:
    """One deploy-check-destroy run; ``say`` prints progress."""

    stage: str = "dev"
    say: Callable[[str], None] = print
    outputs: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    # Where the moto log, cdk.out and the stack outputs go; tests give each run its own.
    work_dir: Path = WORK_DIR

    def run(self) -> None:
        deployment = plan_deployment(load_config(stage=self.stage))
        with LocalAws(deployment.config.region, self.work_dir) as aws:
            self.say(f"moto server listening on {aws.endpoint_url}")
            resources = self.deploy(aws, deployment)
            self.check_deployed(aws, deployment)
            for name, value in sorted(self.outputs.items()):
                self.say(f"output {name} = {value}")
            self.say(
                "autoscaling: moto skips Application Auto Scaling resources; the "
                "template tests cover the scalable target and policy"
            )
            with LocalRuntime(moto_endpoint_url=aws.endpoint_url) as runtime:
                self.say(
                    f"local SageMaker runtime on {runtime.endpoint_url}, answering only for "
                    "endpoints that exist in moto"
                )
                run_smoke_checks(
                    deployment.endpoint_name,
                    runtime.endpoint_url,
                    self.say,
                    stage=self.stage,
                    metrics_endpoint_url=aws.endpoint_url,
                )
                self.summary = summarize_sample(
                    aws, deployment, runtime.endpoint_url, self.work_dir, self.say
                )
            self.destroy(aws, deployment, resources)

    def deploy(self, aws: LocalAws, deployment: Deployment) -> list[dict[str, Any]]:
        """Bootstrap and deploy the stage; return the stack's resources that destroy must remove."""
        self._create_token_secret(aws, deployment)
        self._cdk(aws, "bootstrap", f"aws://{ACCOUNT}/{deployment.config.region}")
        self._cdk(
            aws,
            "deploy",
            "--require-approval",
            "never",
            "--outputs-file",
            str(aws.work_dir / "outputs.json"),
        )
        self.outputs = self._read_outputs(deployment)
        return stack_resources(aws, deployment.stack_name)

    def destroy(
        self, aws: LocalAws, deployment: Deployment, resources: list[dict[str, Any]]
    ) -> None:
        """Destroy the stack and check that none of its resources remains."""
        self._cdk(aws, "destroy", "--force")
        leftovers = find_leftovers(aws, resources, retained_types(deployment))
        if leftovers:
            raise RehearsalError(f"resources left after destroy: {', '.join(leftovers)}")
        self.say(
            "destroy removed every model, endpoint config, endpoint, role and "
            f"log group of {deployment.stack_name}"
        )

    def check_deployed(self, aws: LocalAws, deployment: Deployment) -> None:
        """Check with boto3 that the endpoint, its config and its model are as planned."""
        sagemaker = aws.client("sagemaker")
        endpoint = sagemaker.describe_endpoint(EndpointName=deployment.endpoint_name)
        if endpoint["EndpointStatus"] != "InService":
            raise RehearsalError(
                f"endpoint {deployment.endpoint_name} is "
                f"{endpoint['EndpointStatus']}, not InService"
            )
        endpoint_config = sagemaker.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"]
        )
        variant = endpoint_config["ProductionVariants"][0]
        if variant["InstanceType"] != deployment.config.endpoint.instance_type:
            raise RehearsalError(
                f"endpoint config has instance type {variant['InstanceType']}"
                f", expected {deployment.config.endpoint.instance_type}"
            )
        model = sagemaker.describe_model(ModelName=variant["ModelName"])
        environment = model["PrimaryContainer"]["Environment"]
        secret = deployment.config.model.hf_token_secret
        expected = deployment.container_environment(
            token_reference(secret) if secret is not None else None
        )
        if environment != expected:
            raise RehearsalError(f"model environment {environment} differs from {expected}")
        if FAKE_TOKEN in json.dumps(model, default=str):
            raise RehearsalError("the model's description contains the token value")
        self.say(
            f"endpoint {deployment.endpoint_name} is InService on "
            f"{variant['InstanceType']} with model {variant['ModelName']}"
        )
        self.say(
            "container environment matches the config: "
            + ", ".join(
                f"{name}={value}" for name, value in sorted(expected.items()) if name != "HF_TOKEN"
            )
        )
        if "HF_TOKEN" in environment:
            self.say(
                "HF_TOKEN is a Secrets Manager reference; moto does not resolve those, "
                "CloudFormation does"
            )

    def _create_token_secret(self, aws: LocalAws, deployment: Deployment) -> None:
        secret = deployment.config.model.hf_token_secret
        if secret is not None:
            aws.client("secretsmanager").create_secret(Name=secret, SecretString=FAKE_TOKEN)
            self.say(f"created local secret {secret} with a fake token")

    def _cdk(self, aws: LocalAws, command: str, *arguments: str) -> None:
        self.say(f"npx cdk {command} (stage {self.stage})")
        environment = aws.environment()
        result = subprocess.run(
            [
                "npx",
                "--no-install",
                "cdk",
                command,
                "--no-notices",
                "-c",
                f"stage={self.stage}",
                "-o",
                str(aws.work_dir / "cdk.out"),
                *arguments,
            ],
            cwd=PROJECT_DIR,
            env=environment,
            capture_output=True,
            text=True,
            timeout=CDK_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            raise RehearsalError(
                f"npx cdk {command} failed with exit code {result.returncode}:\n"
                f"{result.stderr[-4000:]}"
            )

    def _read_outputs(self, deployment: Deployment) -> dict[str, str]:
        outputs: dict[str, dict[str, str]] = json.loads(
            (self.work_dir / "outputs.json").read_text(encoding="utf-8")
        )
        return outputs[deployment.stack_name]


def retained_types(deployment: Deployment) -> frozenset[str]:
    """Return the resource types a destroy of this stage keeps on purpose."""
    if deployment.config.logs.keep_on_delete:
        return frozenset({"AWS::Logs::LogGroup"})
    return frozenset()


def stack_resources(aws: AwsClients, stack_name: str) -> list[dict[str, Any]]:
    """List the stack's resources of the types the teardown check looks for."""
    paginator = aws.client("cloudformation").get_paginator("list_stack_resources")
    return [
        summary
        for page in paginator.paginate(StackName=stack_name)
        for summary in page["StackResourceSummaries"]
        if summary["ResourceType"] in CHECKED_TYPES
    ]


def find_leftovers(
    aws: AwsClients, resources: list[dict[str, Any]], kept_types: frozenset[str] = frozenset()
) -> list[str]:
    """Return 'type id' for each former resource of the stack that still exists.

    ``kept_types`` are resource types the stack retains on purpose, such as the log group
    of a stage that keeps its logs after a delete. Each resource is looked up by name,
    because list calls return one page only (10 SageMaker models, 100 IAM roles) and an
    account with more would hide a leftover.
    """
    sagemaker = aws.client("sagemaker")
    iam = aws.client("iam")
    logs = aws.client("logs")
    exists: dict[str, Callable[[str], bool]] = {
        "AWS::SageMaker::Model": lambda name: _found(sagemaker.describe_model, ModelName=name),
        "AWS::SageMaker::EndpointConfig": lambda name: _found(
            sagemaker.describe_endpoint_config, EndpointConfigName=name
        ),
        "AWS::SageMaker::Endpoint": lambda name: _found(
            sagemaker.describe_endpoint, EndpointName=name
        ),
        "AWS::IAM::Role": lambda name: _found(iam.get_role, RoleName=name),
        "AWS::Logs::LogGroup": lambda name: any(
            item["logGroupName"] == name
            for item in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        ),
    }
    return [
        f"{resource['ResourceType']} {resource['PhysicalResourceId']}"
        for resource in resources
        if resource["ResourceType"] not in kept_types
        and exists[resource["ResourceType"]](_name_of(resource["PhysicalResourceId"]))
    ]


def _found(describe: Callable[..., Any], **name: str) -> bool:
    """Call a describe or get operation and return False when it reports the resource missing."""
    try:
        describe(**name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
            return False
        raise
    return True


def _name_of(physical_id: str) -> str:
    """Return the name in a SageMaker ARN ('arn:...:model/NAME'), or the id itself."""
    return physical_id.rsplit("/", 1)[-1] if physical_id.startswith("arn:") else physical_id


def main() -> int:
    os.chdir(PROJECT_DIR)
    try:
        Rehearsal().run()
    except (RehearsalError, SmokeCheckError, SummaryFailedError) as error:
        print(f"rehearsal failed: {error}", file=sys.stderr)
        return 1
    print("rehearsal passed")
    return 0
