"""The GitHub OIDC stack: template assertions, cfn-lint and cdk-nag through the CDK CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from infra.github_oidc import GitHubOidcStack
from rehearsal.cdk_env import offline_cdk_environment
from tests.infra.test_synthesized_stages import CFN_LINT, PROJECT_DIR

REPOSITORY = "octo-org/sagemaker-llm-endpoint"
STAGE_REGIONS = {"dev": "eu-west-1", "prod": "eu-west-1"}
EXISTING_PROVIDER_ARN = (
    "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
)


def oidc_template(**overrides: object) -> Template:
    app = cdk.App()
    arguments: dict[str, object] = {"repository": REPOSITORY, "stage_regions": STAGE_REGIONS}
    arguments.update(overrides)
    stack = GitHubOidcStack(
        app,
        "GitHubOidc",
        env=cdk.Environment(account="123456789012", region="eu-west-1"),
        **arguments,  # type: ignore[arg-type]
    )
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def template() -> Template:
    return oidc_template()


def role_id_for_stage(template: Template, stage: str) -> str:
    """Return the logical id of the role whose trust policy names the stage's environment."""
    subject = f"repo:{REPOSITORY}:environment:{stage}"
    roles = template.find_resources(
        "AWS::IAM::Role",
        {
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        Match.object_like(
                            {
                                "Condition": {
                                    "StringEquals": Match.object_like(
                                        {"token.actions.githubusercontent.com:sub": subject}
                                    )
                                }
                            }
                        )
                    ]
                }
            }
        },
    )
    assert len(roles) == 1, f"expected one role trusting {subject}, found {len(roles)}"
    return next(iter(roles))


def test_resource_counts(template: Template) -> None:
    template.resource_count_is("AWS::IAM::OIDCProvider", 1)
    template.resource_count_is("AWS::IAM::Role", 2)
    template.resource_count_is("AWS::IAM::Policy", 2)
    # The native provider needs no Lambda-backed custom resource.
    template.resource_count_is("AWS::Lambda::Function", 0)


def test_provider_for_github_issuer(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::OIDCProvider",
        {
            "Url": "https://token.actions.githubusercontent.com",
            "ClientIdList": ["sts.amazonaws.com"],
            "ThumbprintList": Match.absent(),
        },
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_role_trusts_only_stage_environment(template: Template, stage: str) -> None:
    provider_id = next(iter(template.find_resources("AWS::IAM::OIDCProvider")))

    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Effect": "Allow",
                        "Principal": {"Federated": {"Ref": provider_id}},
                        "Condition": {
                            "StringEquals": {
                                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                "token.actions.githubusercontent.com:sub": (
                                    f"repo:{REPOSITORY}:environment:{stage}"
                                ),
                            }
                        },
                    }
                ],
            },
            "MaxSessionDuration": 3600,
            "ManagedPolicyArns": Match.absent(),
        },
    )


def test_trust_conditions_have_no_wildcard(template: Template) -> None:
    trust_policies = [
        role["Properties"]["AssumeRolePolicyDocument"]
        for role in template.find_resources("AWS::IAM::Role").values()
    ]

    assert "*" not in json.dumps(trust_policies)
    assert "StringLike" not in json.dumps(trust_policies)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_role_assumes_only_bootstrap_roles(template: Template, stage: str) -> None:
    role_id = role_id_for_stage(template, stage)
    expected_resources = [
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":iam::",
                    {"Ref": "AWS::AccountId"},
                    f":role/cdk-hnb659fds-{kind}-role-",
                    {"Ref": "AWS::AccountId"},
                    "-eu-west-1",
                ],
            ]
        }
        for kind in ("deploy", "file-publishing", "image-publishing", "lookup")
    ]

    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": ["sts:AssumeRole", "sts:TagSession"],
                            "Effect": "Allow",
                            "Resource": expected_resources,
                        }
                    ]
                )
            },
        },
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_role_invokes_only_its_endpoint(template: Template, stage: str) -> None:
    role_id = role_id_for_stage(template, stage)

    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Sid": "EvaluateStageEndpoint",
                            "Action": "sagemaker:InvokeEndpoint",
                            "Effect": "Allow",
                            "Resource": {
                                "Fn::Join": [
                                    "",
                                    [
                                        "arn:",
                                        {"Ref": "AWS::Partition"},
                                        ":sagemaker:eu-west-1:",
                                        {"Ref": "AWS::AccountId"},
                                        f":endpoint/llm-endpoint-{stage}",
                                    ],
                                ]
                            },
                        }
                    ]
                )
            },
        },
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_teardown_reads_are_read_only(template: Template, stage: str) -> None:
    role_id = role_id_for_stage(template, stage)

    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "ReadStackForTeardownCheck",
                                "Action": [
                                    "cloudformation:DescribeStacks",
                                    "cloudformation:ListStackResources",
                                    "sagemaker:DescribeEndpoint",
                                    "sagemaker:DescribeEndpointConfig",
                                    "sagemaker:DescribeModel",
                                    "iam:GetRole",
                                    "logs:DescribeLogGroups",
                                ],
                            }
                        )
                    ]
                )
            },
        },
    )


def test_stage_region_and_qualifier_in_role_arns() -> None:
    template = oidc_template(stage_regions={"dev": "us-east-1"}, bootstrap_qualifier="team42xyz")

    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Resource": Match.array_with(
                                    [
                                        {
                                            "Fn::Join": [
                                                "",
                                                Match.array_with(
                                                    [
                                                        ":role/cdk-team42xyz-lookup-role-",
                                                        "-us-east-1",
                                                    ]
                                                ),
                                            ]
                                        }
                                    ]
                                )
                            }
                        )
                    ]
                )
            }
        },
    )


def test_existing_provider_is_imported() -> None:
    template = oidc_template(existing_provider_arn=EXISTING_PROVIDER_ARN)

    template.resource_count_is("AWS::IAM::OIDCProvider", 0)
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like({"Principal": {"Federated": EXISTING_PROVIDER_ARN}})
                ]
            }
        },
    )


def test_outputs_name_each_stage_role(template: Template) -> None:
    for stage in ("dev", "prod"):
        role_id = role_id_for_stage(template, stage)
        outputs = template.find_outputs("*", {"Value": {"Fn::GetAtt": [role_id, "Arn"]}})
        assert len(outputs) == 1, f"expected one output with the {stage} role's ARN"


@pytest.mark.parametrize("repository", ["octo-org", "octo-org/name/extra", "octo org/name", ""])
def test_invalid_repository_rejected(repository: str) -> None:
    with pytest.raises(ValueError, match="expected OWNER/NAME"):
        oidc_template(repository=repository)


def oidc_cli_synth(out_dir: Path, *context: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "npx",
            "--no-install",
            "cdk",
            "--app",
            ".venv/bin/python oidc_app.py",
            "synth",
            "--no-notices",
            "-q",
            "-o",
            str(out_dir),
            *context,
        ],
        cwd=PROJECT_DIR,
        env=offline_cdk_environment(out_dir.parent / "cdk-home"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthesize oidc_app.py with the CLI, cdk-nag included, and return its template."""
    out_dir = tmp_path_factory.mktemp("cdk-oidc") / "cdk.out"
    result = oidc_cli_synth(out_dir, "-c", f"github_repository={REPOSITORY}")
    assert result.returncode == 0, result.stderr
    return out_dir / "GitHubOidc.template.json"


def test_cli_template_cfn_lint_clean(cli_template: Path) -> None:
    result = subprocess.run(
        [CFN_LINT, "--format", "parseable", str(cli_template)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.stdout == ""
    assert result.returncode == 0


def test_cli_cdk_nag_report_has_no_violation(cli_template: Path) -> None:
    report = json.loads((cli_template.parent / "validation-report.json").read_text())

    violations = [
        violation
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
    ]
    assert violations == []


def test_cli_has_a_role_per_shipped_stage(cli_template: Path) -> None:
    template = Template.from_json(json.loads(cli_template.read_text()))

    for stage in ("dev", "prod"):
        assert role_id_for_stage(template, stage)


def test_cli_without_repository_fails(tmp_path: Path) -> None:
    result = oidc_cli_synth(tmp_path / "cdk.out")

    assert result.returncode != 0
    assert "error: github_repository: missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_cdk_nag_flags_wildcard_on_deploy_role() -> None:
    """A deploy role that could assume any role is an AwsSolutions-IAM5 finding."""
    app = cdk.App()
    stack = GitHubOidcStack(
        app,
        "GitHubOidc",
        repository=REPOSITORY,
        stage_regions=STAGE_REGIONS,
        env=cdk.Environment(account="123456789012", region="eu-west-1"),
    )
    stack.deploy_roles["dev"].add_to_policy(
        iam.PolicyStatement(actions=["sts:AssumeRole"], resources=["*"])
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))

    with pytest.raises(RuntimeError, match=r"AwsSolutions-IAM5\[Resource::\*\]"):
        app.synth()
