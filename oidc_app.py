#!/usr/bin/env python3
"""CDK app of the GitHub OIDC stack, apart from the stage stacks of app.py.

``make oidc-deploy REPO=OWNER/NAME`` runs it as
``npx cdk --app '.venv/bin/python oidc_app.py' -c github_repository=OWNER/NAME deploy``.
Context values:

- ``github_repository`` (required): the repository whose workflows may deploy;
- ``github_oidc_provider_arn``: the ARN of an existing provider for GitHub's issuer, which
  is imported instead of created;
- ``bootstrap_qualifier``: the qualifier given to ``cdk bootstrap``, ``hnb659fds`` unless
  set.

Each shipped stage gets a deploy role for the region of its profile.
"""

from __future__ import annotations

import os
import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from deploy_config import ConfigError, load_config, shipped_stages
from infra.github_oidc import DEFAULT_BOOTSTRAP_QUALIFIER, GitHubOidcStack

STACK_NAME = "GitHubOidc"
EXIT_INVALID = 2


def main() -> None:
    app = cdk.App()
    repository = app.node.try_get_context("github_repository")
    if not repository:
        print(
            "error: github_repository: missing; pass -c github_repository=OWNER/NAME "
            "(make oidc-deploy REPO=OWNER/NAME)",
            file=sys.stderr,
        )
        sys.exit(EXIT_INVALID)
    try:
        configs = {stage: load_config(stage=stage) for stage in shipped_stages()}
        stage_regions = {stage: config.region for stage, config in configs.items()}
        stage_endpoints = {
            stage: config.endpoint.name or f"llm-endpoint-{stage}"
            for stage, config in configs.items()
        }
        GitHubOidcStack(
            app,
            STACK_NAME,
            repository=str(repository),
            stage_regions=stage_regions,
            stage_endpoints=stage_endpoints,
            existing_provider_arn=app.node.try_get_context("github_oidc_provider_arn"),
            bootstrap_qualifier=str(
                app.node.try_get_context("bootstrap_qualifier") or DEFAULT_BOOTSTRAP_QUALIFIER
            ),
            env=cdk.Environment(
                account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
                region=os.environ.get("CDK_DEFAULT_REGION"),
            ),
        )
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        sys.exit(EXIT_INVALID)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_INVALID)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


if __name__ == "__main__":
    main()
