"""GitHub's OIDC identity provider and one deploy role per stage, deployed once per account.

GitHub Actions jobs exchange their OIDC token for a deploy role's credentials, so the
repository stores no AWS keys. A deploy role may assume the CDK bootstrap roles of its
stage's region, and CloudFormation, through the bootstrap deploy role, does the actual work.
Beyond that it may invoke its stage's endpoint, for the evaluation gate of the release
workflow, and read what the teardown check looks for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aws_cdk import Acknowledgment, Aws, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct

from deploy_config.plan import stack_name_for

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_ISSUER = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
# The qualifier `cdk bootstrap` uses unless it is given --qualifier.
DEFAULT_BOOTSTRAP_QUALIFIER = "hnb659fds"
# The roles the CDK CLI assumes for a deploy, a diff and context lookups.
BOOTSTRAP_ROLE_KINDS = ("deploy", "file-publishing", "image-publishing", "lookup")
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")


class GitHubOidcStack(Stack):
    """The OIDC provider (created or imported) and a deploy role for each stage.

    A role per stage, rather than one role with conditions, because each role trusts a
    different token subject, ``repo:OWNER/NAME:environment:STAGE``. A workflow job gets
    the prod role only while it runs in the ``prod`` environment, so it passed that
    environment's required reviewers. The roles' permissions are the same when the stages
    share an account and region, because both assume the same bootstrap roles: the
    separation between stages is in who may assume each role, not in what it may do.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository: str,
        stage_regions: Mapping[str, str],
        stage_endpoints: Mapping[str, str] | None = None,
        existing_provider_arn: str | None = None,
        bootstrap_qualifier: str = DEFAULT_BOOTSTRAP_QUALIFIER,
        **kwargs: Any,
    ) -> None:
        if not REPOSITORY_PATTERN.match(repository):
            raise ValueError(
                f"invalid GitHub repository {repository!r}: expected OWNER/NAME, "
                "such as octo-org/sagemaker-llm-endpoint"
            )
        if not stage_regions:
            raise ValueError("stage_regions is empty: name at least one stage and its region")
        super().__init__(
            scope,
            construct_id,
            description=f"GitHub Actions OIDC deploy roles for {repository}",
            **kwargs,
        )

        self.provider_arn = self._provider_arn(existing_provider_arn)
        self.deploy_roles: dict[str, iam.Role] = {}
        for stage, region in sorted(stage_regions.items()):
            role = self._deploy_role(stage, region, repository, bootstrap_qualifier)
            endpoint_name = (stage_endpoints or {}).get(stage, f"llm-endpoint-{stage}")
            self._allow_gate_and_teardown_check(role, stage, region, endpoint_name)
            self.deploy_roles[stage] = role
            CfnOutput(
                self,
                f"DeployRoleArn-{stage}",
                value=role.role_arn,
                description=(
                    f"Set as the variable AWS_DEPLOY_ROLE_ARN of the GitHub environment {stage}"
                ),
            )
        CfnOutput(self, "OidcProviderArn", value=self.provider_arn)

    def _provider_arn(self, existing_provider_arn: str | None) -> str:
        # IAM allows one provider per issuer URL in an account, so an account that already
        # has GitHub's provider must import it.
        if existing_provider_arn:
            return iam.OidcProviderNative.from_oidc_provider_arn(
                self, "GitHubProvider", existing_provider_arn
            ).oidc_provider_arn
        # The native AWS::IAM::OIDCProvider resource, not iam.OpenIdConnectProvider, which
        # adds a Lambda-backed custom resource to fetch the issuer's thumbprint.
        # NOTE: ThumbprintList is left out (optional in the resource schema cfn-lint 1.58
        # checks), so IAM must verify GitHub's issuer by its certificate authority.
        provider = iam.OidcProviderNative(
            self,
            "GitHubProvider",
            url=GITHUB_OIDC_URL,
            client_ids=[STS_AUDIENCE],
        )
        return provider.oidc_provider_arn

    def _deploy_role(
        self, stage: str, region: str, repository: str, bootstrap_qualifier: str
    ) -> iam.Role:
        role = iam.Role(
            self,
            f"DeployRole-{stage}",
            assumed_by=iam.WebIdentityPrincipal(
                self.provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_ISSUER}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_ISSUER}:sub": f"repo:{repository}:environment:{stage}",
                    }
                },
            ),
            description=(
                f"Deploys stage {stage} of {repository} from GitHub Actions through the "
                "CDK bootstrap roles"
            ),
            max_session_duration=Duration.hours(1),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                # The bootstrap roles' trust policies (bootstrap template of the CDK CLI
                # 2.1149.0) allow sts:TagSession next to sts:AssumeRole.
                actions=["sts:AssumeRole", "sts:TagSession"],
                resources=[
                    bootstrap_role_arn(kind, bootstrap_qualifier, region)
                    for kind in BOOTSTRAP_ROLE_KINDS
                ],
            )
        )
        return role

    def _allow_gate_and_teardown_check(
        self, role: iam.Role, stage: str, region: str, endpoint_name: str
    ) -> None:
        """Let the role call its stage's endpoint and read the stack's resources."""
        stack_name = stack_name_for(stage)
        arn_prefix = f"arn:{Aws.PARTITION}"
        sagemaker_prefix = f"{arn_prefix}:sagemaker:{region}:{Aws.ACCOUNT_ID}"
        endpoint_arn = f"{sagemaker_prefix}:endpoint/{endpoint_name}"
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EvaluateStageEndpoint",
                actions=["sagemaker:InvokeEndpoint"],
                resources=[endpoint_arn],
            )
        )
        # CloudFormation names the model, endpoint config and execution role after the
        # stack, and SageMaker ARNs carry names in lower case.
        generated_prefix = stack_name.lower()
        # Each pattern as (partition, account) lets the ARN be rendered for the policy and,
        # with cdk-nag's placeholders, for the finding it acknowledges.
        wildcard_patterns = [
            "arn:{partition}:cloudformation:" + region + ":{account}:stack/" + stack_name + "/*",
            "arn:{partition}:sagemaker:"
            + region
            + ":{account}:endpoint-config/"
            + generated_prefix
            + "-*",
            "arn:{partition}:sagemaker:" + region + ":{account}:model/" + generated_prefix + "-*",
            "arn:{partition}:iam::{account}:role/" + stack_name + "-*",
            "arn:{partition}:logs:" + region + ":{account}:log-group:*",
        ]
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadStackForTeardownCheck",
                actions=[
                    "cloudformation:DescribeStacks",
                    "cloudformation:ListStackResources",
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DescribeModel",
                    "iam:GetRole",
                    "logs:DescribeLogGroups",
                ],
                resources=[
                    endpoint_arn,
                    *(
                        pattern.format(partition=Aws.PARTITION, account=Aws.ACCOUNT_ID)
                        for pattern in wildcard_patterns
                    ),
                ],
            )
        )
        reason = (
            "The teardown check reads resources whose names CloudFormation generates from "
            "the stack name, so their ARNs end in a wildcard after that prefix; "
            "logs:DescribeLogGroups authorizes on the account's log-group ARN pattern"
        )
        Validations.of(role).acknowledge(
            *(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-IAM5[Resource::"
                    + pattern.format(partition="<AWS::Partition>", account="<AWS::AccountId>")
                    + "]",
                    reason=reason,
                )
                for pattern in wildcard_patterns
            )
        )


def bootstrap_role_arn(kind: str, qualifier: str, region: str) -> str:
    """Return the ARN that `cdk bootstrap` gives a bootstrap role in the stack's account."""
    return (
        f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/"
        f"cdk-{qualifier}-{kind}-role-{Aws.ACCOUNT_ID}-{region}"
    )
